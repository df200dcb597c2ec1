//! TodoMVC (`examples/todomvc.rs`): the TodoMVC
//! specification scripted in headless Chromium (`browser/todomvc.mjs`), two
//! pages with their own filters and edits, the latency simulator, a
//! restart with `--state-file`, and the desktop window typed into with
//! xdotool.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::desktop::Xvfb;
use support::server::{example_binary, node, screenshot_dir, App, NodeScript};

/// The callbacks of the example, every one of which the script runs.
const CALLBACKS: [&str; 11] = [
    "set_draft",
    "add_todo",
    "toggle_todo",
    "toggle_all",
    "destroy_todo",
    "clear_completed",
    "start_editing",
    "set_edit_text",
    "save_edit",
    "cancel_edit",
    "show_filter",
];

#[test]
fn todomvc_follows_the_specification_in_chromium_and_survives_a_restart() {
    let binary = example_binary("todomvc");
    let dir = std::env::temp_dir().join(format!("x64wasm-todomvc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("todos.bin");
    let file_arg = file.to_str().unwrap();
    let app = App::start(
        &binary,
        &[
            "--headless",
            "--port",
            "0",
            "--state-file",
            file_arg,
            "--rate-limit",
            "0",
        ],
        &[],
    );
    assert!(
        app.output()
            .contains("11 callback(s), 11 transpiled to wasm"),
        "{}",
        app.output()
    );
    assert!(
        app.output()
            .contains("the view (render and diff) transpiled"),
        "{}",
        app.output()
    );
    let shot = screenshot_dir().join("todomvc.png");
    let page = node(
        "todomvc.mjs",
        &[&app.url],
        &[("SCREENSHOT", shot.to_str().unwrap())],
    );
    let checks = page["checks"].as_object().unwrap();
    let failed: Vec<String> = checks
        .iter()
        .filter(|(_, v)| **v != true)
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}\n{page}");
    assert!(checks.len() >= 40, "{page}");
    for stats in page["stats"].as_array().unwrap() {
        // both pages rendered themselves, and the module never failed
        assert!(stats["viewRuns"].as_u64().unwrap() > 0, "{page}");
        assert_eq!(stats["viewFailures"], 0, "{page}");
        assert_eq!(stats["serverOnly"], 0, "{page}");
        assert_eq!(stats["failures"], serde_json::json!([]), "{page}");
        assert_eq!(stats["resyncs"], 0, "{page}");
    }
    assert!(!page["console"].to_string().contains("pageerror"), "{page}");
    // Every click, key and input ran the wasm in the page, and the server
    // found each prediction equal to its own result.
    let stats = app.stats();
    for name in CALLBACKS {
        let s = &stats["callbacks"][name];
        assert!(s["executed"].as_u64().unwrap_or(0) >= 1, "{name}: {stats}");
        assert_eq!(s["predicted"], s["executed"], "{name}: {stats}");
        assert_eq!(s["disagreed"], 0, "{name}: {stats}");
    }

    // The todos survive a restart; views start again from the initial view
    // state (docs/guide.md, "Per-view state").
    let (version, state) = app.state();
    drop(app);
    let again = App::start(
        &binary,
        &["--headless", "--port", "0", "--state-file", file_arg],
        &[],
    );
    assert_eq!(
        again.state(),
        (version, state.clone()),
        "{}",
        again.output()
    );
    let count = u32::from_le_bytes(state[..4].try_into().unwrap());
    assert_eq!(count, 3, "call mum, shared one, from A while B types");
    let html = again.get("/").text();
    assert!(html.contains("from A while B types"), "{html}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_todo_typed_into_the_desktop_window_reaches_the_browser() {
    let x = Xvfb::start();
    let (mut app, window) = x.open_app(&example_binary("todomvc"), "TodoMVC");
    let page = node(
        "todomvc_window.mjs",
        &[&app.url, &window],
        &[("DISPLAY", &x.display)],
    );
    assert_eq!(
        page["labels"],
        serde_json::json!(["typed in the window"]),
        "{page}"
    );
    assert_eq!(
        page["field"], "",
        "the browser's own field is untouched: {page}"
    );
    let stats = app.stats();
    for name in ["set_draft", "add_todo"] {
        let s = &stats["callbacks"][name];
        assert!(s["executed"].as_u64().unwrap_or(0) >= 1, "{name}: {stats}");
        assert_eq!(s["predicted"], s["executed"], "{name}: {stats}");
        assert_eq!(s["disagreed"], 0, "{name}: {stats}");
    }
    x.close_window(&window);
    let status = app
        .wait_exit(Duration::from_secs(20))
        .expect("exits when the window closes");
    assert!(status.success(), "{status}: {}", app.output());
}

#[test]
fn requests_name_their_view_and_a_bad_one_is_a_clear_error() {
    let app = App::start(
        &example_binary("todomvc"),
        &["--headless", "--port", "0"],
        &[],
    );
    let page = app.get("/").text();
    let view = page
        .split("data-view=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page names its view")
        .to_string();
    assert!(page.contains("data-view-offset=\""), "{page}");
    let unknown = "0".repeat(64); // not one the server issued
                                  // (callback, body, status, message)
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "set_draft",
            r#"{"args":["x"]}"#.into(),
            400,
            "`set_draft` takes a view's state: the body must name the view",
        ),
        (
            "set_draft",
            format!(r#"{{"args":["x"],"view":"{unknown}"}}"#),
            409,
            "no view `0000000000000000000000000000000000000000000000000000000000000000`",
        ),
        (
            "set_draft",
            r#"{"args":["x"],"view":"nope"}"#.into(),
            400,
            "`view` must be a view id (64 hex digits)",
        ),
        (
            "add_todo",
            format!(r#"{{"args":["first"],"view":"{view}"}}"#),
            200,
            "",
        ),
        // a callback of the shared state alone needs no view
        ("toggle_all", r#"{"args":[true]}"#.into(), 200, ""),
        (
            "set_draft",
            format!(r#"{{"args":["typed"],"view":"{view}"}}"#),
            200,
            "",
        ),
    ];
    for (name, body, status, message) in cases {
        let reply = app.post(&format!("/execute/{name}"), &body);
        assert_eq!(reply.status, status, "{name} {body}: {}", reply.text());
        assert!(
            reply.text().contains(message),
            "{name} {body}: {}",
            reply.text()
        );
    }
    let (version, state) = app.state();
    assert_eq!(version, 2, "the view's draft is not shared state");
    assert_eq!(u32::from_le_bytes(state[..4].try_into().unwrap()), 1);
    let events = app.get("/events");
    assert_eq!(events.status, 400, "{}", events.text());
    assert!(events.text().contains("`?view=`"), "{}", events.text());
}

#[test]
fn a_page_lives_through_a_restart_with_the_saved_todos_and_a_fresh_view_state() {
    let binary = example_binary("todomvc");
    let dir = std::env::temp_dir().join(format!("x64wasm-todomvc-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("todos.bin");
    let start = |port: &str| {
        App::start(
            &binary,
            &[
                "--headless",
                "--port",
                port,
                "--state-file",
                file.to_str().unwrap(),
            ],
            &[],
        )
    };
    let first = start("0");
    let port = first.address.rsplit(':').next().unwrap().to_string();
    let mut page = NodeScript::start("todomvc_restart.mjs", &[&first.url], &[]);
    let before = page.next();
    assert_eq!(
        before["labels"],
        serde_json::json!(["before restart"]),
        "{before}"
    );
    assert_eq!(before["selected"], "Active", "{before}");
    drop(first);
    let second = start(&port);
    page.go();
    let result = page.next();
    assert!(result["error"].is_null(), "{result}");
    // The todos were saved; the view state (filter, draft) starts again
    let after = &result["afterRestart"];
    assert_eq!(
        after["labels"],
        serde_json::json!(["before restart"]),
        "{result}"
    );
    assert_eq!(after["selected"], "All", "{result}");
    assert_eq!(after["draft"], "", "{result}");
    assert_eq!(
        result["labels"],
        serde_json::json!(["before restart", "after restart"]),
        "{result}"
    );
    assert_eq!(result["notReloaded"], true, "{result}");
    assert_eq!(
        result["stats"]["failures"],
        serde_json::json!([]),
        "{result}"
    );
    let stats = second.stats();
    assert_eq!(stats["callbacks"]["add_todo"]["agreed"], 1, "{stats}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `data:` of the next `events` patch events on `stream` (resets
/// are passed over when `resets` is false).
fn next_events(
    stream: &mut BufReader<TcpStream>,
    events: usize,
    resets: bool,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut line = String::new();
    while out.len() < events {
        line.clear();
        let n = stream
            .read_line(&mut line)
            .expect("an event within the timeout");
        assert!(n > 0, "the stream ended");
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            let value: serde_json::Value = serde_json::from_str(data).unwrap();
            if value.get("from").is_some() || (resets && value.get("html").is_some()) {
                out.push(value);
            }
        }
    }
    out
}

/// A new view of `app` (a page load): its id and version.
fn new_view(app: &App) -> (String, u64) {
    let page = app.get("/").text();
    let attribute = |name: &str| {
        page.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_string()
    };
    let version = attribute("data-version").parse().unwrap();
    (attribute("data-view"), version)
}

/// `/events` of `view` from `version`, with `query` appended.
fn view_stream(app: &App, view: &str, version: u64, query: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(&app.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "GET /events?since={version}&view={view}{query} HTTP/1.1\r\nHost: {}\r\n\r\n",
        app.address
    );
    stream.write_all(request.as_bytes()).unwrap();
    BufReader::new(stream)
}

fn todomvc() -> App {
    App::start(
        &example_binary("todomvc"),
        &["--headless", "--port", "0", "--rate-limit", "0"],
        &[],
    )
}

#[test]
fn a_page_that_renders_itself_is_sent_state_alone() {
    // (query, patches sent, the view's hash sent)
    let cases = [
        ("", true, true),
        ("&render=page", false, false),
        ("&render=page&check=1", false, true),
    ];
    let app = todomvc();
    for (query, patches, hash) in cases {
        let (view, version) = new_view(&app);
        let mut stream = view_stream(&app, &view, version, query);
        for (name, args) in [("add_todo", r#"["walk the dog"]"#), ("toggle_todo", "[0]")] {
            let reply = app.post(
                &format!("/execute/{name}"),
                &format!(r#"{{"args":{args},"view":"{view}"}}"#),
            );
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
        // (one event may cover both clicks)
        let mut events = next_events(&mut stream, 1, false);
        while events.last().unwrap()["version"] != version + 2 {
            events.extend(next_events(&mut stream, 1, false));
        }
        for event in events {
            assert_eq!(event.get("patches").is_some(), patches, "{query}: {event}");
            assert_eq!(event.get("view").is_some(), hash, "{query}: {event}");
            assert!(!event["state"].as_array().unwrap().is_empty(), "{event}");
            assert_eq!(event["sha"].as_str().unwrap().len(), 16, "{event}");
        }
    }
}

#[test]
fn every_stream_of_a_view_hears_its_own_change() {
    // A page that reconnects while its old connection is still open has two
    // streams for one view: a view-only callback must reach both.
    let app = todomvc();
    let (view, version) = new_view(&app);
    let mut streams: Vec<_> = (0..2)
        .map(|_| view_stream(&app, &view, version, "&render=page"))
        .collect();
    app.wait_views(2, Duration::from_secs(10), "both streams open");
    let reply = app.post(
        "/execute/show_filter",
        &format!(r#"{{"args":[2],"view":"{view}"}}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    for stream in &mut streams {
        let event = &next_events(stream, 1, true)[0];
        assert_eq!(event["version"], version + 1, "{event}");
        // each stream patches from what it sent itself: no reset
        assert!(event.get("from").is_some(), "{event}");
    }
}

#[test]
fn a_view_id_the_server_did_not_issue_names_no_view() {
    let app = todomvc();
    let (issued, version) = new_view(&app);
    // (the id named: one of another server, one made up, one issued and
    // then changed in its last digit)
    let mut changed = issued.clone().into_bytes();
    changed[63] = if changed[63] == b'0' { b'1' } else { b'0' };
    let forged = [
        "0".repeat(64),
        String::from_utf8(changed).unwrap(),
        new_view(&todomvc()).0,
    ];
    for named in &forged {
        // a click naming it is refused, and makes no view
        let click = format!(r#"{{"args":["x"],"view":"{named}"}}"#);
        let reply = app.post("/execute/set_draft", &click);
        assert_eq!(reply.status, 409, "{named}: {}", reply.text());
        // a stream naming it gets a reset with a view the server made
        let mut stream = view_stream(&app, named, version, "");
        let reset = &next_events(&mut stream, 1, true)[0];
        let id = reset["id"].as_str().expect("a new id").to_string();
        assert_ne!(&id, named);
        assert_eq!(id.len(), 64, "{reset}");
        let click = format!(r#"{{"args":["x"],"view":"{id}"}}"#);
        assert_eq!(app.post("/execute/set_draft", &click).status, 200);
    }
    // the issued id goes on as it is
    let mut stream = view_stream(&app, &issued, version, "");
    let click = format!(r#"{{"args":["y"],"view":"{issued}"}}"#);
    assert_eq!(app.post("/execute/set_draft", &click).status, 200);
    let event = &next_events(&mut stream, 1, false)[0];
    assert!(event.get("id").is_none(), "{event}");
}
