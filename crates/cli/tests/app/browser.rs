//! The demo in Debian's headless Chromium: clicks run the callbacks' wasm in
//! the page (the server confirms each prediction), the server runs them
//! natively, and the page shows the server's state.

use crate::support;

use base64::prelude::{Engine, BASE64_STANDARD};
use support::server::{node, screenshot_dir, App, NodeScript};

/// One Game of Life step on the 16×16 torus, written independently of the demo.
fn life_step(cells: &[u8]) -> Vec<u8> {
    (0..256)
        .map(|i| {
            let (r, c) = (i / 16, i % 16);
            let mut n = 0;
            for dr in [15, 0, 1] {
                for dc in [15, 0, 1] {
                    if (dr, dc) != (0, 0) {
                        n += cells[(r + dr) % 16 * 16 + (c + dc) % 16];
                    }
                }
            }
            (n == 3 || (cells[i] == 1 && n == 2)) as u8
        })
        .collect()
}

fn u64_at(state: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(state[offset..offset + 8].try_into().unwrap())
}

/// Field offsets of `DemoState` (repr(C)): counter 0, step 8, generation 12,
/// seed 16, number 24, gcd 32, collatz 40, fibonacci 48, cells 56.
const NUMBER: usize = 24;
const GCD: usize = 32;
const COLLATZ: usize = 40;
const FIBONACCI: usize = 48;
const CELLS: usize = 56;

#[test]
fn clicks_in_chromium_run_wasm_and_the_page_shows_the_servers_state() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let shot = screenshot_dir().join("browser.png");
    let page = node("demo.mjs", &[&app.url, shot.to_str().unwrap()], &[]);

    // Part one: +3 -1 on the counter, a glider, one step.
    let glider = &page["glider"];
    assert_eq!(glider["version"], 10, "3 + 1 + 5 + 1 clicks: {page}");
    assert_eq!(glider["counter"], "2");
    let state = BASE64_STANDARD
        .decode(glider["state"].as_str().unwrap())
        .unwrap();
    assert_eq!(u64_at(&state, 0), 2, "counter after +3 -1");
    let mut cells = vec![0u8; 256];
    for i in [1, 18, 32, 33, 34] {
        cells[i] = 1;
    }
    let expected = life_step(&cells);
    assert_eq!(
        &state[CELLS..CELLS + 256],
        &expected[..],
        "board after one step"
    );
    let alive: Vec<u64> = (0..256)
        .filter(|&i| expected[i] == 1)
        .map(|i| i as u64)
        .collect();
    let shown: Vec<u64> = glider["alive"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(shown, alive, "the page draws the board it holds");

    // Part two: every other button once. The page ends on the server's bytes.
    // 24 versions; 25 when a stall of over 150 ms between two keystrokes
    // (a loaded machine) split the typing into two debounced calls
    let (version, state) = app.state();
    assert!(version == 24 || version == 25, "version {version}");
    assert_eq!(page["version"], version);
    assert_eq!(
        BASE64_STANDARD
            .decode(page["state"].as_str().unwrap())
            .unwrap(),
        state,
        "the page holds the server's state bytes"
    );
    let n = 27 + 1000;
    assert_eq!(u64_at(&state, NUMBER), n);
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    assert_eq!(u64_at(&state, GCD), gcd(n, 462));
    let mut steps = 0;
    let mut x = n;
    while x != 1 {
        x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
        steps += 1;
    }
    assert_eq!(u64_at(&state, COLLATZ), steps);
    let fib = (0..n % 94)
        .fold((0u64, 1u64), |(a, b), _| (b, a.wrapping_add(b)))
        .0;
    assert_eq!(u64_at(&state, FIBONACCI), fib);
    assert_eq!(u64_at(&state, 0), 25, "reset, then one step of 25");
    assert!(state[CELLS..CELLS + 256].iter().all(|&c| c == 0), "cleared");
    // Describe (write! into a buffer) and Busiest rows (a sorted Vec) ran
    // as wasm like the rest; what they wrote is in the page
    let label = page["label"].as_str().unwrap_or_default();
    assert_eq!(label, "27 × 25 = 6.750e2, generation 1", "{page}");
    assert!(
        !page["busiest"].as_str().unwrap_or_default().is_empty(),
        "{page}"
    );
    // Typed text reached set_label as a debounced call (or two, above), in
    // the page as wasm and on the server; the bound label shows the
    // state's FixedStr
    assert_eq!(page["typed"], "CRÈME BRÛLÉE 東京 🦀", "{page}");
    let shown = page["shown"].to_string();
    assert!(
        shown.contains(&format!("\"{fib}\"")),
        "bound fields show the result: {shown}"
    );

    // Every click ran the transpiled wasm in the page, and the server found
    // the predicted state equal to its own result on the same version.
    // (one click, or one debounced call, each: as many as versions)
    assert_eq!(page["stats"]["wasmRuns"], version, "{page}");
    assert_eq!(page["stats"]["serverOnly"], 0, "{page}");
    // Every change reached the page as a patch event (no whole-body reset).
    assert_eq!(page["stats"]["patches"], version, "{page}");
    assert_eq!(page["stats"]["resets"], 0, "{page}");
    assert_eq!(page["stats"]["resyncs"], 0, "{page}");
    let stats = app.stats();
    let callbacks = stats["callbacks"].as_object().unwrap();
    assert_eq!(
        callbacks.len(),
        16,
        "every demo callback was clicked: {stats}"
    );
    for (name, s) in callbacks {
        assert!(s["executed"].as_u64().unwrap() >= 1, "{name}: {s}");
        assert_eq!(s["predicted"], s["executed"], "{name}: {s}");
        assert_eq!(s["agreed"], s["executed"], "{name}: {s}");
        assert_eq!(s["disagreed"], 0, "{name}: {s}");
    }
    let console = page["console"].to_string();
    assert!(!console.contains("pageerror"), "{console}");
}

