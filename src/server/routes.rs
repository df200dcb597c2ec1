//! One function per route of DESIGN §3; `handle` dispatches.

use std::io::{Cursor, Read};
use std::sync::Arc;

use bytemuck::Pod;
use serde_json::{json, Value as Json};
use tiny_http::{Header, Method, Request, Response, StatusCode};

use super::{
    assets, base64, events, security, state_hash, Outcome, RunError, Served, Shared, Unavailable,
};
use crate::transpile::TranspileError;

/// The largest request body accepted (an `/execute` body is tiny).
pub const BODY_LIMIT: usize = 64 * 1024;

/// DESIGN §6: scripts only from this server, wasm compilation allowed.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";

type Reply = Response<Cursor<Vec<u8>>>;

/// Answers one request (event streams continue on their own thread).
pub fn handle<S: Pod + Send + 'static>(shared: &Arc<Shared<S>>, mut request: Request) {
    let url = request.url().to_string();
    let path = url.split('?').next().unwrap_or("/");
    let get = *request.method() == Method::Get || *request.method() == Method::Head;
    let post = *request.method() == Method::Post;
    let host = header(&request, "Host");
    let origin = header(&request, "Origin");
    let guarded = post || path == "/events";
    if let Err(why) = security::check(
        &shared.allowed_hosts,
        host.as_deref(),
        origin.as_deref(),
        guarded,
    ) {
        let reply = error(403, &why).with_header(h("Content-Security-Policy", CSP));
        let _ = request.respond(reply);
        return;
    }
    let reply = match path {
        "/" if get => page(shared),
        "/runtime.js" if get => text(assets::RUNTIME_JS, "text/javascript; charset=utf-8"),
        "/style.css" if get => text(assets::STYLE_CSS, "text/css; charset=utf-8"),
        "/state" if get => state(shared),
        "/debug/stats" if get => stats(shared),
        "/events" if get => {
            let since = query(&url, "since").and_then(|v| v.parse().ok());
            return events::stream(shared.clone(), request, since);
        }
        p if get && p.starts_with("/wasm/") => {
            let etag = header(&request, "If-None-Match");
            wasm(shared, &p["/wasm/".len()..], etag.as_deref())
        }
        p if post && p.starts_with("/execute/") => {
            let name = p["/execute/".len()..].to_string();
            execute(shared, &name, &mut request)
        }
        "/" | "/runtime.js" | "/style.css" | "/state" | "/debug/stats" | "/events" => {
            error(405, "method not allowed").with_header(h("Allow", "GET, HEAD"))
        }
        p if p.starts_with("/wasm/") => {
            error(405, "method not allowed").with_header(h("Allow", "GET"))
        }
        p if p.starts_with("/execute/") => {
            error(405, "method not allowed").with_header(h("Allow", "POST"))
        }
        _ => error(404, &format!("no route {path}")),
    };
    let _ = request.respond(
        reply
            .with_header(h("Content-Security-Policy", CSP))
            .with_header(h("X-Content-Type-Options", "nosniff")),
    );
}

/// A header (names and values here are constants or checked ASCII).
pub(super) fn h(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

pub(super) fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|x| x.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|x| x.value.as_str().to_string())
}

/// The value of `key` in the URL's query string.
fn query(url: &str, key: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

fn text(body: &str, content_type: &str) -> Reply {
    Response::from_data(body.as_bytes().to_vec())
        .with_header(h("Content-Type", content_type))
        .with_header(h("Cache-Control", "no-cache"))
}

fn json_reply(status: u16, value: &Json) -> Reply {
    Response::from_data(value.to_string().into_bytes())
        .with_status_code(StatusCode(status))
        .with_header(h("Content-Type", "application/json"))
        .with_header(h("Cache-Control", "no-store"))
}

/// An error answer: `{"error": "..."}` with its status.
fn error(status: u16, message: &str) -> Reply {
    json_reply(status, &json!({ "error": message }))
}

/// `GET /`: the server-rendered page, readable without scripts, with the
/// state bytes, version and callback signatures for the runtime.
fn page<S: Pod>(shared: &Shared<S>) -> Reply {
    let shown = shared.shown();
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/style.css\">\
         <script src=\"/runtime.js\" defer></script></head>\
         <body><main id=\"x64wasm\" data-version=\"{version}\" data-state=\"{state}\" \
         data-callbacks=\"{callbacks}\">{body}</main></body></html>\n",
        title = crate::dom::escape(&shared.title),
        version = shown.version,
        state = base64::encode(bytemuck::bytes_of(&shown.state)),
        callbacks = crate::dom::escape(&shared.signatures),
        body = shown.view.to_html(),
    );
    drop(shown);
    Response::from_data(html.into_bytes())
        .with_header(h("Content-Type", "text/html; charset=utf-8"))
        .with_header(h("Cache-Control", "no-store"))
}

