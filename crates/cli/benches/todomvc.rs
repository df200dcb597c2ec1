//! TodoMVC (issue 17): what a keystroke, an added todo and a toggle cost
//! on the wire and in the page, on a list of 200 todos. Runs the release
//! build of `examples/todomvc.rs` on loopback and
//! `tests/browser/bench_todomvc.mjs` (node, and Debian's Chromium).
//!
//! `cargo bench -p x64wasm-cli --bench todomvc`. Goals: a toggle of one
//! todo sends under 200 bytes of patch event, adding one todo to 200 under
//! 1 KiB.

#[path = "../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use server::{node, release_example_binary, App};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches` builds it; only `cargo bench` runs it
    }
    let binary = release_example_binary("todomvc");
    let app = App::start(
        &binary,
        &["--headless", "--port", "0", "--rate-limit", "0"],
        &[],
    );
    let r = node("bench_todomvc.mjs", &[&app.url], &[]);
    let ms = |v: &serde_json::Value| format!("{:.2} ms", v.as_f64().unwrap_or(f64::NAN));
    println!("TodoMVC, one run (release build, loopback, headless Chromium):");
    println!(
        "keystroke: request {} bytes, patch event {} bytes (p50)",
        r["keystroke"]["requestBytes"]["p50"], r["keystroke"]["eventBytes"]["p50"]
    );
    println!(
        "add a todo to 199: patch event {} bytes (goal < 1024); adds: event p50 {} bytes, server p50 {} p99 {}",
        r["addTo199"]["event"],
        r["add"]["eventBytes"]["p50"],
        ms(&r["add"]["ms"]["p50"]),
        ms(&r["add"]["ms"]["p99"])
    );
    for (label, key) in [
        ("toggle one of 200 (goal < 200)", "toggleOne"),
        ("toggle it back", "toggleOneBack"),
        ("toggle all 200", "toggleAll"),
        ("clear completed (200)", "clearCompleted"),
    ] {
        println!(
            "{label}: patch event {} bytes, server {}",
            r[key]["event"],
            ms(&r[key]["ms"])
        );
    }
    let page = &r["page"];
    println!(
        "in the page: keypress -> predicted state p50 {} p99 {}; checkbox click -> `completed` class p50 {} p99 {}",
        ms(&page["keys"]["p50"]),
        ms(&page["keys"]["p99"]),
        ms(&page["toggles"]["p50"]),
        ms(&page["toggles"]["p99"])
    );
    println!(
        "in the page, until the server's patch is applied: add (list of 0..200) p50 {} p99 {}; toggle all 200 {}; clear completed 200 {}",
        ms(&page["adds"]["p50"]),
        ms(&page["adds"]["p99"]),
        ms(&page["toggleAll"]),
        ms(&page["clear"])
    );
}
