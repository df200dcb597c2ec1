//! First load (issue 23, item 8): bytes on the wire and time until
//! interactive (every module compiled) for the demo and TodoMVC, in
//! headless Chromium with an empty cache, median of 5 loads each
//! (`tests/browser/bench_first_load.mjs`). Goal: at most 100 KB and 150 ms.
//!
//! `cargo bench -p x64wasm-cli --bench first_load`. Release builds on
//! loopback: the wire costs nothing here, so the time is the server's work
//! (pages, transpiling at the first request of each module) and the
//! browser's (parsing, compiling the modules).

#[path = "../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use server::{node, release_example_binary, App};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches` builds it; only `cargo bench` runs it
    }
    let args = ["--headless", "--port", "0", "--rate-limit", "0"];
    // under `cargo bench` the demo binary is built with the bench profile
    let apps = [
        ("demo", App::demo(&args)),
        (
            "TodoMVC",
            App::start(&release_example_binary("todomvc"), &args, &[]),
        ),
    ];
    println!("First load, empty cache, median of 5 (release builds, loopback, headless Chromium):");
    for (name, app) in &apps {
        // the first load transpiles every module: measured apart
        let first = node("bench_first_load.mjs", &[&app.url, "1"], &[]);
        let r = node("bench_first_load.mjs", &[&app.url, "5"], &[]);
        println!(
            "{name}: {:.1} KB on the wire, interactive at {:.0} ms (the server's very first load: {:.0} ms)",
            r["bytes"].as_f64().unwrap() / 1000.0,
            r["interactive_ms"].as_f64().unwrap(),
            first["interactive_ms"].as_f64().unwrap(),
        );
        let mut requests: Vec<(String, f64)> = r["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q[0].as_str().unwrap().to_string(), q[1].as_f64().unwrap()))
            .collect();
        requests.sort_by(|a, b| b.1.total_cmp(&a.1));
        let largest: Vec<String> = requests
            .iter()
            .take(6)
            .map(|(path, bytes)| format!("{path} {:.1} KB", bytes / 1000.0))
            .collect();
        println!("  largest: {}", largest.join(", "));
    }
}
