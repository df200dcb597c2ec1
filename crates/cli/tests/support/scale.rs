//! Real servers for the scale-out tests: Debian's redis-server and haproxy
//! (`make test` installs both), each started on free ports.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server on a free port, persisting to `dir`.
pub struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    pub fn start(dir: &Path, port: u16) -> Redis {
        std::fs::create_dir_all(dir).unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            // DEBUG SLEEP stalls it (tests/app/redis.rs)
            .args(["--enable-debug-command", "local"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (make test installs it)");
        let redis = Redis {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while redis.cli(&["PING"]) != "PONG" {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A headless demo instance on a free port keeping its state here,
    /// with no click rate limit, behind a balancer on 127.0.0.1.
    pub fn demo(&self) -> super::server::App {
        let url = self.url();
        super::server::App::demo(&[
            "--headless",
            "--port",
            "0",
            "--redis",
            &url,
            "--rate-limit",
            "0",
            "--trusted-proxy",
            "127.0.0.1",
        ])
    }

    /// One command through redis-cli; its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `redis-cli -x COMMAND ARG`: `bytes` (any bytes) as the last
    /// argument.
    fn cli_with_bytes(&self, command: &str, arg: &str, bytes: &[u8]) {
        use std::io::Write;
        let mut child = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "-x", command, arg])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-cli");
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        assert!(child.wait().unwrap().success(), "redis-cli -x {command}");
    }

    /// Sends the server `signal` (`STOP`, `CONT`).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{signal}");
    }

    /// `SET key bytes`.
    pub fn set_bytes(&self, key: &str, bytes: &[u8]) {
        self.cli_with_bytes("SET", key, bytes);
    }

    /// `PUBLISH channel bytes`.
    pub fn publish_bytes(&self, channel: &str, bytes: &[u8]) {
        self.cli_with_bytes("PUBLISH", channel, bytes);
    }

    pub fn stop(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.clone()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The status code `GET path` answers with (only the status line is read:
/// an event stream never ends); 0 when nothing answers.
pub fn status(address: &str, path: &str) -> u16 {
    request_status(address, "GET", path)
}

/// The status code of one request on a connection of its own; 0 when
/// nothing answers (the instance was killed, the balancer is starting).
pub fn request_status(address: &str, method: &str, path: &str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let length = if method == "POST" {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\n{length}\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let mut line = String::new();
    let _ = BufReader::new(stream).read_line(&mut line);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// haproxy with `deploy/haproxy.cfg` in front of three instances.
pub struct Haproxy {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Haproxy {
    /// Balances `instances` (three host:port addresses) on a free port.
    pub fn start(instances: [&str; 3]) -> Haproxy {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haproxy.cfg");
        let port = free_port();
        let port_of = |a: &str| a.rsplit(':').next().unwrap().to_string();
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&config)
            .arg("-db")
            .env("X64WASM_LB_PORT", port.to_string())
            .env("X64WASM_A", port_of(instances[0]))
            .env("X64WASM_B", port_of(instances[1]))
            .env("X64WASM_C", port_of(instances[2]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy (make test installs it)");
        let haproxy = Haproxy { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while status(&haproxy.address(), "/state") != 200 {
            assert!(Instant::now() < deadline, "haproxy did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        haproxy
    }

    /// host:port.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