#[test]
fn a_views_clicks_run_on_the_server_in_the_order_they_were_made() {
    // Three Increments and a Reset clicked in one go, 30 times: the server
    // must run each view's clicks in order (posted in parallel, Reset could
    // overtake the Increments: 18 of 30 rounds ended at 1-3 that way).
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let page = node("order.mjs", &[&app.url, "30"], &[]);
    let zeros = vec![serde_json::json!("0"); 30];
    assert_eq!(page["counters"], serde_json::json!(zeros), "{page}");
    assert_eq!(page["predicted"], serde_json::json!(zeros), "{page}");
    assert_eq!(page["stats"]["wasmRuns"], 120, "{page}");
    assert_eq!(page["stats"]["failures"], serde_json::json!([]), "{page}");
    let stats = &app.stats()["callbacks"];
    for name in ["increment_counter", "reset_counter"] {
        assert_eq!(stats[name]["disagreed"], 0, "{stats}");
        assert_eq!(stats[name]["stale"], 0, "{stats}");
    }
    assert_eq!(stats["increment_counter"]["agreed"], 90, "{stats}");
    assert_eq!(stats["reset_counter"]["agreed"], 30, "{stats}");
}

#[test]
fn the_board_shows_a_flip_and_a_step_at_once_and_a_focused_field_keeps_its_text() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let page = node("bound.mjs", &[&app.url], &[]);
    let cell = &page["cell"];
    assert_eq!(cell["before"]["alive"], false, "{page}");
    assert_eq!(
        cell["alive"], true,
        "the bound class changed within one frame: {page}"
    );
    assert_eq!(
        cell["version"], cell["before"]["version"],
        "before the server answered (300 ms away): {page}"
    );
    assert_eq!(
        cell["stepped"],
        serde_json::json!([25, 41, 57]),
        "a step drawn within one frame: {page}"
    );
    assert_eq!(
        cell["count"], "Generation 1, 3 alive. Click a cell to flip it.",
        "{page}"
    );
    assert_eq!(
        cell["versionAfterStep"], cell["before"]["version"],
        "{page}"
    );
    assert_eq!(page["stats"]["viewFailures"], 0, "{page}");
    assert_eq!(page["stats"]["viewMismatches"], 0, "{page}");
    let field = &page["field"];
    assert_eq!(field["value"], "typing here", "{page}");
    assert_eq!(field["caret"], serde_json::json!([1, 1]), "{page}");
    assert_eq!(field["focused"], true, "{page}");
    assert_eq!(field["counter"], "5", "B's clicks reached A: {page}");
    assert_eq!(page["stats"]["serverOnly"], 0, "{page}");
    let stats = &app.stats()["callbacks"];
    for name in ["toggle_cell", "set_label", "increment_counter"] {
        assert_eq!(stats[name]["disagreed"], 0, "{name}: {stats}");
    }
    assert!(!page["console"].to_string().contains("pageerror"), "{page}");
}

