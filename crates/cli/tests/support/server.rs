//! Helpers for tests of the app: start a real `x64wasm` process, talk HTTP to
//! it over real sockets, and run the browser scripts in `tests/browser/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running app process; killed when dropped.
pub struct App {
    child: Child,
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    /// host:port
    pub address: String,
    /// The access token in the URL the app printed, if it asks for one:
    /// [`App::request`] sends it (`Authorization: Bearer`).
    pub token: Option<String>,
    output: Arc<Mutex<String>>,
}

impl App {
    /// Starts the built-in demo with `args` (e.g. `--headless --port 0`).
    pub fn demo(args: &[&str]) -> App {
        App::start(Path::new(env!("CARGO_BIN_EXE_x64wasm")), args, &[])
    }

    /// Starts `program` with `args` and extra environment, and waits until
    /// it prints the URL it serves on.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)]) -> App {
        App::start_with(program, args, env, |_| {})
    }

    /// Starts the demo with its descriptor limit (soft and hard, as
    /// `ulimit -n` sets them) at `descriptors`.
    pub fn demo_with_descriptor_limit(args: &[&str], descriptors: u64) -> App {
        use std::os::unix::process::CommandExt;
        App::start_with(
            Path::new(env!("CARGO_BIN_EXE_x64wasm")),
            args,
            &[],
            |command| {
                // SAFETY: setrlimit is async-signal-safe; nothing else runs
                // between fork and exec.
                unsafe {
                    command.pre_exec(move || {
                        let limit = libc::rlimit {
                            rlim_cur: descriptors,
                            rlim_max: descriptors,
                        };
                        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            },
        )
    }

    /// Starts `program` as [`start`](App::start) does, after `prepare` has
    /// adjusted the command.
    pub fn start_with(
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        prepare: impl FnOnce(&mut Command),
    ) -> App {
        let mut command = Command::new(program);
        prepare(&mut command);
        command
            .args(args)
            .env_remove("RUN_AS_HTTP_SERVER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut o = output.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let text = output.lock().unwrap().clone();
            if let Some(rest) = text.split("serving on ").nth(1) {
                break rest.lines().next().unwrap().trim().to_string();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{} exited ({status}) before serving:\n{text}",
                    program.display()
                );
            }
            assert!(Instant::now() < deadline, "no URL printed in 60 s:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        };
        let address = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let token = url.split_once("?token=").map(|(_, t)| t.to_string());
        App {
            child,
            url,
            address,
            token,
            output,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/PID/status` as a number (`VmRSS` in KiB,
    /// `Threads`, ...).
    pub fn proc_status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the process printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `text`.
    pub fn wait_for_output(&self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.output().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// One HTTP request, with the app's token if it asks for one; see
    /// [`request`].
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = headers.to_vec();
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer));
        }
        request(&self.address, method, path, &headers, body)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// `GET /state`, parsed: version and state bytes.
    pub fn state(&self) -> (u64, Vec<u8>) {
        let reply = self.get("/state");
        assert_eq!(reply.status, 200, "{}", reply.text());
        let json = reply.json();
        let bytes = {
            use base64::prelude::{Engine, BASE64_STANDARD};
            BASE64_STANDARD
                .decode(json["state"].as_str().unwrap())
                .unwrap()
        };
        (json["version"].as_u64().unwrap(), bytes)
    }

    /// `GET /debug/stats`, parsed.
    pub fn stats(&self) -> serde_json::Value {
        self.get("/debug/stats").json()
    }

    /// Opens `n` event streams and waits until the app counts them all as
    /// views; panics after `timeout`.
    pub fn open_views(&self, n: usize, timeout: Duration) -> Vec<EventStream> {
        let streams: Vec<EventStream> = (0..n).map(|_| EventStream::open(&self.address)).collect();
        self.wait_views(n as u64, timeout, "streams did not open");
        streams
    }

    /// Waits until exactly `n` views have their event stream open; panics
    /// with `what` after `timeout`.
    pub fn wait_views(&self, n: u64, timeout: Duration, what: &str) {
        let deadline = Instant::now() + timeout;
        while self.stats()["views"] != n {
            assert!(Instant::now() < deadline, "{what}: {}", self.stats());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP reply.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`; `Host` is
/// `address` unless `headers` name another), read to the end: the plainest possible client, so nothing hides what the server does.
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Host is the server's address unless the caller names another.
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Host"))
        .map_or(address, |(_, v)| *v);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("Host"))
    {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read reply");
    parse_reply(&raw)
}

/// Parses a whole HTTP reply (Content-Length or chunked or read-to-close body).
pub fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 4 + size..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// The directory of the browser scripts.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Runs `node tests/browser/SCRIPT args…` and returns its standard output
/// (the script prints one JSON line of results). Panics with the script's
/// output when it fails.
pub fn node(script: &str, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: `make test` installs it (npm ci --prefix tests/browser)"
    );
    let mut command = Command::new("node");
    command.arg(dir.join(script)).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

/// Where tests put screenshots (for the README).
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary of example `name`, built now (a no-op when it is up to date):
/// `cargo test` builds examples as test harnesses, not as the app binary.
pub fn example_binary(name: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "x64wasm", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo");
    assert!(status.success(), "cargo build --example {name}");
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_x64wasm"));
    exe.parent().unwrap().join("examples").join(name)
}

/// Builds an example of the library in release (what the benches time)
/// and returns its path.
pub fn release_example_binary(name: &str) -> PathBuf {
    release_build(&["-p", "x64wasm", "--example", name]);
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/release/examples")
        .join(name)
}

/// Builds the binary of the workspace's package `package` in release and
/// returns its path.
pub fn release_package_binary(package: &str) -> PathBuf {
    release_build(&["-p", package]);
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/release")
        .join(package)
}

/// `cargo build --release` of what `what` selects.
fn release_build(what: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .args(what)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo");
    assert!(status.success(), "cargo build --release {what:?}");
}

/// A keep-alive HTTP/1.1 client: one connection, many requests.
pub struct Client {
    address: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects to `address` (host:port).
    pub fn connect(address: &str) -> Client {
        let stream = TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client {
            address: address.to_string(),
            stream,
            reader,
        }
    }

    /// One request on the connection; the reply must have a Content-Length.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Reply {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// One request; `Err` when the connection fails.
    pub fn try_request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Reply> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        self.stream.write_all(head.as_bytes())?;
        self.stream.write_all(body)?;
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// `POST /execute/{name}` with `args` (JSON array text); the new version.
    pub fn execute(&mut self, name: &str, args: &str) -> u64 {
        let reply = self.request(
            "POST",
            &format!("/execute/{name}"),
            format!(r#"{{"args":{args}}}"#).as_bytes(),
        );
        assert_eq!(reply.status, 200, "{name}{args}: {}", reply.text());
        reply.json()["version"].as_u64().unwrap()
    }
}

/// A Server-Sent Events reader on a thread of its own, recording the
/// version of the last event and checking that patch events come in order.
pub struct EventStream {
    /// The version of the last event received.
    pub last: Arc<std::sync::atomic::AtomicU64>,
    /// Problems seen (a patch event that does not follow the last version).
    pub errors: Arc<Mutex<Vec<String>>>,
    /// When each event arrived and was decoded: (version, instant).
    pub arrivals: Arc<Mutex<Vec<(u64, Instant)>>>,
}

impl EventStream {
    /// Opens `/events?since=0` at `address`.
    pub fn open(address: &str) -> EventStream {
        let mut stream = TcpStream::connect(address).expect("connect");
        write!(
            stream,
            "GET /events?since=0 HTTP/1.1\r\nHost: {address}\r\n\r\n"
        )
        .unwrap();
        let last = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (l, e, a) = (last.clone(), errors.clone(), arrivals.clone());
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let (mut id, mut kind, mut data) = (None, String::new(), String::new());
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let text = line.trim_end().to_string();
                line.clear();
                if let Some(v) = text.strip_prefix("id: ") {
                    id = v.parse::<u64>().ok();
                } else if let Some(v) = text.strip_prefix("event: ") {
                    kind = v.to_string();
                } else if let Some(v) = text.strip_prefix("data: ") {
                    data = v.to_string();
                } else if text.is_empty() {
                    if let Some(v) = id.take() {
                        // Decode it, as a view must before applying it.
                        let decoded: Result<serde_json::Value, _> = serde_json::from_str(&data);
                        if decoded.map(|d| d["version"] != v).unwrap_or(true) {
                            e.lock()
                                .unwrap()
                                .push(format!("event {v}: bad data {data}"));
                        }
                        a.lock().unwrap().push((v, Instant::now()));
                        let previous = l.load(std::sync::atomic::Ordering::SeqCst);
                        let from = serde_json::from_str::<serde_json::Value>(&data)
                            .ok()
                            .and_then(|d| d["from"].as_u64());
                        if kind == "patch" && from != Some(previous) {
                            e.lock()
                                .unwrap()
                                .push(format!("patch from {from:?} after {previous}"));
                        }
                        l.store(v, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
        });
        EventStream {
            last,
            errors,
            arrivals,
        }
    }

    /// The version of the last event.
    pub fn version(&self) -> u64 {
        self.last.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A browser script run step by step: it prints one JSON line per step and
/// waits for a line on its standard input before going on.
pub struct NodeScript {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl NodeScript {
    /// Starts `node tests/browser/SCRIPT args…`.
    pub fn start(script: &str, args: &[&str], env: &[(&str, &str)]) -> NodeScript {
        let dir = browser_dir();
        assert!(
            dir.join("node_modules/playwright-core").exists(),
            "tests/browser/node_modules is missing: `make test` installs it"
        );
        let mut command = Command::new("node");
        command
            .arg(dir.join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("running node");
        let (send, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (err_pipe, err_text) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                err_text.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        NodeScript {
            child,
            lines,
            stderr,
        }
    }

    /// The next JSON line the script prints (within 60 s).
    pub fn next(&mut self) -> serde_json::Value {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                        return value;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "the script printed nothing more:\n{}",
                        self.stderr.lock().unwrap()
                    );
                }
            }
        }
    }

    /// Tells the script to go on.
    pub fn go(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for NodeScript {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) process `pid` has used, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th fields of the line, in clock ticks
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf with a valid name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let used: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(used as f64 / ticks)
}