/// `GET /state`: `{"version":V,"state":"<base64>"}`.
fn state<S: Pod>(shared: &Shared<S>) -> Reply {
    let live = shared.lock();
    let value = json!({
        "version": live.version,
        "state": base64::encode(bytemuck::bytes_of(&live.state)),
        "sha256": state_hash(&live.state),
    });
    drop(live);
    json_reply(200, &value)
}

/// `GET /debug/stats`: per callback, how often it ran and how the views'
/// predictions compared.
fn stats<S: Pod>(shared: &Shared<S>) -> Reply {
    let stats = shared
        .stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let callbacks: serde_json::Map<String, Json> = stats
        .into_iter()
        .map(|(name, s)| {
            (
                name,
                json!({
                    "executed": s.executed,
                    "predicted": s.predicted,
                    "agreed": s.agreed,
                    "disagreed": s.disagreed,
                    "stale": s.stale,
                }),
            )
        })
        .collect();
    let version = shared.lock().version;
    let views = shared.views.load(std::sync::atomic::Ordering::SeqCst);
    json_reply(
        200,
        &json!({ "version": version, "views": views, "callbacks": callbacks }),
    )
}

/// `GET /wasm/{name}`: the callback's module, transpiled from this process's
/// own machine code (cached); ETag is the cache key.
fn wasm<S: Pod>(shared: &Shared<S>, name: &str, if_none_match: Option<&str>) -> Reply {
    let Some(callback) = shared.registry.get(name) else {
        return error(404, &format!("no callback named `{name}`"));
    };
    match shared.wasm(callback) {
        Ok(Served { etag, module }) => {
            if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
                return Response::from_data(Vec::new())
                    .with_status_code(StatusCode(304))
                    .with_header(h("ETag", &etag));
            }
            Response::from_data(module.wasm.clone())
                .with_header(h("Content-Type", "application/wasm"))
                .with_header(h("ETag", &etag))
                .with_header(h("Cache-Control", "no-cache"))
        }
        Err(Unavailable::NoSymbol(why)) => json_reply(
            422,
            &json!({ "error": format!("`{name}` cannot run as wasm: {why}"), "function": name }),
        ),
        Err(Unavailable::Transpile(e)) => json_reply(422, &transpile_error_json(name, &e)),
    }
}

/// A transpile failure as JSON: the message, plus where it happened.
fn transpile_error_json(name: &str, e: &TranspileError) -> Json {
    let mut value = json!({ "error": e.to_string(), "callback": name });
    let (function, address, instruction) = match e {
        TranspileError::Decode {
            function,
            address,
            bytes,
            ..
        } => (function, *address, bytes.clone()),
        TranspileError::Unsupported {
            function,
            address,
            mnemonic,
            bytes,
        } => (function, *address, format!("{mnemonic} ({bytes})")),
        TranspileError::Callee {
            function,
            address,
            callee,
            ..
        } => (function, *address, format!("call {callee}")),
        TranspileError::ControlFlow {
            function, address, ..
        } => (function, *address, String::new()),
        _ => return value,
    };
    value["function"] = json!(function);
    value["address"] = json!(format!("{address:#x}"));
    value["instruction"] = json!(instruction);
    value
}

/// Reads a request body of at most `BODY_LIMIT` bytes.
fn read_body(request: &mut Request) -> Result<Vec<u8>, Reply> {
    let too_large = || error(413, &format!("request body over {BODY_LIMIT} bytes"));
    if request.body_length().is_some_and(|n| n > BODY_LIMIT) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(BODY_LIMIT as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| error(400, &format!("reading the body: {e}")))?;
    if body.len() > BODY_LIMIT {
        return Err(too_large());
    }
    Ok(body)
}

