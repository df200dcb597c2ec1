//! Serving under attack (issues 13 and 25): page load and click latency for
//! a new visitor while 2,000 slowloris sockets from one other address are
//! held, and while four addresses keep 64 connections (the whole budget)
//! busy, next to the same figures with no attack; then the memory and
//! threads an open view costs, and the memory of 10,000 distinct view
//! states (TodoMVC drafts). Runs the release binaries on loopback.
//!
//! `cargo bench --bench attack`. Each latency is a fresh connection from
//! 127.0.0.1 (a new visitor): `GET /` (the page) and `POST
//! /execute/increment_counter` (a click), 300 of each, interleaved, with
//! the attacker's sockets (from 127.0.0.2) sending one header byte each
//! every 500 ms and reconnecting when the server closes them.

#[path = "../tests/support/raw.rs"]
#[allow(dead_code)]
mod raw;
#[path = "../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::App;

const SAMPLES: usize = 300;
const ATTACKERS: usize = 2000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// p50 and p99 of page loads and clicks by new visitors.
fn visitor_latency(app: &App) -> [Duration; 4] {
    let mut pages = Vec::with_capacity(SAMPLES);
    let mut clicks = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        assert_eq!(app.get("/").status, 200);
        pages.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(app.post("/execute/increment_counter", "{}").status, 200);
        clicks.push(t.elapsed());
    }
    pages.sort();
    clicks.sort();
    [
        percentile(&pages, 0.5),
        percentile(&pages, 0.99),
        percentile(&clicks, 0.5),
        percentile(&clicks, 0.99),
    ]
}

/// Holds `n` slowloris sockets from 127.0.0.2 until `stop`: each sends a
/// request head one byte at a time and is replaced when the server closes
/// it (head deadline, or refused past the address's share).
fn slowloris(address: String, n: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let attacker = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let head = format!("GET /state HTTP/1.1\r\nHost: {address}\r\nX-a: ");
        let connect = || -> Option<TcpStream> {
            let mut s = raw::connect_from(attacker, &address).ok()?;
            s.set_nonblocking(true).ok()?;
            s.write_all(head.as_bytes()).ok()?;
            Some(s)
        };
        let mut sockets: Vec<TcpStream> = (0..n).filter_map(|_| connect()).collect();
        let mut reconnects = 0;
        while !stop.load(Ordering::Relaxed) {
            for s in &mut sockets {
                if s.write_all(b"a").is_err() {
                    if let Some(fresh) = connect() {
                        *s = fresh;
                        reconnects += 1;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        reconnects
    })
}

fn under_attack() {
    raw::raise_own_descriptor_limit();
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let calm = visitor_latency(&app);
    let stop = Arc::new(AtomicBool::new(false));
    let attack = slowloris(app.address.clone(), ATTACKERS, stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    let attacked = visitor_latency(&app);
    stop.store(true, Ordering::Relaxed);
    let reconnects = attack.join().unwrap();
    let names = ["page load p50", "page load p99", "click p50", "click p99"];
    println!("new visitor, calm vs while {ATTACKERS} slowloris sockets are held ({reconnects} reconnects):");
    for i in 0..4 {
        println!(
            "  {:<14} {:>9} -> {:>9} ({:.2}x)",
            names[i],
            ms(calm[i]),
            ms(attacked[i]),
            attacked[i].as_secs_f64() / calm[i].as_secs_f64()
        );
    }
}

/// Keeps 64 connections from 127.0.0.2-5 (16 each) busy until `stop`:
/// each sends `GET /state` every 0.3 s and reconnects when closed.
fn busy(address: String, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<usize>> {
    (0..64)
        .map(|i| {
            let (address, stop) = (address.clone(), stop.clone());
            std::thread::spawn(move || {
                let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 4) as u8));
                let request = format!("GET /state HTTP/1.1\r\nHost: {address}\r\n\r\n");
                let mut reconnects = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = raw::connect_from(from, &address) else {
                        continue;
                    };
                    reconnects += 1;
                    while !stop.load(Ordering::Relaxed)
                        && s.write_all(request.as_bytes()).is_ok()
                        && raw::read_answer(&s, Duration::from_secs(5))
                            .is_some_and(|r| r.status == 200)
                    {
                        std::thread::sleep(Duration::from_millis(300));
                    }
                }
                reconnects
            })
        })
        .collect()
}