#[test]
fn twenty_tabs_of_one_browser_all_load_and_see_every_click() {
    // A browser opens at most 6 HTTP/1.1 connections per host: with one
    // event stream per tab on them, a sixth tab left no connection for
    // clicks and page loads (tabs 7 and 8 never loaded). The streams are
    // WebSockets now, which that pool does not count.
    let tabs = 20;
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let result = node("tabs.mjs", &[&app.url, &tabs.to_string()], &[]);
    let base = result["base"].as_u64().unwrap();
    let shown = result["shown"].as_array().unwrap();
    assert_eq!(shown.len(), tabs, "{result}");
    for (i, tab) in shown.iter().enumerate() {
        assert_eq!(tab["version"], base + tabs as u64, "tab {i}: {result}");
        assert_eq!(tab["counter"], tabs.to_string(), "tab {i}: {result}");
        assert_eq!(tab["stats"]["viewMismatches"], 0, "tab {i}: {result}");
    }
    assert_eq!(result["console"], serde_json::json!([]), "{result}");
    assert_eq!(
        result["views"], tabs,
        "every tab's stream is open: {result}"
    );
    let (version, _) = app.state();
    assert_eq!(version, base + tabs as u64);
}

#[test]
fn a_click_without_an_answer_is_shown_as_pending_until_it_is_in() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &app.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let mut script = NodeScript::start("pending.mjs", &[&app.url], &[]);
    let result = loop {
        let message = script.next();
        match message["need"].as_str() {
            Some("stop") => signal("STOP"),
            Some("continue") => signal("CONT"),
            _ => break message,
        }
        script.go();
    };
    assert!(result["error"].is_null(), "{result}");
    assert_eq!(result["predicted"], "2", "predicted at once: {result}");
    assert_eq!(result["pending"]["role"], "status", "{result}");
    assert_eq!(
        result["pending"]["text"], "Waiting for the server: 2 changes not confirmed yet",
        "{result}"
    );
    let after = result["shownAfterMs"].as_u64().unwrap();
    assert!(
        (2_500..10_000).contains(&after),
        "shown after {after} ms: {result}"
    );
    assert_eq!(result["counter"], "2", "{result}");
    assert_eq!(app.state().0, 2);
}

#[test]
fn no_other_site_can_frame_the_app() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let result = node("framed.mjs", &[&app.url], &[]);
    // Chromium shows its error page in place of a refused frame
    assert_ne!(result["buttons"], 16, "the frame showed the app: {result}");
    assert!(
        result["frameUrl"]
            .as_str()
            .unwrap()
            .starts_with("chrome-error:"),
        "{result}"
    );
    assert_eq!(app.state().0, 0, "no click got through: {result}");
}

#[test]
fn the_page_works_with_site_data_blocked() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let result = node("blocked.mjs", &[&app.url], &[]);
    assert_eq!(
        result["storageBlocked"], true,
        "the profile blocks site data: {result}"
    );
    assert_eq!(result["counter"], "2", "{result}");
    assert_eq!(result["stats"]["wasmRuns"], 2, "{result}");
    assert_eq!(
        result["stats"]["failures"],
        serde_json::json!([]),
        "{result}"
    );
    let said: Vec<&str> = result["console"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| m.contains("cannot keep settings"))
        .collect();
    assert_eq!(said.len(), 1, "said once: {result}");
    assert_eq!(app.state().0, 2);
}

