//! The rows app (`examples/rows.rs`, in the manner of
//! js-framework-benchmark) against a vanilla JavaScript page doing the
//! same operations on the same markup, and against itself with the view
//! module blocked (the server's patches): time from the click to the first
//! animation frame showing the whole effect, median of 10, in one run of
//! headless Chromium (`tests/browser/bench_rows.mjs`).
//!
//! `cargo bench -p x64wasm-cli --bench rows`. Goal (issue 23): every
//! operation within 2x vanilla JavaScript, the geometric mean within 1.5x.

#[path = "../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use server::{node, release_example_binary, App};

const OPERATIONS: [&str; 9] = [
    "create 1,000 rows",
    "replace all rows",
    "update every 10th row",
    "select row",
    "swap rows",
    "remove row",
    "create 10,000 rows",
    "append 1,000 rows",
    "clear rows",
];

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches` builds it; only `cargo bench` runs it
    }
    let binary = release_example_binary("rows");
    let app = App::start(
        &binary,
        &["--headless", "--port", "0", "--rate-limit", "0"],
        &[],
    );
    let r = node("bench_rows.mjs", &[&app.url, "10"], &[]);
    println!("rows, median of 10 (release build, loopback, headless Chromium, one run):");
    println!(
        "{:<24} {:>12} {:>15} {:>11} {:>8}",
        "operation", "view module", "server patches", "vanilla JS", "ratio"
    );
    let mut log_sum = 0.0;
    for op in OPERATIONS {
        let ms = |mode: &str| r[mode][op].as_f64().unwrap_or(f64::NAN);
        let (module, patches, vanilla) =
            (ms("view module"), ms("server patches"), ms("vanilla JS"));
        // frames are about 16.7 ms apart: a ratio against under a frame says little
        let ratio = module / vanilla.max(1.0);
        log_sum += ratio.ln();
        println!("{op:<24} {module:>9.1} ms {patches:>12.1} ms {vanilla:>8.1} ms {ratio:>7.1}x");
    }
    println!(
        "geometric mean of view module / vanilla JS: {:.2}x (goal 1.5x)",
        (log_sum / OPERATIONS.len() as f64).exp()
    );
    for mode in ["view module", "server patches"] {
        println!("{mode}: page stats {}", r[mode]["stats"]);
    }
}