/// `POST /execute/{name}`: runs the native callback under the state lock,
/// bumps the version, re-renders, wakes every event stream, and compares the
/// view's predicted state with the result.
fn execute<S: Pod>(shared: &Shared<S>, name: &str, request: &mut Request) -> Reply {
    let Some(callback) = shared.registry.get(name) else {
        return error(404, &format!("no callback named `{name}`"));
    };
    if let (Some(limiter), Some(client)) = (&shared.rate_limit, request.remote_addr()) {
        if let Err(wait) = limiter.take(client.ip(), std::time::Instant::now()) {
            return error(
                429,
                &format!("too many clicks from {}; slow down", client.ip()),
            )
            .with_header(h(
                "Retry-After",
                &format!("{}", wait.ceil().max(1.0) as u64),
            ));
        }
    }
    let body = match read_body(request) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let call = match parse_call(&body) {
        Ok(call) => call,
        Err(why) => return error(400, &why),
    };
    let outcome = match shared.run(callback, &call.args) {
        Ok(outcome) => outcome,
        Err(RunError::Arguments(why)) => return error(400, &format!("`{name}`: {why}")),
        Err(RunError::Save(why)) => {
            eprintln!("x64wasm: {why}");
            return error(500, &why);
        }
    };
    record_prediction(shared, name, &call, &outcome);
    json_reply(
        200,
        &json!({ "version": outcome.version, "ret": outcome.ret }),
    )
}

/// Counts the click, and compares the view's predicted state with the
/// server's result when the view predicted on the version the server ran on.
/// A disagreement is logged with the callback, its arguments and both states
/// (the view's is known by its hash; the server's before and after in full).
fn record_prediction<S: Pod>(shared: &Shared<S>, name: &str, call: &Call, outcome: &Outcome<S>) {
    let hash = state_hash(&outcome.after);
    let mut stats = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
    let s = stats.entry(name.to_string()).or_default();
    s.executed += 1;
    let Some(predicted) = &call.predicted else {
        return;
    };
    s.predicted += 1;
    if call.base != Some(outcome.base) {
        s.stale += 1;
    } else if predicted.eq_ignore_ascii_case(&hash) {
        s.agreed += 1;
    } else {
        s.disagreed += 1;
        let view = call.state.as_deref().unwrap_or("(not sent)");
        eprintln!(
            "x64wasm: prediction of `{name}` {} at version {} disagreed: the view predicted \
             {view} (SHA-256 {predicted}); the server went from {} to {} (SHA-256 {hash})",
            Json::Array(call.args.clone()),
            outcome.base,
            base64::encode(bytemuck::bytes_of(&outcome.before)),
            base64::encode(bytemuck::bytes_of(&outcome.after)),
        );
    }
}

/// The parsed body of `POST /execute`.
struct Call {
    args: Vec<Json>,
    base: Option<u64>,
    predicted: Option<String>,
    /// The view's predicted state in base64 (small states only), for logs.
    state: Option<String>,
}

fn parse_call(body: &[u8]) -> Result<Call, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Call {
            args: Vec::new(),
            base: None,
            predicted: None,
            state: None,
        });
    }
    let value: Json =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))?;
    let Json::Object(object) = value else {
        return Err(r#"the body must be a JSON object like {"args":[…]}"#.into());
    };
    let args = match object.get("args") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(a)) => a.clone(),
        Some(other) => return Err(format!("`args` must be an array, not {other}")),
    };
    let base = match object.get("base") {
        None | Some(Json::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| format!("`base` must be a version number, not {v}"))?,
        ),
    };
    let predicted = match object.get("predicted") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(s.clone())
        }
        Some(v) => return Err(format!("`predicted` must be a SHA-256 in hex, not {v}")),
    };
    let state = match object.get("state") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if base64::decode(s).is_some() => Some(s.clone()),
        Some(v) => return Err(format!("`state` must be base64, not {v}")),
    };
    Ok(Call {
        args,
        base,
        predicted,
        state,
    })
}
