//! The desktop window under Xvfb: `x64wasm` (not headless) opens a tao/wry
//! window on its own server; a click in the window runs the callback's wasm
//! in WebKit and on the server; a headless Chromium page on the same server
//! follows without reloading, and a click there reaches the window. Closing
//! the window (as a window manager does) ends the process cleanly. It
//! listens on every interface, so every request needs the access token:
//! the window gets in on its own, the page through the printed URL, and a
//! client without the token nowhere.

use crate::support;

use std::path::Path;
use std::time::Duration;

use support::desktop::Xvfb;
use support::server::{node, screenshot_dir};

#[test]
fn window_and_browser_stay_in_sync_and_closing_the_window_exits() {
    let x = Xvfb::start();
    let (mut app, window) = x.open_app_with(
        Path::new(env!("CARGO_BIN_EXE_x64wasm")),
        "x64wasm demo",
        &["--bind", "0.0.0.0"],
    );
    let token = app.token.clone().expect("the printed URL has the token");
    assert_eq!(token.len(), 32, "{}", app.url);
    // Without the token (or with another), nothing: not the page, the
    // state, the modules, the stream or a click.
    let address = app.address.clone();
    let wrong = format!("Bearer {}", "0".repeat(32));
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/state"),
        ("GET", "/debug/stats"),
        ("GET", "/wasm/increment_counter"),
        ("GET", "/view.wasm"),
        ("GET", "/events"),
        ("GET", "/runtime/main.js"),
        ("POST", "/execute/increment_counter"),
    ] {
        for headers in [vec![], vec![("Authorization", wrong.as_str())]] {
            let reply = support::server::request(&address, method, path, &headers, b"{}");
            assert_eq!(reply.status, 401, "{method} {path} {headers:?}");
            assert!(reply.text().contains("access token"), "{}", reply.text());
        }
    }

    let shot = screenshot_dir().join("desktop.png");
    let page = node(
        "desktop.mjs",
        &[&app.url, &window, shot.to_str().unwrap()],
        &[("DISPLAY", &x.display)],
    );
    assert_eq!(page["afterWindowClick"], "1", "{page}");
    assert_eq!(page["final"], "3", "{page}");
    assert_eq!(
        page["notReloaded"], true,
        "the page followed without reloading"
    );

    let (version, state) = app.state();
    assert_eq!(version, 3);
    assert_eq!(i64::from_le_bytes(state[..8].try_into().unwrap()), 3);
    // All three clicks (window, page, window) ran the wasm in their view and
    // predicted the server's result on the version the server ran them on:
    // so the window's second click was made on top of the page's click.
    let s = &app.stats()["callbacks"]["increment_counter"];
    assert_eq!(s["executed"], 3, "{s}");
    assert_eq!(s["predicted"], 3, "{s}");
    assert_eq!(s["agreed"], 3, "{s}");
    assert_eq!(s["stale"], 0, "{s}");
    assert!(std::fs::metadata(&shot)
        .map(|m| m.len() > 10_000)
        .unwrap_or(false));

    x.close_window(&window);
    let status = app
        .wait_exit(Duration::from_secs(20))
        .expect("exits when the window closes");
    assert!(status.success(), "{status}: {}", app.output());
    assert!(app.output().contains("window closed"));
}
