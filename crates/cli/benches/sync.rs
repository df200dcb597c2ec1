//! Sync benchmark (issue 5): click to patch received in every view, and
//! `POST /execute` throughput, against the release binary on loopback.
//!
//! `cargo bench --bench sync`. Views are Rust Server-Sent-Events readers
//! (one thread each) that decode every event's JSON: 100 browsers do not fit
//! a 2-core machine, and the browser's own patch application is measured by
//! `tests/app/latency.rs` (a few milliseconds, inside one frame).
//!
//! Figures printed: for 1, 10 and 100 open views, p50 and p99 of (a) the
//! latency from sending a click to one view having its event, over every
//! (click, view) pair, and (b) the latency until the last view has it; then
//! executes per second from 1 and 8 keep-alive clients; the same with
//! click ids (issue 26) next to without, in memory, with `--state-file` and
//! with `--redis`, rounds interleaved; and the time a page's queue of 50
//! clicks takes to go in once its connection is back.

#[path = "../tests/support/proxy.rs"]
#[allow(dead_code)]
mod proxy;
#[path = "../tests/support/scale.rs"]
#[allow(dead_code)]
mod scale;
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

/// Executes per second from 8 keep-alive clients for 2 s, each click with
/// an id (`ids`) or without.
fn executes_per_second(app: &App, ids: bool, round: usize) -> f64 {
    let run_for = Duration::from_secs(2);
    let start = Instant::now();
    let workers: Vec<_> = (0..8)
        .map(|k| {
            let address = app.address.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&address);
                let mut n = 0u64;
                while start.elapsed() < run_for {
                    n += 1;
                    let body = match ids {
                        true => format!(r#"{{"args":[],"id":"bench{round}x{k}:{n}"}}"#),
                        false => r#"{"args":[]}"#.to_string(),
                    };
                    let reply =
                        client.request("POST", "/execute/increment_counter", body.as_bytes());
                    assert_eq!(reply.status, 200, "{}", reply.text());
                }
                n
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

/// Click ids against none, side by side: 3 rounds of each, interleaved,
/// on one server per setting.
fn click_ids() {
    let dir = std::env::temp_dir().join(format!("x64wasm-bench-ids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.bin");
    let redis = scale::Redis::start(&dir.join("redis"), scale::free_port());
    let base = ["--headless", "--port", "0", "--rate-limit", "0"];
    let settings: Vec<(&str, App)> = vec![
        ("in memory", App::demo(&base)),
        (
            "--state-file",
            App::demo(&[&base[..], &["--state-file", file.to_str().unwrap()]].concat()),
        ),
        ("--redis", redis.demo()),
    ];
    for (name, app) in &settings {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for round in 0..3 {
            without.push(executes_per_second(app, false, round));
            with.push(executes_per_second(app, true, round));
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "POST /execute, 8 clients, {name}: {:.0}/s without click ids, {:.0}/s with \
             ({:.2}x; 3 rounds of 2 s each, interleaved)",
            mean(&without),
            mean(&with),
            mean(&with) / mean(&without)
        );
    }
    drop(settings);
    let _ = std::fs::remove_dir_all(redis.stop());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The time from a page's connection coming back to its queue of 50
/// clicks being answered (Chromium, through a proxy the bench cuts).
fn queue_catch_up() {
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let proxy = proxy::Proxy::start(&app.address);
    let url = format!("http://{}/", proxy.address);
    let mut script = server::NodeScript::start("bench_queue.mjs", &[&url, "5"], &[]);
    let result = loop {
        let message = script.next();
        match message["need"].as_str() {
            Some("cut") => proxy.cut(),
            Some("restore") => proxy.restore(),
            _ => break message,
        }
        script.go();
    };
    assert!(result["error"].is_null(), "{result}");
    println!(
        "a page's 50 queued clicks in, from its connection back (ms, 5 rounds): {}",
        result["times"]
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
    click_ids();
    queue_catch_up();
}