#[test]
fn clicks_made_while_the_server_is_dead_go_in_once_after_it_restarts_even_across_a_reload() {
    // The server is killed (SIGKILL) and started again 20 s later on the
    // same port and state file; meanwhile the page makes 50 clicks, then
    // 10 more across a reload. Each goes in exactly once, in order.
    let dir = std::env::temp_dir().join(format!("x64wasm-outage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.bin");
    let port = support::scale::free_port().to_string();
    let args = [
        "--headless",
        "--port",
        &port,
        "--state-file",
        file.to_str().unwrap(),
        "--rate-limit",
        "0",
    ];
    let mut app = Some(App::demo(&args));
    let url = app.as_ref().unwrap().url.clone();
    let mut script = NodeScript::start("outage.mjs", &[&url], &[]);
    let mut killed = std::time::Instant::now();
    let result = loop {
        let message = script.next();
        match message["need"].as_str() {
            Some("kill") => {
                let pid = app.as_ref().unwrap().pid().to_string();
                let status = std::process::Command::new("kill")
                    .args(["-KILL", &pid])
                    .status()
                    .unwrap();
                assert!(status.success());
                app = None;
                killed = std::time::Instant::now();
            }
            Some("restart") => {
                let down = std::time::Duration::from_secs(20);
                std::thread::sleep(down.saturating_sub(killed.elapsed()));
                app = Some(App::demo(&args));
            }
            _ => break message,
        }
        script.go();
    };
    assert!(result["error"].is_null(), "{result}");
    assert_eq!(result["predicted"], "29", "the page went on: {result}");
    assert_eq!(
        result["offline"]["text"], "Offline: 50 changes waiting, sent when the server is back",
        "{result}"
    );
    assert_eq!(result["offline"]["role"], "status");
    assert_eq!(result["offline"]["inRoot"], "x64wasm", "in the app root");
    // 20 Increments, a Reset, 29 Increments, each once and in order
    assert_eq!(result["after"], "29", "{result}");
    assert_eq!(result["inText"], "All changes are in", "{result}");
    assert_eq!(result["reloadFailed"], true, "the reload met no server");
    assert_eq!(result["reloaded"], "39", "{result}");
    assert_eq!(result["stats"]["viewMismatches"], 0, "{result}");
    let app = app.unwrap();
    let (version, state) = app.state();
    assert_eq!(version, 60, "every click once: {result}");
    assert_eq!(i64::from_le_bytes(state[..8].try_into().unwrap()), 39);
    // the clicks tried while it was dead came back marked as sent before
    let resent = app.get("/debug/stats").json()["resent"].as_u64().unwrap();
    assert!((1..=60).contains(&resent), "{resent} resent: {result}");
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_page_whose_server_restarted_with_a_new_token_says_so_and_keeps_its_clicks() {
    // A random token is new at every start: the page's cookie is then the
    // old one's, and its clicks get 401. It says so, keeps them, and sends
    // them once the new URL is opened in the tab.
    let port = support::scale::free_port().to_string();
    let start = |token: &str| App::demo(&["--headless", "--port", &port, "--token", token]);
    let mut app = start("first-token-of-this-test");
    let new_url = format!("http://127.0.0.1:{port}/?token=second-token-of-this-test");
    let mut script = NodeScript::start("token.mjs", &[&app.url, &new_url], &[]);
    let message = script.next();
    assert_eq!(message["need"], "restart", "{message}");
    drop(app);
    app = start("second-token-of-this-test");
    script.go();
    let result = script.next();
    assert!(result["error"].is_null(), "{result}");
    assert_eq!(
        result["asked"],
        "3 changes waiting: the server asks for its access token again \
         (it started with a new one); open the URL it printed, in this tab",
        "{result}"
    );
    assert_eq!(result["waiting"], 3, "{result}");
    assert_eq!(result["after"], "3", "{result}");
    assert_eq!(app.state().0, 3, "each once: {result}");
}

#[test]
fn two_thousand_clicks_through_a_network_that_drops_connections_each_go_in_once() {
    // 4 pages, 500 clicks each, all through a proxy that closes every
    // connection after a random number of bytes (mid-request, mid-answer,
    // mid-stream): each click is sent until answered, and runs once.
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let proxy = support::proxy::Proxy::start_dropping(&app.address, 400_000, 26);
    let url = format!("http://{}/", proxy.address);
    let mut script = NodeScript::start("dropping.mjs", &[&url, "4", "500"], &[]);
    let result = loop {
        let message = script.next();
        match message["need"].as_str() {
            Some("drop") => proxy.drop_at_random(),
            _ => break message,
        }
        script.go();
    };
    assert!(result["error"].is_null(), "{result}");
    for stats in result["stats"].as_array().unwrap() {
        assert_eq!(stats["wasmRuns"], 500, "{result}");
        assert_eq!(stats["failures"], serde_json::json!([]), "{result}");
    }
    // (Chromium sends a request again itself when a reused connection
    // closed before any answer: the page may not see the drops it meets)
    assert!(proxy.dropped() > 0, "the network dropped nothing: {result}");
    let (version, state) = app.state();
    assert_eq!(
        version,
        2000,
        "every click once ({} connections dropped): {result}",
        proxy.dropped()
    );
    assert_eq!(i64::from_le_bytes(state[..8].try_into().unwrap()), 2000);
}
