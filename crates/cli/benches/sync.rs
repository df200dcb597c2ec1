//! Sync benchmark (issue 5): click to patch received in every view, and
//! `POST /execute` throughput, against the release binary on loopback.
//!
//! `cargo bench --bench sync`. Views are Rust Server-Sent-Events readers
//! (one thread each) that decode every event's JSON: 100 browsers do not fit
//! a 2-core machine, and the browser's own patch application is measured by
//! `tests/latency.rs` (a few milliseconds, inside one frame).
//!
//! Figures printed: for 1, 10 and 100 open views, p50 and p99 of (a) the
//! latency from sending a click to one view having its event, over every
//! (click, view) pair, and (b) the latency until the last view has it; then
//! executes per second from 1 and 8 keep-alive clients.

#[path = "../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use std::time::{Duration, Instant};

use server::{App, Client};

const CLICKS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn click_to_patch(views: usize) {
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let streams = app.open_views(views, Duration::from_secs(60));
    let mut client = Client::connect(&app.address);
    let mut each = Vec::with_capacity(CLICKS * views);
    let mut all = Vec::with_capacity(CLICKS);
    for _ in 0..CLICKS {
        let sent = Instant::now();
        let version = client.execute("increment_counter", "[]");
        // Wait until every view has this version, then read the arrivals.
        while streams.iter().any(|s| s.version() < version) {
            std::hint::spin_loop();
        }
        let mut last = Duration::ZERO;
        for s in &streams {
            let arrivals = s.arrivals.lock().unwrap();
            let at = arrivals
                .iter()
                .rev()
                .find(|(v, _)| *v == version)
                .expect("event")
                .1;
            let latency = at - sent;
            each.push(latency);
            last = last.max(latency);
        }
        all.push(last);
    }
    each.sort();
    all.sort();
    println!(
        "{views:>3} view(s): click -> patch in a view p50 {} p99 {} | in every view p50 {} p99 {}",
        ms(percentile(&each, 0.5)),
        ms(percentile(&each, 0.99)),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
    );
}

fn throughput(clients: usize) {
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let run_for = Duration::from_secs(3);
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let address = app.address.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&address);
                let mut n = 0u64;
                while start.elapsed() < run_for {
                    client.execute("increment_counter", "[]");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "POST /execute, {clients} keep-alive client(s): {:.0} executes/s ({total} in {seconds:.2} s)",
        total as f64 / seconds
    );
}

fn main() {
    // `cargo test --all-targets` builds benches and runs them with --bench
    // absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    for views in [1, 10, 100] {
        click_to_patch(views);
    }
    for clients in [1, 8] {
        throughput(clients);
    }
}