fn busy_addresses() {
    raw::raise_own_descriptor_limit();
    let args = [
        "--headless",
        "--port",
        "0",
        "--rate-limit",
        "0",
        "--max-connections",
        "64",
    ];
    let app = App::demo(&args);
    let calm = visitor_latency(&app);
    let stop = Arc::new(AtomicBool::new(false));
    let threads = busy(app.address.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    let attacked = visitor_latency(&app);
    stop.store(true, Ordering::Relaxed);
    let connects: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let names = ["page load p50", "page load p99", "click p50", "click p99"];
    println!(
        "new visitor, calm vs while 4 addresses keep 64 connections busy (--max-connections 64; \
         {connects} connections made):"
    );
    for i in 0..4 {
        println!(
            "  {:<14} {:>9} -> {:>9} ({:.2}x)",
            names[i],
            ms(calm[i]),
            ms(attacked[i]),
            attacked[i].as_secs_f64() / calm[i].as_secs_f64()
        );
    }
}

/// RSS of TodoMVC with 10,000 views, each with its own draft (a distinct
/// view state), made by page loads from 40 addresses and one click each.
fn view_states() {
    raw::raise_own_descriptor_limit();
    let binary = server::release_example_binary("todomvc");
    let app = App::start(
        &binary,
        &["--headless", "--port", "0", "--rate-limit", "0"],
        &[("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")],
    );
    let rss0 = app.proc_status("VmRSS");
    let n = 10_000;
    let mut views = Vec::with_capacity(n);
    for k in 0..n {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 2, (k / 250) as u8 + 1));
        let mut s = raw::connect_from(from, &app.address).unwrap();
        let head = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", app.address);
        s.write_all(head.as_bytes()).unwrap();
        let page = raw::read_answer(&s, Duration::from_secs(10))
            .unwrap()
            .text();
        let view = page
            .split("data-view=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let body = format!(r#"{{"args":["draft number {k} of many"],"view":"{view}"}}"#);
        let post = format!(
            "POST /execute/set_draft HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            app.address,
            body.len()
        );
        s.write_all(post.as_bytes()).unwrap();
        assert_eq!(
            raw::read_answer(&s, Duration::from_secs(10))
                .unwrap()
                .status,
            200
        );
        views.push((from, view.to_string()));
    }
    let rss = app.proc_status("VmRSS");
    println!(
        "{n} views with distinct view states (TodoMVC drafts), no stream open: RSS {rss0} -> \
         {rss} KiB ({:.2} KiB per view)",
        (rss - rss0) as f64 / n as f64
    );
    // Each view's stream open: pages that render themselves (the server
    // keeps each view's bytes), then pages that take the server's patches
    // (it keeps each view's rendered tree too); then all closed again.
    for query in ["&render=page", ""] {
        let started = Instant::now();
        let mut streams: Vec<TcpStream> = Vec::with_capacity(n);
        // in batches, each waited for (10,000 connections at once would
        // overrun the request budget they start in)
        for batch in views.chunks(500) {
            for (from, view) in batch {
                let mut s = raw::connect_from(*from, &app.address).unwrap();
                let head = format!(
                    "GET /events?since=1&view={view}{query} HTTP/1.1\r\nHost: {}\r\n\r\n",
                    app.address
                );
                s.write_all(head.as_bytes()).unwrap();
                streams.push(s);
            }
            let what = "every view's stream";
            app.wait_views(streams.len() as u64, Duration::from_secs(600), what);
        }
        let opened = started.elapsed();
        let open = app.proc_status("VmRSS");
        drop(streams);
        app.wait_views(0, Duration::from_secs(60), "the streams closed");
        // (the server hands freed pages back within 5 s: server/mod.rs)
        std::thread::sleep(Duration::from_secs(6));
        let closed = app.proc_status("VmRSS");
        println!(
            "  with every stream open ({}, all open in {:.1} s): RSS {open} KiB ({:.2} KiB per \
             view over none open); closed again: {closed} KiB",
            if query.is_empty() {
                "the server's patches"
            } else {
                "render=page"
            },
            opened.as_secs_f64(),
            (open - rss) as f64 / n as f64
        );
    }
}

fn per_view() {
    raw::raise_own_descriptor_limit();
    let app = App::demo(&["--headless", "--port", "0"]);
    let (rss0, threads0) = (app.proc_status("VmRSS"), app.proc_status("Threads"));
    let head = format!("GET /events HTTP/1.1\r\nHost: {}\r\n\r\n", app.address);
    let mut views = Vec::new();
    for n in [1000usize, 5000] {
        while views.len() < n {
            let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, (views.len() / 1000) as u8 + 1));
            let mut s = raw::connect_from(from, &app.address).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            views.push(s);
        }
        app.wait_views(n as u64, Duration::from_secs(30), "views open");
        let (rss, threads) = (app.proc_status("VmRSS"), app.proc_status("Threads"));
        println!(
            "{n} open views: RSS {} -> {} KiB ({:.1} KiB per view), threads {threads0} -> {threads}",
            rss0,
            rss,
            (rss - rss0) as f64 / n as f64
        );
    }
}

fn main() {
    // `cargo test --all-targets` builds benches and runs them without
    // --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    under_attack();
    busy_addresses();
    per_view();
    view_states();
}
