//! Against axum (issue 23, item 8): what the demo's server costs for the
//! two requests every user makes, side by side in one run with an axum
//! server doing the least the same answer needs.
//!
//! - `GET /`: the demo's page. axum serves the same bytes (fetched from the
//!   demo once) from memory; both are asked without `Accept-Encoding`, so
//!   neither compresses.
//! - `POST /execute/increment_counter` with `{}`: the demo parses the body,
//!   runs the callback natively under the state lock, bumps the version and
//!   publishes it (no view is open, so nothing renders). axum parses the
//!   same body as JSON, bumps a counter under a mutex and answers the same
//!   shape of JSON.
//!
//! `cargo bench -p x64wasm-cli --bench axum` (needs `wrk`: `make bench`
//! installs it). Load is `wrk` with 50 connections on 2 threads and with 1
//! connection, 5 s each; figures are requests per second and server CPU
//! (user + system, from /proc, of each server's process) per request. On a 2-core machine wrk shares
//! the cores with the server, so the ratios, measured in one run, are the
//! figures to read, not the absolute numbers.

#[path = "../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use server::App;

/// The axum server (`crates/axum-baseline`, built in release) serving
/// `page` on a free port of loopback; killed when dropped.
struct Axum {
    child: Child,
    address: String,
}

impl Axum {
    fn start(page: &[u8]) -> Axum {
        let baseline = server::release_package_binary("x64wasm-axum-baseline");
        let file = std::env::temp_dir().join(format!("x64wasm-bench-page-{}", std::process::id()));
        std::fs::write(&file, page).unwrap();
        let mut child = Command::new(baseline)
            .arg(&file)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the axum baseline");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("serving on ")
            .unwrap_or_else(|| panic!("the axum baseline said {line:?}"))
            .to_string();
        Axum { child, address }
    }
}

impl Drop for Axum {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wrk` against `url` with `connections` (on at most 2 threads) for 5 s,
/// posting `{}` when `post`: requests per second, and how many.
fn wrk(url: &str, connections: u32, post: bool) -> (f64, f64) {
    let threads = connections.min(2).to_string();
    let script =
        std::env::temp_dir().join(format!("x64wasm-bench-post-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = \"{}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )
    .unwrap();
    let mut command = Command::new("wrk");
    command.args(["-t", &threads, "-c", &connections.to_string(), "-d", "5s"]);
    if post {
        command.arg("-s").arg(&script);
    }
    let out = command
        .arg(url)
        .output()
        .expect("wrk (make bench installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !text.contains("Non-2xx"),
        "{url}: answers that were not 2xx:\n{text}"
    );
    let number_after = |label: &str| -> f64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {label} in wrk's output:\n{text}"))
    };
    let total = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{text}"));
    (number_after("Requests/sec:"), total)
}

/// One row: both servers under the same load, one after the other.
fn compare(
    label: &str,
    ours: (&str, u32),
    theirs: &Axum,
    (path, connections, post): (&str, u32, bool),
) {
    let measure = |address: &str, pid: u32| {
        let before = server::cpu_time(pid);
        let (rate, total) = wrk(&format!("http://{address}{path}"), connections, post);
        let cpu = (server::cpu_time(pid) - before).as_secs_f64() / total;
        (rate, cpu)
    };
    let (our_rate, our_cpu) = measure(ours.0, ours.1);
    let (their_rate, their_cpu) = measure(&theirs.address, theirs.child.id());
    println!(
        "{label}, c{connections}: x64wasm {our_rate:.0} req/s, {:.1} µs CPU/req | axum {their_rate:.0} req/s, {:.1} µs CPU/req | req/s {:.2}x axum, CPU/req {:.2}x axum",
        our_cpu * 1e6,
        their_cpu * 1e6,
        our_rate / their_rate,
        our_cpu / their_cpu,
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches` builds it; only `cargo bench` runs it
    }
    // (under `cargo bench` the demo binary is built with the bench profile,
    // which is release)
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let page = app.get("/").body;
    let axum = Axum::start(&page);
    std::thread::sleep(Duration::from_millis(200));
    println!("The demo's server against axum, one run (release builds, loopback, wrk 5 s each):");
    for connections in [50, 1] {
        compare(
            "GET / (the demo's page)",
            (&app.address, app.pid()),
            &axum,
            ("/", connections, false),
        );
        compare(
            "POST /execute/increment_counter",
            (&app.address, app.pid()),
            &axum,
            ("/execute/increment_counter", connections, true),
        );
    }
}
