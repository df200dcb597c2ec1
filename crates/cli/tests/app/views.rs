//! Every view in sync: three headless Chromium pages and the desktop window
//! (under Xvfb) on one server. A click in any of them reaches all the others
//! as patches, without reloading; a page whose connection is cut misses
//! clicks, then reconnects on its own and catches up; at the end every page's
//! DOM equals the server's view.

use crate::support;

use std::path::Path;

use support::desktop::Xvfb;
use support::proxy::Proxy;
use support::server::{App, NodeScript};

#[test]
fn clicks_in_any_view_reach_all_others_and_a_cut_page_catches_up() {
    let x = Xvfb::start();
    let (app, window) = x.open_app(Path::new(env!("CARGO_BIN_EXE_x64wasm")), "x64wasm demo");
    let proxy = Proxy::start(&app.address);
    let proxy_url = format!("http://{}/", proxy.address);
    let mut script = NodeScript::start(
        "views.mjs",
        &[&app.url, &proxy_url, &window],
        &[("DISPLAY", &x.display)],
    );
    loop {
        let message = script.next();
        match message["need"].as_str() {
            Some("cut") => proxy.cut(),
            Some("restore") => proxy.restore(),
            _ => {
                assert!(message["error"].is_null(), "{message}");
                check(&app, &message);
                break;
            }
        }
        script.go();
    }
}

fn check(app: &App, result: &serde_json::Value) {
    assert_eq!(
        result["whileCut"], "4",
        "the cut page missed the clicks: {result}"
    );
    assert_eq!(
        result["sameAsServer"],
        serde_json::json!([true, true, true]),
        "{result}"
    );
    assert_eq!(result["notReloaded"], serde_json::json!([true, true, true]));
    let stats = result["stats"].as_array().unwrap();
    for (i, s) in stats.iter().enumerate() {
        assert!(
            s["patches"].as_u64().unwrap() >= 4,
            "page {i} got patches: {s}"
        );
        assert_eq!(s["serverOnly"], 0, "page {i}: {s}");
    }
    assert_eq!(stats[0]["resets"], 0, "{result}");
    assert_eq!(stats[1]["resets"], 0, "{result}");
    assert!(
        stats[2]["resets"].as_u64().unwrap() >= 1,
        "the cut page caught up with a reset: {result}"
    );

    let (version, state) = app.state();
    assert_eq!(version, result["version"].as_u64().unwrap());
    assert_eq!(i64::from_le_bytes(state[..8].try_into().unwrap()), 8);
    // Every click, in every view (the window's two included), ran the wasm
    // and predicted the server's result on the version it ran on: so each
    // view had the others' clicks before its own.
    let server = app.stats();
    let inc = &server["callbacks"]["increment_counter"];
    assert_eq!(inc["executed"], 8, "{server}");
    assert_eq!(inc["agreed"], 8, "{server}");
    assert_eq!(server["callbacks"]["toggle_cell"]["agreed"], 1, "{server}");
}
