//! The example app (`examples/scoreboard.rs`, a user's own app on the
//! library) builds, transpiles its own callbacks, and serves them as wasm;
//! the one callback that cannot be transpiled (it reads the CPU's clock) is a
//! 422 with the reason, and its clicks still work through the server.

use crate::support;

use support::server::{example_binary, node, App};

#[test]
fn the_example_app_serves_its_own_callbacks_as_wasm() {
    let app = App::start(
        &example_binary("scoreboard"),
        &["--headless", "--port", "0"],
        &[],
    );
    // (warnings are on stderr, read on a thread of their own)
    app.wait_for_output("`rdtsc`", std::time::Duration::from_secs(10));
    let output = app.output();
    assert!(
        output.contains("4 callback(s), 3 transpiled to wasm"),
        "{output}"
    );
    assert!(
        output.contains("callback `toss_coin` runs on the server only: toss_coin at 0x")
            && output.contains("unsupported instruction `rdtsc` [0f 31]"),
        "{output}"
    );

    for name in ["add_points", "next_period", "new_game"] {
        let reply = app.get(&format!("/wasm/{name}"));
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        wasmparser::Validator::new()
            .validate_all(&reply.body)
            .unwrap();
    }
    let refused = app.get("/wasm/toss_coin");
    assert_eq!(refused.status, 422);
    let reason = refused.json();
    assert_eq!(reason["function"], "toss_coin");
    assert_eq!(reason["instruction"], "rdtsc (0f 31)");
    assert!(reason["address"].as_str().unwrap().starts_with("0x"));

    let page = node("example.mjs", &[&app.url], &[]);
    assert_eq!(page["home"], "3");
    let text = page["text"].as_str().unwrap();
    assert!(
        text.contains("coin: heads") || text.contains("coin: tails"),
        "{text}"
    );
    assert_eq!(page["stats"]["wasmRuns"], 1, "{page}");
    assert_eq!(page["stats"]["serverOnly"], 1, "{page}");
    let console = page["console"].to_string();
    assert!(
        console.contains("toss_coin runs on the server only") && console.contains("rdtsc"),
        "the runtime says why in the console: {console}"
    );
    let stats = app.stats();
    assert_eq!(stats["callbacks"]["add_points"]["agreed"], 1, "{stats}");
    assert_eq!(stats["callbacks"]["toss_coin"]["executed"], 1, "{stats}");
    assert_eq!(stats["callbacks"]["toss_coin"]["predicted"], 0, "{stats}");
}

#[test]
fn a_view_that_reads_the_clock_renders_on_the_server_and_still_works() {
    let app = App::start(
        &example_binary("clock"),
        &["--headless", "--port", "0"],
        &[],
    );
    // (warnings are on stderr, read on a thread of their own)
    app.wait_for_output("clock_gettime", std::time::Duration::from_secs(10));
    let output = app.output();
    assert!(
        output.contains("the view renders on the server only") && output.contains("clock_gettime"),
        "the start-up line names the reason: {output}"
    );
    let refused = app.get("/view.wasm");
    assert_eq!(refused.status, 422);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("clock_gettime"),
        "{}",
        refused.text()
    );
    let page = node("clock.mjs", &[&app.url], &[]);
    // the callback still ran as wasm at once; the unbound text came with
    // the server's patch
    assert_eq!(page["countAtOnce"], "1", "{page}");
    assert_eq!(page["parityAtOnce"], "even", "{page}");
    assert_eq!(page["parity"], "odd", "{page}");
    assert_eq!(page["stats"]["wasmRuns"], 1, "{page}");
    assert_eq!(page["stats"]["viewRuns"], 0, "{page}");
    assert_eq!(page["stats"]["failures"], serde_json::json!([]), "{page}");
    assert_eq!(app.stats()["view_mismatches"], 0);
}
