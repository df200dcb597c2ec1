//! Every route of the server and every error status, over real sockets on a
//! port the OS picked (docs/protocol.md), plus the command line's server options.

use crate::support;

use base64::prelude::{Engine, BASE64_STANDARD};

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::server::{App, Reply};

const CSP: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'";

fn assert_json_error(reply: &Reply, status: u16, contains: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let error = reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains(contains),
        "{error:?} should contain {contains:?}"
    );
}

#[test]
fn static_routes_page_and_state() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let cases: &[(&str, &str, &str)] = &[
        (
            "/",
            "text/html; charset=utf-8",
            r#"data-call="increment_counter""#,
        ),
        (
            "/runtime/main.js",
            "text/javascript; charset=utf-8",
            "new WebSocket(",
        ),
        (
            "/runtime/sync.js",
            "text/javascript; charset=utf-8",
            "export class Sync",
        ),
        ("/style.css", "text/css; charset=utf-8", ".board"),
        ("/state", "application/json", "\"version\":0"),
        ("/debug/stats", "application/json", "\"callbacks\""),
    ];
    for (path, content_type, contains) in cases {
        let reply = app.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(*content_type), "{path}");
        assert_eq!(reply.header("content-security-policy"), Some(CSP), "{path}");
        assert!(reply.text().contains(contains), "{path}: {}", reply.text());
    }
    // The page works without scripts: the view is server-rendered, with the
    // state, version and signatures the runtime needs.
    let page = app.get("/").text();
    assert!(
        page.contains(r#"<span data-bind="0:i64">0</span>"#),
        "{page}"
    );
    assert!(page.contains(r#"data-version="0""#));
    assert!(page.contains("&quot;add_step_clamped&quot;:{&quot;params&quot;:[&quot;i32&quot;,&quot;i32&quot;],&quot;result&quot;:&quot;i64&quot;,&quot;takes&quot;:&quot;shared&quot;}"));
    assert!(!page.contains(" onclick"), "no inline handlers");
    assert!(page.contains(r#"<script type="module" src="/runtime/main.js"></script>"#));
    assert_eq!(app.get("/runtime/nope.js").status, 404);
    let (version, state) = app.state();
    assert_eq!(
        (version, state.len()),
        (0, 392),
        "the demo's DemoState is 392 bytes"
    );
}

#[test]
fn view_mismatch_reports_are_checked_counted_and_held_to_the_click_rate() {
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "2"]);
    let report = |page: &str| {
        app.post(
            "/debug/view-mismatch",
            &format!(r#"{{"version":0,"page":"{page}","server":"00000000000000ff"}}"#),
        )
    };
    // (body's page hash, status)
    let unknown = app.post(
        "/debug/view-mismatch",
        r#"{"version":0,"page":"0000000000000001","server":"00000000000000ff","x":1}"#,
    );
    assert_eq!(unknown.status, 400, "unknown keys: {}", unknown.text());
    let cases = [
        ("00000000000000FF", 400), // the same hash: no mismatch
        ("0000000000000001", 204),
        ("nothex!!nothex!!", 400),
    ];
    for (page, status) in cases {
        let reply = report(page);
        assert_eq!(reply.status, status, "{page}: {}", reply.text());
    }
    assert_eq!(app.stats()["view_mismatches"], 1);
    // a burst of 2 per second per address, as for clicks
    let statuses: Vec<u16> = (0..6).map(|_| report("0000000000000002").status).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(app.stats()["view_mismatches"].as_u64().unwrap() <= 1 + 4);
}

#[test]
fn what_a_page_loads_is_gzipped_for_browsers_that_accept_it() {
    let app = App::demo(&["--headless", "--port", "0"]);
    // (path, how many times smaller gzipped at least, whether it has an
    // ETag: the page is `no-store`, made anew for every version)
    let cases = [
        ("/view.wasm", 3, true),
        ("/wasm/describe_counter", 3, true),
        ("/", 2, false),
        ("/runtime/main.js", 2, true),
        ("/style.css", 2, true),
    ];
    for (path, smaller, has_etag) in cases {
        let plain = app.get(path);
        assert_eq!(plain.status, 200, "{path}: {}", plain.text());
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        let gzipped = app.request(
            "GET",
            path,
            &[("Accept-Encoding", "gzip, deflate, br")],
            b"",
        );
        assert_eq!(gzipped.status, 200, "{path}");
        assert_eq!(gzipped.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(gzipped.header("vary"), Some("Accept-Encoding"), "{path}");
        assert!(
            gzipped.body.len() * smaller < plain.body.len(),
            "{path}: {} bytes gzipped, {} plain",
            gzipped.body.len(),
            plain.body.len()
        );
        // the same module, under an ETag of its own
        let mut gunzip = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip");
        std::io::Write::write_all(gunzip.stdin.as_mut().unwrap(), &gzipped.body).unwrap();
        drop(gunzip.stdin.take());
        let out = gunzip.wait_with_output().unwrap();
        assert_eq!(out.stdout, plain.body, "{path}");
        let refused = app.request("GET", path, &[("Accept-Encoding", "gzip;q=0")], b"");
        assert_eq!(refused.header("content-encoding"), None, "{path}");
        if !has_etag {
            assert_eq!(gzipped.header("etag"), None, "{path}");
            continue;
        }
        let etag = gzipped.header("etag").unwrap().to_string();
        assert_ne!(Some(etag.as_str()), plain.header("etag"), "{path}");
        let again = app.request(
            "GET",
            path,
            &[("Accept-Encoding", "gzip"), ("If-None-Match", &etag)],
            b"",
        );
        assert_eq!(again.status, 304, "{path}");
        // a header repeated on two lines is one list (RFC 9110 §5.3)
        let repeated = app.request(
            "GET",
            path,
            &[("Accept-Encoding", "br"), ("Accept-Encoding", "gzip")],
            b"",
        );
        assert_eq!(repeated.header("content-encoding"), Some("gzip"), "{path}");
        let cached = app.request(
            "GET",
            path,
            &[
                ("Accept-Encoding", "gzip"),
                ("If-None-Match", "\"x\""),
                ("If-None-Match", &etag),
            ],
            b"",
        );
        assert_eq!(cached.status, 304, "{path}");
    }
}

#[test]
fn the_server_renders_only_for_views_that_need_its_render() {
    // (the stream's query, events carry patches, events carry the view's
    // hash, the server renders each version)
    let cases = [
        ("", true, true, true),
        ("&render=page", false, false, false),
        ("&render=page&check=1", false, true, true),
    ];
    for (query, patches, hash, renders) in cases {
        let app = App::demo(&["--headless", "--port", "0"]);
        let renders_now = || app.stats()["renders"].as_u64().unwrap();
        // a page is made once per version
        let page = app.get("/").body;
        let before = renders_now();
        assert_eq!(app.get("/").body, page, "{query}");
        assert_eq!(
            renders_now(),
            before,
            "{query}: the second load renders nothing"
        );
        let mut stream = open_events(&app, &format!("/events?since=0{query}"), "");
        app.wait_views(1, Duration::from_secs(10), "the stream is open");
        let before = renders_now();
        for version in 1..=3 {
            app.post("/execute/increment_counter", "{}");
            let event = next_event(&mut stream);
            assert_eq!(
                event[..2],
                [format!("id: {version}"), "event: patch".into()],
                "{query}"
            );
            let data: serde_json::Value =
                serde_json::from_str(event[2].trim_start_matches("data: ")).unwrap();
            assert_eq!(data.get("patches").is_some(), patches, "{query}: {data}");
            assert_eq!(data.get("view").is_some(), hash, "{query}: {data}");
            assert_eq!(
                data["state"],
                serde_json::json!([[0, BASE64_STANDARD.encode([version])]])
            );
        }
        assert_eq!(renders_now() > before, renders, "{query}");
        // a view that takes patches, up to date at a version the server
        // did not render, gets a reset with the server's render of the next
        // (the patches, when it rendered it)
        let mut late = open_events(&app, "/events?since=3", "");
        app.wait_views(2, Duration::from_secs(10), "the second stream is open");
        app.post("/execute/increment_counter", "{}");
        let event = next_event(&mut late);
        let kind = if renders {
            "event: patch"
        } else {
            "event: reset"
        };
        assert_eq!(
            event[..2],
            ["id: 4".to_string(), kind.to_string()],
            "{query}"
        );
        if !renders {
            assert!(
                event[2].contains(r#"<span data-bind=\"0:i64\">4</span>"#),
                "{}",
                event[2]
            );
        }
        // and the page of the new version shows it
        assert!(app
            .get("/")
            .text()
            .contains(r#"<span data-bind="0:i64">4</span>"#));
    }
}

#[test]
fn wasm_route_serves_validated_modules_with_etags_and_404_for_non_callbacks() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let reply = app.get("/wasm/add_step_clamped");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/wasm"));
    wasmparser::Validator::new()
        .validate_all(&reply.body)
        .expect("valid module");
    let exports: Vec<String> = wasmparser::Parser::new(0)
        .parse_all(&reply.body)
        .filter_map(|p| match p {
            Ok(wasmparser::Payload::ExportSection(s)) => Some(
                s.into_iter()
                    .map(|e| e.unwrap().name.to_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    for name in [
        "add_step_clamped",
        "memory",
        "__heap_base",
        "__stack_pointer",
    ] {
        assert!(exports.iter().any(|e| e == name), "{name} in {exports:?}");
    }
    let etag = reply.header("etag").unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.len() == 66,
        "strong ETag: {etag}"
    );
    let again = app.request(
        "GET",
        "/wasm/add_step_clamped",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let other = app.request(
        "GET",
        "/wasm/add_step_clamped",
        &[("If-None-Match", "\"x\"")],
        b"",
    );
    assert_eq!(
        (other.status, other.header("etag")),
        (200, Some(etag.as_str()))
    );
    // Names that are not registered callbacks are 404 whatever the binary
    // holds: `main` and the transpiler's own functions are symbols too.
    for name in [
        "nope",
        "main",
        "memcpy",
        "x64wasm_unknown",
        "increment_counter%00",
    ] {
        assert_json_error(&app.get(&format!("/wasm/{name}")), 404, "no callback named");
    }
}

#[test]
fn execute_runs_callbacks_and_checks_arguments() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let ok = app.post("/execute/increment_counter", r#"{"args":[]}"#);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json(), serde_json::json!({"version": 1, "ret": null}));
    let ok = app.post("/execute/add_step_clamped", r#"{"args":[-5,5],"base":1}"#);
    assert_eq!(ok.json(), serde_json::json!({"version": 2, "ret": 2}));
    let ok = app.post("/execute/compute_gcd", r#"{"args":["462"]}"#);
    assert_eq!(ok.json()["ret"], 3, "gcd(27, 462), u64 given as a string");
    assert_eq!(
        app.post("/execute/reset_counter", "").status,
        200,
        "an empty body means no arguments"
    );

    let bad: &[(&str, &str, u16, &str)] = &[
        ("nope", "{}", 404, "no callback named `nope`"),
        ("main", "{}", 404, "no callback named `main`"),
        (
            "set_step",
            r#"{"args":[]}"#,
            400,
            "takes 1 argument(s) after the state, got 0",
        ),
        (
            "set_step",
            r#"{"args":[1,2]}"#,
            400,
            "takes 1 argument(s) after the state, got 2",
        ),
        (
            "set_step",
            r#"{"args":["x"]}"#,
            400,
            "argument 1 must be i32",
        ),
        (
            "set_step",
            r#"{"args":[1.5]}"#,
            400,
            "argument 1 must be i32",
        ),
        (
            "set_step",
            r#"{"args":[4294967296]}"#,
            400,
            "argument 1 must be i32",
        ),
        (
            "toggle_cell",
            r#"{"args":[-1]}"#,
            400,
            "argument 1 must be u32",
        ),
        ("set_step", r#"{"args":[1"#, 400, "malformed JSON"),
        ("set_step", r#"[1]"#, 400, "must be a JSON object"),
        ("set_step", r#"{"args":1}"#, 400, "`args` must be an array"),
        (
            "set_step",
            r#"{"args":[1],"base":-1}"#,
            400,
            "`base` must be a version number",
        ),
        (
            "set_step",
            r#"{"args":[1],"predicted":"abc"}"#,
            400,
            "`predicted` must be a SHA-256",
        ),
    ];
    for (name, body, status, message) in bad {
        let reply = app.post(&format!("/execute/{name}"), body);
        assert_json_error(&reply, *status, message);
    }
    let (version, _) = app.state();
    assert_eq!(version, 4, "rejected requests change nothing");

    let huge = format!(r#"{{"args":[1],"pad":"{}"}}"#, "x".repeat(70_000));
    assert_json_error(
        &app.post("/execute/set_step", &huge),
        413,
        "request body is larger than 65536 bytes",
    );
    assert_eq!(
        app.post("/execute/set_step", r#"{"args":[5]}"#).status,
        200,
        "still serving"
    );
}

#[test]
fn text_arguments_at_their_limits() {
    // The demo's set_label(text) trims and upper-cases into a FixedStr<64>
    // at byte 312 of the state: a little-endian u32 length, then the bytes.
    const LABEL: usize = 312;
    let app = App::demo(&["--headless", "--port", "0"]);
    let label = |app: &App| {
        let (_, state) = app.state();
        let len = u32::from_le_bytes(state[LABEL..LABEL + 4].try_into().unwrap()) as usize;
        String::from_utf8(state[LABEL + 4..LABEL + 4 + len].to_vec()).unwrap()
    };
    let limit = "a".repeat(4096);
    let accents = "é".repeat(2048);
    let cjk = "東".repeat(30);
    // (text, the label it makes: cut on a char boundary at 64 bytes)
    let ok: &[(&str, String)] = &[
        ("", String::new()),
        ("a", "A".into()),
        ("  crème 東京 🦀 ", "CRÈME 東京 🦀".into()),
        (&limit, "A".repeat(64)),
        (&accents, "É".repeat(32)),
        (&cjk, "東".repeat(21)),
    ];
    for (text, want) in ok {
        let body = serde_json::json!({ "args": [text] }).to_string();
        let reply = app.post("/execute/set_label", &body);
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(&label(&app), want, "{text}");
    }
    let over = serde_json::json!({ "args": ["a".repeat(4097)] }).to_string();
    assert_json_error(
        &app.post("/execute/set_label", &over),
        400,
        "argument 1: text of 4097 bytes is longer than the limit of 4096 bytes",
    );
    let mut invalid = br#"{"args":["ab"#.to_vec();
    invalid.extend_from_slice(b"\xff\xfe\"]}");
    let reply = app.request(
        "POST",
        "/execute/set_label",
        &[("Content-Type", "application/json")],
        &invalid,
    );
    assert_json_error(
        &reply,
        400,
        "the body is not UTF-8 (an invalid byte at offset 12)",
    );
    assert_json_error(
        &app.post("/execute/set_label", r#"{"args":["\ud800"]}"#),
        400,
        "malformed JSON",
    );
    assert_json_error(
        &app.post("/execute/set_label", r#"{"args":[5]}"#),
        400,
        "argument 1 must be text",
    );
    assert_eq!(label(&app), "東".repeat(21), "refused text changes nothing");
}

#[test]
fn wrong_methods_and_unknown_routes() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let cases: &[(&str, &str, u16, Option<&str>)] = &[
        ("POST", "/", 405, Some("GET, HEAD")),
        ("DELETE", "/state", 405, Some("GET, HEAD")),
        ("GET", "/execute/increment_counter", 405, Some("POST")),
        ("POST", "/wasm/increment_counter", 405, Some("GET, HEAD")),
        ("GET", "/nope", 404, None),
        ("GET", "/wasm/", 404, None),
    ];
    for (method, path, status, allow) in cases {
        let reply = app.request(method, path, &[], b"");
        assert_eq!(reply.status, *status, "{method} {path}: {}", reply.text());
        assert_eq!(reply.header("allow"), *allow, "{method} {path}");
        assert!(reply.json()["error"].is_string());
    }
}

/// Reads one SSE event (lines up to a blank line), skipping comments.
fn next_event(reader: &mut BufReader<TcpStream>) -> Vec<String> {
    loop {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("event line");
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            lines.push(line);
        }
        if lines.iter().any(|l| l.starts_with("event:")) {
            return lines;
        }
    }
}

fn open_events(app: &App, path: &str, headers: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(&app.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{headers}\r\n",
        app.address
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    reader
}

#[test]
fn events_stream_every_change_to_every_view_at_once() {
    let app = App::demo(&["--headless", "--port", "0"]);
    // A view that knows nothing gets the current state at once.
    let mut fresh = open_events(&app, "/events", "");
    let first = next_event(&mut fresh);
    assert_eq!(
        first[..2],
        ["id: 0".to_string(), "event: reset".to_string()]
    );
    // A view that is up to date (by query or Last-Event-ID) waits for news.
    let mut current = open_events(&app, "/events?since=0", "");
    let mut resumed = open_events(&app, "/events?since=7", "Last-Event-ID: 0\r\n");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(app.stats()["views"], 3);
    app.post("/execute/increment_counter", "{}");
    let (_, state) = app.state();
    for reader in [&mut fresh, &mut current, &mut resumed] {
        let event = next_event(reader);
        assert_eq!(
            event[..2],
            ["id: 1".to_string(), "event: patch".to_string()]
        );
        let data: serde_json::Value =
            serde_json::from_str(event[2].trim_start_matches("data: ")).unwrap();
        assert_eq!(data["version"], 1);
        // A counter click: one text patch and one changed state byte.
        let patches = data["patches"].to_string();
        assert_eq!(patches, r#"[["t",[2,1,0,0,0],"1"]]"#);
        assert!(patches.len() < 200);
        assert_eq!(data["state"], serde_json::json!([[0, "AQ=="]]));
        assert_eq!(state[0], 1);
        assert_eq!(
            data["sha"].as_str().unwrap(),
            &app.get("/state").json()["sha256"].as_str().unwrap()[..16]
        );
    }
    // A view behind the server gets a reset with the whole body at once.
    let mut behind = open_events(&app, "/events?since=0", "");
    let reset = next_event(&mut behind);
    assert_eq!(
        reset[..2],
        ["id: 1".to_string(), "event: reset".to_string()]
    );
    let data: serde_json::Value =
        serde_json::from_str(reset[2].trim_start_matches("data: ")).unwrap();
    assert!(data["html"]
        .as_str()
        .unwrap()
        .contains(r#"<span data-bind="0:i64">1</span>"#));
    assert_eq!(
        BASE64_STANDARD
            .decode(data["state"].as_str().unwrap())
            .unwrap(),
        state
    );
    drop((fresh, current, resumed, behind));
    std::thread::sleep(Duration::from_millis(300));
    // A stream notices a closed connection when a write fails: the first
    // event after the close still fits the socket buffer (the peer answers it
    // with a reset), the second fails. Idle streams notice within the 15 s
    // keep-alive.
    for _ in 0..2 {
        app.post("/execute/increment_counter", "{}");
        std::thread::sleep(Duration::from_millis(100));
    }
    app.wait_views(
        0,
        Duration::from_secs(10),
        "closed streams end their threads",
    );
}

#[test]
fn command_line_options_errors_and_headless_fallback() {
    let bin = Path::new(env!("CARGO_BIN_EXE_x64wasm"));
    // Without a display the default mode says so in one line and serves.
    let mut command_env = vec![("DISPLAY", ""), ("WAYLAND_DISPLAY", "")];
    let app = App::start(bin, &["--port", "0"], &command_env);
    assert!(
        app.wait_for_output(
            "no display (DISPLAY and WAYLAND_DISPLAY are unset): serving headless",
            Duration::from_secs(10)
        ),
        "{}",
        app.output()
    );
    assert_eq!(app.get("/state").status, 200);

    // RUN_AS_HTTP_SERVER sets the port; a busy port is a clear error.
    let port = app.address.rsplit(':').next().unwrap().to_string();
    command_env.push(("RUN_AS_HTTP_SERVER", &port));
    let busy = Command::new(bin)
        .arg("--headless")
        .envs(command_env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(
        stderr.contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{stderr}"
    );
    assert!(stderr.contains("--port 0"), "{stderr}");

    let cases: &[(&[&str], i32, &str)] = &[
        (&["--help"], 0, "--headless"),
        (
            &["--port", "x"],
            2,
            "--port must be a port number 0-65535, not `x`",
        ),
        (&["--bind", "nowhere"], 2, "--bind must be an IP address"),
        (&["--wat"], 2, "unknown argument `--wat`"),
        (
            &["--headless", "--bind", "192.0.2.1", "--port", "0"],
            1,
            "no such local address",
        ),
    ];
    for (args, code, message) in cases {
        let out = Command::new(bin).args(*args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {text}");
        assert!(text.contains(message), "{args:?}: {text}");
    }
}

#[test]
fn strangers_are_kept_out_and_the_server_keeps_serving() {
    let app = App::demo(&["--headless", "--port", "0", "--allow-host", "box.lan"]);
    let own = format!("http://{}", app.address);
    let body = br#"{"args":[]}"#;
    // (method, path, headers, status, error contains)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/",
            vec![("Host", "evil.example")],
            403,
            "Host `evil.example` is not this server's name",
        ),
        (
            "GET",
            "/state",
            vec![("Host", "evil.example:80")],
            403,
            "--allow-host evil.example",
        ),
        (
            "GET",
            "/wasm/increment_counter",
            vec![("Host", "10.0.0.1")],
            403,
            "is not this server's name",
        ),
        (
            "POST",
            "/execute/increment_counter",
            vec![("Host", "evil.example")],
            403,
            "is not this server's name",
        ),
        (
            "POST",
            "/execute/increment_counter",
            vec![("Origin", "http://evil.example")],
            403,
            "origin `http://evil.example` are not allowed",
        ),
        (
            "POST",
            "/execute/increment_counter",
            vec![("Origin", "null")],
            403,
            "origin `null`",
        ),
        (
            "GET",
            "/events",
            vec![("Origin", "http://localhost:1")],
            403,
            "origin `http://localhost:1`",
        ),
        (
            "POST",
            "/execute/increment_counter",
            vec![("Origin", own.as_str())],
            200,
            "",
        ),
        ("GET", "/", vec![("Host", "box.lan:8080")], 200, ""),
        ("GET", "/", vec![("Host", "LOCALHOST")], 200, ""),
        ("GET", "/", vec![("Host", "[::1]:1234")], 200, ""),
        ("GET", "/", vec![("Origin", "http://evil.example")], 200, ""),
    ];
    for (method, path, headers, status, contains) in &cases {
        // The helper sends Host: 127.0.0.1:PORT unless the case sets one.
        let body: &[u8] = if *method == "POST" { body } else { b"" };
        let reply = app.request(method, path, headers, body);
        assert_eq!(
            reply.status,
            *status,
            "{method} {path} {headers:?}: {}",
            reply.text()
        );
        if *status == 403 {
            assert!(
                reply.json()["error"].as_str().unwrap().contains(contains),
                "{}",
                reply.text()
            );
            assert!(reply.header("content-security-policy").is_some());
        }
    }
    let page = app.get("/");
    assert_eq!(page.header("content-security-policy"), Some(CSP));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(app.state().0, 1, "only the same-origin POST ran");
    assert_eq!(
        app.post("/execute/increment_counter", "{}").status,
        200,
        "still serving"
    );
}

#[test]
fn predictions_are_counted_and_a_disagreement_is_logged_in_brief() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let (_, state) = app.state();
    let mut after = state.clone();
    after[0] = 1; // the counter after increment_counter
    let hash = |bytes: &[u8]| -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let b64 = |bytes: &[u8]| BASE64_STANDARD.encode(bytes);
    let body = |base: u64, predicted: &[u8]| {
        format!(
            r#"{{"args":[],"base":{base},"predicted":"{}","state":"{}"}}"#,
            hash(predicted),
            b64(predicted)
        )
    };
    // Right prediction, then a wrong one, then one on an old version.
    assert_eq!(
        app.post("/execute/increment_counter", &body(0, &after))
            .status,
        200
    );
    let mut wrong = after.clone();
    wrong[0] = 7;
    assert_eq!(
        app.post("/execute/increment_counter", &body(1, &wrong))
            .status,
        200
    );
    assert_eq!(
        app.post("/execute/increment_counter", &body(1, &after))
            .status,
        200
    );
    assert_eq!(app.post("/execute/increment_counter", "{}").status, 200);
    let stats = app.stats();
    assert_eq!(
        stats["callbacks"]["increment_counter"],
        serde_json::json!({"executed": 4, "predicted": 3, "agreed": 1, "disagreed": 1, "stale": 1})
    );
    // The view's state is named by hash and length, never copied; the
    // server's change by its byte runs (the counter, byte 0, went to 2).
    let logged = format!(
        "prediction of `increment_counter` [] at version 1 disagreed: the view predicted SHA-256 {} ({} state bytes sent); the server changed [[0,\"Ag==\"]] of state SHA-256 {} ({} bytes) into SHA-256",
        hash(&wrong),
        wrong.len(),
        hash(&after),
        after.len(),
    );
    assert!(
        app.wait_for_output(&logged, Duration::from_secs(5)),
        "{}",
        app.output()
    );
}

#[test]
fn a_burst_of_event_streams_is_served_at_once() {
    // Twelve views opening at once are all served at once (the server once
    // queued a burst behind threads that never came free).
    let app = App::demo(&["--headless", "--port", "0"]);
    let streams: Vec<TcpStream> = (0..12)
        .map(|_| {
            let mut s = TcpStream::connect(&app.address).unwrap();
            write!(s, "GET /events HTTP/1.1\r\nHost: {}\r\n\r\n", app.address).unwrap();
            s
        })
        .collect();
    app.wait_views(
        12,
        Duration::from_secs(3),
        "every stream of the burst is open",
    );
    drop(streams);
}

#[test]
fn a_client_clicking_too_fast_gets_429_and_others_are_served() {
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "5"]);
    let mut client = support::server::Client::connect(&app.address);
    let statuses: Vec<u16> = (0..12)
        .map(|_| {
            client
                .request("POST", "/execute/increment_counter", b"{}")
                .status
        })
        .collect();
    // A burst of 2 x 5 clicks, then 429 (a token every 200 ms).
    assert_eq!(&statuses[..10], &[200; 10]);
    let limited = client.request("POST", "/execute/increment_counter", b"{}");
    assert_eq!(limited.status, 429, "{statuses:?}");
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert!(limited.json()["error"]
        .as_str()
        .unwrap()
        .contains("too many clicks from 127.0.0.1"));
    assert_eq!(app.get("/state").status, 200, "reading is not limited");
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(
        client
            .request("POST", "/execute/increment_counter", b"{}")
            .status,
        200,
        "refilled"
    );
}

#[test]
fn behind_a_trusted_proxy_clicks_are_limited_per_forwarded_address() {
    let click = |app: &App, forwarded: &str| {
        support::server::request(
            &app.address,
            "POST",
            "/execute/increment_counter",
            &[("X-Forwarded-For", forwarded)],
            b"{}",
        )
    };
    // A balancer on 127.0.0.1 (haproxy's `option forwardfor`): each
    // browser behind it has its own burst of 2 x 5
    let app = App::demo(&[
        "--headless",
        "--port",
        "0",
        "--rate-limit",
        "5",
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    // (X-Forwarded-For, status, in the answer)
    let cases: &[(&str, u16, &str)] = &[
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 200, ""),
        ("10.0.0.1", 429, "too many clicks from 10.0.0.1"),
        // the balancer appends the address it saw: only the last counts
        ("10.0.0.1, 10.0.0.2", 200, ""),
        ("10.0.0.2, 10.0.0.1", 429, "too many clicks from 10.0.0.1"),
        ("2001:db8::5", 200, ""),
        ("10.0.0.1, not-an-address", 400, "must end in an IP address"),
        ("[2001:db8::6]", 200, ""),
        ("[10.4.0.1", 400, "must end in an IP address"),
        ("10.4.0.2]", 400, "must end in an IP address"),
    ];
    for (forwarded, status, text) in cases {
        let reply = click(&app, forwarded);
        assert_eq!(reply.status, *status, "{forwarded}: {}", reply.text());
        assert!(reply.text().contains(text), "{forwarded}: {}", reply.text());
    }
    // Without --trusted-proxy the header is ignored: no client escapes its
    // limit by naming other addresses
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "5"]);
    let statuses: Vec<u16> = (0..11)
        .map(|k| click(&app, &format!("10.0.1.{k}")).status)
        .collect();
    assert_eq!(statuses[10], 429, "{statuses:?}");
}

#[test]
fn connections_past_the_limit_get_503_and_the_server_keeps_serving() {
    let app = App::demo(&["--headless", "--port", "0", "--max-connections", "3"]);
    // Three connections hold every place (as slow clients would).
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&app.address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let refused = support::server::request(&app.address, "GET", "/state", &[], b"");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(
        refused.json()["error"],
        "too many open connections from your address"
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Once one has waited a second on its client, a newcomer takes its place.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(app.get("/state").status, 200, "an idle one made room");
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        app.get("/state").status,
        200,
        "served again once they close"
    );
}

#[test]
fn the_event_stream_is_a_websocket_for_pages_that_ask() {
    use support::raw::{read_frame, websocket, write_frame, WEBSOCKET_ACCEPT};
    let app = App::demo(&["--headless", "--port", "0"]);
    // Handshakes that are refused, each with its reason: (path, extra
    // header lines, status).
    let own = format!("Origin: http://{}\r\n", app.address);
    let cases: &[(&str, &str, u16)] = &[
        ("/events", "Origin: http://evil.example\r\n", 403),
        ("/events", "Origin: http://a\r\nOrigin: http://b\r\n", 403),
        ("/state", &own, 200), // no stream there: the request is answered
        ("/nowhere", "", 404),
    ];
    for (path, extra, status) in cases {
        let (reply, _) = websocket(&app.address, path, extra);
        assert_eq!(reply.status, *status, "{path} {extra:?}");
    }
    let upgrade = ("Upgrade", "websocket");
    let connection = ("Connection", "Upgrade");
    let key = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    let version = ("Sec-WebSocket-Version", "13");
    let raw_cases: &[(&[(&str, &str)], u16)] = &[
        (&[upgrade, connection, key], 426),
        (&[upgrade, version, key], 400),
        (&[upgrade, connection, version], 400),
    ];
    for (headers, status) in raw_cases {
        let reply = app.request("GET", "/events", headers, b"");
        assert_eq!(reply.status, *status, "{headers:?}: {}", reply.text());
    }
    let reply = app.request("GET", "/events", raw_cases[0].0, b"");
    assert_eq!(reply.header("sec-websocket-version"), Some("13"));
    // HTTP/1.0 has no upgrade (RFC 6455 §4.1)
    let mut old = TcpStream::connect(&app.address).unwrap();
    write!(old, "GET /events HTTP/1.0\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", app.address).unwrap();
    let answer = support::raw::read_answer(&old, Duration::from_secs(10)).unwrap();
    assert_eq!(answer.status, 400, "{}", answer.text());

    // A stream: the same events as text messages, each a chunk of the
    // event-stream format; pings answered; a close answered and the view
    // gone.
    let (reply, stream) = websocket(&app.address, "/events?since=0", &own);
    assert_eq!(reply.status, 101);
    assert_eq!(reply.header("upgrade"), Some("websocket"));
    assert_eq!(reply.header("sec-websocket-accept"), Some(WEBSOCKET_ACCEPT));
    assert_eq!(read_frame(&stream), (1, b"retry: 1000\n\n".to_vec()));
    app.wait_views(1, Duration::from_secs(10), "the WebSocket is a view");
    app.post("/execute/increment_counter", "{}");
    let (opcode, text) = read_frame(&stream);
    let text = String::from_utf8(text).unwrap();
    assert_eq!(opcode, 1);
    assert!(text.starts_with("id: 1\nevent: patch\ndata: {"), "{text}");
    assert!(text.ends_with("}\n\n"), "{text}");
    write_frame(&stream, 0x9, b"are you there");
    assert_eq!(read_frame(&stream), (0xA, b"are you there".to_vec()));
    write_frame(&stream, 0x8, &1000u16.to_be_bytes());
    assert_eq!(read_frame(&stream).0, 0x8, "the close is answered");
    assert!(support::raw::closed_within(
        &stream,
        Duration::from_secs(10)
    ));
    app.wait_views(0, Duration::from_secs(10), "the view is gone");

    // A client that pings more than a page would (each ping queues a pong,
    // which a client that never reads lets pile up) is closed.
    let (reply, stream) = websocket(&app.address, "/events", &own);
    assert_eq!(reply.status, 101);
    for _ in 0..6 {
        write_frame(&stream, 0x9, &[7; 125]);
    }
    assert!(
        support::raw::closed_within(&stream, Duration::from_secs(10)),
        "a ping flood is closed"
    );
    app.wait_views(0, Duration::from_secs(10), "the pinging view is gone");

    // A client that sends a message (a page has none to send) or breaks
    // the framing (an unmasked frame) is closed.
    for (opcode, masked) in [(1u8, true), (1, false)] {
        let (reply, mut stream) = websocket(&app.address, "/events", &own);
        assert_eq!(reply.status, 101);
        read_frame(&stream);
        if masked {
            write_frame(&stream, opcode, b"hello");
        } else {
            stream
                .write_all(&[0x81, 5, b'h', b'e', b'l', b'l', b'o'])
                .unwrap();
        }
        assert!(
            support::raw::closed_within(&stream, Duration::from_secs(10)),
            "opcode {opcode} masked {masked}"
        );
    }
    app.wait_views(0, Duration::from_secs(10), "those views are gone");
}

#[test]
fn a_token_given_is_asked_of_every_request_and_traded_for_a_cookie() {
    use support::raw::websocket;
    use support::server::request;
    let app = App::demo(&["--headless", "--port", "0", "--token", "open-sesame"]);
    assert!(app.url.ends_with("/?token=open-sesame"), "{}", app.url);
    let address = &app.address;
    let port = address.rsplit(':').next().unwrap();
    let cookie = format!("x64wasm-token-{port}=open-sesame");
    let cookie_header = ("Cookie", cookie.as_str());
    // The printed URL: the cookie, and the page's URL without the token.
    let entry = request(address, "GET", "/?token=open-sesame", &[], b"");
    assert_eq!(entry.status, 303, "{}", entry.text());
    assert_eq!(entry.header("location"), Some("/"));
    assert_eq!(
        entry.header("set-cookie"),
        Some(format!("{cookie}; Path=/; HttpOnly; SameSite=Strict").as_str())
    );
    // (method, path, header fields, status)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u16);
    let cases: &[Case] = &[
        ("GET", "/", &[cookie_header], 200),
        ("GET", "/", &[], 401),
        (
            "GET",
            "/state",
            &[("Cookie", "x64wasm-token-1=open-sesame")],
            401,
        ),
        (
            "GET",
            "/state",
            &[("Authorization", "Bearer open-sesame")],
            200,
        ),
        ("GET", "/state?token=open-sesame", &[], 303),
        ("POST", "/execute/increment_counter", &[], 401),
        ("POST", "/execute/increment_counter", &[cookie_header], 200),
        ("GET", "/nowhere", &[], 401),
        ("GET", "/nowhere", &[cookie_header], 404),
    ];
    for (method, path, headers, status) in cases {
        let reply = request(address, method, path, headers, b"{}");
        assert_eq!(
            reply.status,
            *status,
            "{method} {path} {headers:?}: {}",
            reply.text()
        );
    }
    assert_eq!(app.state().0, 1, "only the click with the token ran");
    // The page's WebSocket carries the cookie; one without it is refused.
    let origin = format!("Origin: http://{address}\r\n");
    let (reply, _) = websocket(address, "/events", &format!("{origin}Cookie: {cookie}\r\n"));
    assert_eq!(reply.status, 101);
    let (reply, _) = websocket(address, "/events", &origin);
    assert_eq!(reply.status, 401);
    // Wrong tokens: ten, then 429 for that address, even for the right one.
    for i in 0..10 {
        let reply = request(address, "GET", &format!("/?token=guess{i}"), &[], b"");
        assert_eq!(reply.status, 401, "guess {i}");
    }
    let reply = request(address, "GET", "/?token=open-sesame", &[], b"");
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert!(reply.header("retry-after").is_some());
}

#[test]
fn bodies_in_a_coding_the_server_does_not_decode_are_refused() {
    let app = App::demo(&["--headless", "--port", "0"]);
    // (Content-Encoding, status): the body is plain JSON each time
    let cases = [
        ("gzip", 415),
        ("identity, gzip", 415),
        ("br", 415),
        ("identity", 200),
        ("IDENTITY", 200),
    ];
    for (coding, status) in cases {
        let reply = app.request(
            "POST",
            "/execute/increment_counter",
            &[
                ("Content-Type", "application/json"),
                ("Content-Encoding", coding),
            ],
            b"{}",
        );
        assert_eq!(reply.status, status, "{coding}: {}", reply.text());
    }
    assert_eq!(app.state().0, 2, "only the identity bodies ran");
    // (a coding named where there is no body refuses nothing)
    let state = app.request("GET", "/state", &[("Content-Encoding", "gzip")], b"");
    assert_eq!(state.status, 200, "{}", state.text());
}
