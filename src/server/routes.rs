//! The routes (docs/protocol.md, "Routes"): one table of paths and methods, from
//! which 404, 405 and `Allow` follow, and one function per route.

use std::net::IpAddr;
use std::sync::Arc;

use bytemuck::Pod;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::coding::Encoded;
use super::http::{websocket_handshake, Reply, Request, Response};
use super::{
    bytes_hash, events, from_base64, security, to_base64, Outcome, RunError, Shared, Unavailable,
};
use x64wasm_transpile::TranspileError;

/// Scripts only from this server, wasm compilation allowed, and no page
/// may frame this one (a framed app could be clicked for its user).
const CSP: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'";

/// What a route's path is matched by.
enum PathMatch {
    /// This path exactly.
    Exact(&'static str),
    /// Paths starting with this; the rest is the route's parameter.
    Prefix(&'static str),
}

/// The routes: path, methods allowed (the first of a `GET` route is
/// `GET`; `HEAD` is answered as `GET` without the body), and handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Page,
    Runtime,
    Style,
    AppStyle,
    Favicon,
    State,
    Stats,
    Events,
    Wasm,
    ViewWasm,
    ViewMismatch,
    Execute,
    ExecuteQueue,
}

const GET: &[&str] = &["GET", "HEAD"];
const POST: &[&str] = &["POST"];

const ROUTES: &[(PathMatch, &[&str], Route)] = &[
    (PathMatch::Exact("/"), GET, Route::Page),
    (PathMatch::Prefix("/runtime/"), GET, Route::Runtime),
    (PathMatch::Exact("/style.css"), GET, Route::Style),
    (PathMatch::Exact("/app.css"), GET, Route::AppStyle),
    (PathMatch::Exact("/favicon.ico"), GET, Route::Favicon),
    (PathMatch::Exact("/favicon.svg"), GET, Route::Favicon),
    (PathMatch::Exact("/state"), GET, Route::State),
    (PathMatch::Exact("/debug/stats"), GET, Route::Stats),
    (
        PathMatch::Exact("/debug/view-mismatch"),
        POST,
        Route::ViewMismatch,
    ),
    (PathMatch::Exact("/events"), GET, Route::Events),
    (PathMatch::Prefix("/wasm/"), GET, Route::Wasm),
    (PathMatch::Exact("/view.wasm"), GET, Route::ViewWasm),
    (PathMatch::Prefix("/execute/"), POST, Route::Execute),
    (PathMatch::Exact("/execute"), POST, Route::ExecuteQueue),
];

/// The route for `path` and its parameter, or `None` (404).
fn route(path: &str) -> Option<(&'static [&'static str], Route, &str)> {
    ROUTES.iter().find_map(|(m, methods, route)| match m {
        PathMatch::Exact(p) if *p == path => Some((*methods, *route, "")),
        PathMatch::Prefix(p) => path.strip_prefix(p).map(|rest| (*methods, *route, rest)),
        _ => None,
    })
}

/// Answers one request.
pub fn handle<S: Pod + Send + 'static>(shared: &Arc<Shared<S>>, request: Request) -> Reply {
    let found = route(&request.path);
    // Every request must name this server (Host), before it learns
    // anything; streams and POSTs must come from our own pages (Origin).
    let guarded = request.method == "POST" || matches!(found, Some((_, Route::Events, _)));
    if request
        .headers
        .iter()
        .filter(|(n, _)| n == "origin")
        .count()
        > 1
    {
        return Reply::Full(secure(error(403, "more than one Origin header")));
    }
    if let Err(why) = security::check(
        &shared.allowed_hosts,
        &request.host,
        request.header("origin"),
        guarded,
    ) {
        return Reply::Full(secure(error(403, &why)));
    }
    // Then the token, where one is required, before anything else
    if let Some(auth) = &shared.auth {
        let client = client_address(&shared.trusted_proxies, &request).unwrap_or(request.peer.ip());
        if let super::auth::Verdict::Answer(answer) = auth.check(&request, client) {
            return Reply::Full(secure(answer));
        }
    }
    // A body in a coding the server does not decode would be read as it
    // is (RFC 9110 §8.4: refuse it)
    if let Some(coding) = request.header_list("content-encoding") {
        let coded = |c: &str| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity");
        if !request.body.is_empty() && coding.split(',').any(coded) {
            return Reply::Full(secure(
                error(
                    415,
                    &format!(
                        "this server takes bodies as they are, not `Content-Encoding: {coding}`"
                    ),
                )
                .header("Accept-Encoding", "identity"),
            ));
        }
    }
    let Some((methods, route, parameter)) = found else {
        return Reply::Full(secure(error(404, &format!("no route {}", request.path))));
    };
    if !methods.contains(&request.method.as_str()) {
        return Reply::Full(secure(
            error(405, &format!("{} is not allowed here", request.method))
                .header("Allow", methods.join(", ")),
        ));
    }
    let response = match route {
        Route::Page => page(shared, &request),
        Route::Runtime | Route::Style | Route::AppStyle | Route::Favicon => {
            match shared.assets.get(&request.path) {
                Some(asset) => asset.reply(&request).header("Cache-Control", "no-cache"),
                None if route == Route::AppStyle => {
                    error(404, "this app has no style sheet of its own")
                }
                None => error(404, &format!("no runtime module {parameter}")),
            }
        }
        Route::State => state(shared),
        Route::Stats => stats(shared),
        Route::Events if shared.store_down() => error(
            503,
            &format!(
                "{}; try again shortly",
                shared
                    .redis
                    .as_ref()
                    .and_then(|r| r.down_reason())
                    .unwrap_or_else(|| "the shared state's store (Redis) is unusable".into())
            ),
        )
        .header("Retry-After", "1"),
        Route::Events => {
            let last_event_id = request
                .header("last-event-id")
                .and_then(|v| v.trim().parse().ok());
            let since = request.query("since").and_then(|v| v.parse().ok());
            let head = Response::new(200, Vec::new())
                .header("Content-Type", "text/event-stream")
                .header("Cache-Control", "no-store");
            let view = request.query("view").map(str::to_string);
            if shared.view_states.is_some() && !view.as_deref().is_some_and(super::views::is_id) {
                return Reply::Full(secure(error(
                    400,
                    "this app keeps a state per view: /events needs `?view=` with the page's view id",
                )));
            }
            // a page that renders itself (`render=page`) is sent state
            // alone, and the view's hash only when it checks (`check=1`)
            let page_renders = match (request.query("render"), request.query("check")) {
                (Some("page"), Some("1")) => events::PageRenders::Checking,
                (Some("page"), _) => events::PageRenders::Yes,
                _ => events::PageRenders::No,
            };
            // the page's own stream is a WebSocket (docs/protocol.md, "The
            // event stream"): the same events, one text message each chunk
            let websocket = match websocket_handshake(&request) {
                None => None,
                Some(Ok(head)) => Some(head),
                Some(Err((status, why))) => {
                    let refused = error(status, &why);
                    return Reply::Full(secure(match status {
                        426 => refused.header("Sec-WebSocket-Version", "13"),
                        _ => refused,
                    }));
                }
            };
            let owner = super::http::address_key(
                client_address(&shared.trusted_proxies, &request).unwrap_or(request.peer.ip()),
            );
            let source = Box::new(events::Events::new(
                shared.clone(),
                last_event_id.or(since),
                (view, owner),
                page_renders,
            ));
            return match websocket {
                Some(head) => Reply::WebSocket(secure(head), source),
                None => Reply::Stream(secure(head), source),
            };
        }
        Route::Wasm => wasm(shared, parameter, &request),
        Route::ViewWasm => view_wasm(shared, &request),
        Route::ViewMismatch => view_mismatch(shared, &request),
        Route::Execute => execute(shared, parameter, &request),
        Route::ExecuteQueue => execute_queue(shared, &request),
    };
    Reply::Full(secure(response))
}

/// The headers every answer carries.
pub fn secure(response: Response) -> Response {
    response
        .header("Content-Security-Policy", CSP)
        .header("X-Content-Type-Options", "nosniff")
        // for browsers that predate CSP's frame-ancestors
        .header("X-Frame-Options", "DENY")
}

fn json_reply(status: u16, value: &Json) -> Response {
    Response::new(status, value.to_string().into_bytes())
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-store")
}

/// An error answer: `{"error": "..."}` with its status.
pub fn error(status: u16, message: &str) -> Response {
    json_reply(status, &json!({ "error": message }))
}

/// `GET /`: the server-rendered page, readable without scripts, with the
/// state bytes, version and callback signatures for the runtime.
fn page<S: Pod>(shared: &Shared<S>, request: &Request) -> Response {
    let page = match &shared.view_states {
        None => shared_page(shared),
        Some(views) => match view_page(shared, views, request) {
            Some(page) => page,
            None => return error(500, "the app's render panicked (see the server's log)"),
        },
    };
    page.reply(request).header("Cache-Control", "no-store")
}

/// The page of an app without view state: the same for every load of a
/// version, so made once per version (by the first load that asks).
fn shared_page<S: Pod>(shared: &Shared<S>) -> Arc<Encoded> {
    let mut shown = shared.shown();
    if let Some(page) = &shown.page {
        return page.clone();
    }
    let body = shared.shown_html(&mut shown);
    let html = page_html(
        shared,
        (shown.version, bytemuck::bytes_of(&shown.state)),
        &body,
        None,
    );
    let page = Arc::new(Encoded::new(html.into_bytes().into(), HTML, None));
    shown.page = Some(page.clone());
    page
}

/// The page of an app with view state: a new view, rendered with the
/// initial view state; what it is shown is remembered, so its stream
/// starts with patches (see views.rs). `None` if the app's render panicked.
fn view_page<S: Pod>(
    shared: &Shared<S>,
    views: &super::views::Views,
    request: &Request,
) -> Option<Arc<Encoded>> {
    let (version, state) = {
        let shown = shared.shown();
        (shown.version, shown.state)
    };
    let owner = client_address(&shared.trusted_proxies, request).unwrap_or(request.peer.ip());
    let id = views.create(super::http::address_key(owner));
    let rendered = views.rendered(version, &views.initial, || {
        let tree = shared.render_view(&state, &views.initial).ok()?;
        let bytes = views.view_bytes(version, bytemuck::bytes_of(&state), &views.initial);
        let sha = bytes_hash(&views.combined(&bytes))[..16].to_string();
        let view = crate::dom::view_hash(&tree);
        Some(super::views::Rendered {
            tree: Some(tree),
            bytes,
            sha,
            view,
        })
    })?;
    let body = rendered
        .tree
        .as_ref()
        .map(crate::dom::Node::to_html)
        .unwrap_or_default();
    let bytes = views.combined(&rendered.bytes);
    if let Some(slot) = views.lock().get_mut(&id) {
        slot.sent = Some(super::views::Sent {
            version,
            shared_version: version,
            view: views.initial.clone(),
            rendered,
        });
    }
    let html = page_html(
        shared,
        (version, &bytes),
        &body,
        Some((&id.to_string(), views.offset)),
    );
    Some(Arc::new(Encoded::new(html.into_bytes().into(), HTML, None)))
}

const HTML: &str = "text/html; charset=utf-8";

/// The page: the app's rendered `body` in its root, with the state's
/// `bytes`, its version and the callbacks' signatures for the runtime (and
/// the view's id and offset, in an app with view state).
fn page_html<S>(
    shared: &Shared<S>,
    (version, bytes): (u64, &[u8]),
    body: &str,
    view: Option<(&str, usize)>,
) -> String {
    use crate::dom::{attributes, escape};
    let mut root = vec![
        (attributes::APP, escape(&shared.app_id)),
        (attributes::BUILD, shared.build.to_string()),
        (attributes::VERSION, version.to_string()),
        (attributes::STATE, to_base64(bytes)),
        (attributes::CALLBACKS, escape(&shared.signatures)),
    ];
    if let Some((id, offset)) = view {
        root.push((attributes::VIEW, escape(id)));
        root.push((attributes::VIEW_OFFSET, offset.to_string()));
    }
    let root: String = root
        .iter()
        .map(|(name, value)| format!(" {name}=\"{value}\""))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/style.css\">{app_css}\
         <script type=\"module\" src=\"/runtime/main.js\"></script></head>\
         <body><main id=\"x64wasm\"{root}>{body}</main></body></html>\n",
        title = escape(&shared.title),
        app_css = if shared.assets.get("/app.css").is_some() {
            "<link rel=\"stylesheet\" href=\"/app.css\">"
        } else {
            ""
        },
    )
}

/// `GET /state`: `{"version":V,"state":"<base64>","sha256":"…"}`.
fn state<S: Pod>(shared: &Shared<S>) -> Response {
    let live = shared.lock();
    let value = json!({
        "version": live.version,
        "state": to_base64(bytemuck::bytes_of(&live.state)),
        "sha256": super::state_hash(&live.state),
    });
    drop(live);
    json_reply(200, &value)
}

/// `GET /debug/stats`: open views, and per callback how often it ran and
/// how the views' predictions compared.
fn stats<S: Pod>(shared: &Shared<S>) -> Response {
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
    let view_mismatches = shared
        .view_mismatches
        .load(std::sync::atomic::Ordering::Relaxed);
    json_reply(
        200,
        &json!({
            "version": version,
            "views": views,
            "callbacks": callbacks,
            "view_mismatches": view_mismatches,
            "renders": shared.renders.load(std::sync::atomic::Ordering::Relaxed),
            "resent": shared.resent.load(std::sync::atomic::Ordering::Relaxed),
        }),
    )
}

/// `GET /wasm/{name}`: the callback's module, transpiled from this process's
/// own machine code (cached); ETag is the cache key.
fn wasm<S: Pod>(shared: &Shared<S>, name: &str, request: &Request) -> Response {
    let Some(callback) = shared.registry.get(name) else {
        return error(404, &format!("no callback named `{name}`"));
    };
    match shared.wasm(callback) {
        Ok(served) => served
            .body
            .reply(request)
            .header("Cache-Control", "no-cache"),
        Err(Unavailable::NoSymbol(why)) => json_reply(
            422,
            &json!({ "error": format!("`{name}` cannot run as wasm: {why}"), "function": name }),
        ),
        Err(Unavailable::Transpile(e)) => json_reply(422, &transpile_error_json(name, &e)),
    }
}

/// `GET /view.wasm`: the view module (`view_module.rs`), or 422 with the
/// reason the view renders on the server only.
fn view_wasm<S: Pod>(shared: &Shared<S>, request: &Request) -> Response {
    match shared.view_wasm() {
        Ok(served) => served
            .body
            .reply(request)
            .header("Cache-Control", "no-cache"),
        Err(why) => json_reply(
            422,
            &json!({ "error": format!("the view cannot run as wasm: {why}") }),
        ),
    }
}

/// `POST /debug/view-mismatch` `{"version":V,"page":H,"server":H}`: a page
/// whose DOM, checked, differed from the server's view of version `V`
/// (docs/protocol.md, "The view check"). Counted and logged; the page takes
/// the server's HTML.
fn view_mismatch<S: Pod>(shared: &Shared<S>, request: &Request) -> Response {
    // held to the clicks' rate per address, so a flood cannot make the
    // count say anything
    if let Some(refused) = over_rate_limit(shared, request, "reports") {
        return refused;
    }
    let report: Json = match serde_json::from_slice(&request.body) {
        Ok(Json::Object(fields))
            if fields
                .keys()
                .all(|k| ["version", "page", "server"].contains(&k.as_str())) =>
        {
            Json::Object(fields)
        }
        _ => return error(400, r#"the body must be {"version":V,"page":H,"server":H}"#),
    };
    let hex = |key: &str| {
        report[key]
            .as_str()
            .filter(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let (Some(version), Some(page), Some(server)) =
        (report["version"].as_u64(), hex("page"), hex("server"))
    else {
        return error(400, r#"the body must be {"version":V,"page":H,"server":H}"#);
    };
    if page.eq_ignore_ascii_case(server) {
        return error(
            400,
            "the page's hash and the server's are the same: no mismatch",
        );
    }
    shared
        .view_mismatches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // a log of its own, so reports cannot crowd out the server's own lines
    shared.mismatch_log.line(&format!(
        "a page's view of version {version} differs from the server's \
         (page {page}, server {server}); it takes the server's HTML"
    ));
    Response::new(204, Vec::new())
}

/// A transpile failure as JSON: the message, plus where it happened.
fn transpile_error_json(name: &str, e: &TranspileError) -> Json {
    let mut value = json!({ "error": e.to_string(), "callback": name });
    let (function, address, instruction) = match e.innermost() {
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

/// The client a request comes from: its peer, or, when the peer is a
/// trusted balancer (`--trusted-proxy`), the last address of the last
/// `X-Forwarded-For` line (the one that balancer appended; RFC 7239 §5.2
/// reads the same list, as `for=`). Other peers' `X-Forwarded-For` is
/// ignored, so no client can claim another's address.
fn client_address(trusted: &[IpAddr], request: &Request) -> Result<IpAddr, String> {
    let peer = request.peer.ip();
    let same = |a: &IpAddr, b: &IpAddr| a.to_canonical() == b.to_canonical();
    if !trusted.iter().any(|t| same(t, &peer)) {
        return Ok(peer);
    }
    let Some((_, list)) = request
        .headers
        .iter()
        .rev()
        .find(|(name, _)| name == "x-forwarded-for")
    else {
        return Ok(peer);
    };
    let last = list.rsplit(',').next().unwrap_or("").trim();
    // an IPv6 address may come in brackets, both or none
    let address = last
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(last);
    address.parse().map_err(|_| {
        format!(
            "X-Forwarded-For from the trusted proxy {peer} must end in an IP address, \
                 not {}",
            crate::callbacks::brief(&Json::String(last.to_string()))
        )
    })
}

/// The answer to a request past `--rate-limit` for its client address
/// (429 with `Retry-After`, or 400 for a malformed `X-Forwarded-For` from
/// the trusted proxy); `None` when it may go on. `what` names the requests
/// in the message.
fn over_rate_limit<S>(shared: &Shared<S>, request: &Request, what: &str) -> Option<Response> {
    let (why, wait) = over_rate_limit_wait(shared, request, what)?;
    Some(match wait {
        Some(seconds) => error(429, &why).header("Retry-After", seconds.to_string()),
        None => error(400, &why),
    })
}

/// As [`over_rate_limit`]: the message, and the seconds to wait (`None`
/// for the 400).
fn over_rate_limit_wait<S>(
    shared: &Shared<S>,
    request: &Request,
    what: &str,
) -> Option<(String, Option<u64>)> {
    let limiter = shared.rate_limit.as_ref()?;
    let client = match client_address(&shared.trusted_proxies, request) {
        Ok(client) => client,
        Err(why) => return Some((why, None)),
    };
    let wait = limiter.take(client, std::time::Instant::now()).err()?;
    Some((
        format!("too many {what} from {client}; slow down"),
        Some(wait.ceil().max(1.0) as u64),
    ))
}

/// `POST /execute/{name}`: runs the native callback under the state lock,
/// bumps the version, and compares the view's predicted state with the
/// result.
fn execute<S: Pod>(shared: &Shared<S>, name: &str, request: &Request) -> Response {
    let call = match parse_call(&request.body) {
        Ok(call) => call,
        Err(why) => return error(400, &why),
    };
    run_call(shared, name, &call, request).into_response()
}

/// The most calls one `POST /execute` may carry.
pub const QUEUE_MAX: usize = 64;

/// `POST /execute`: a page's queued calls, in order, in one request
/// (docs/protocol.md, "Click ids, retries and the queue"). Each is run as
/// `POST /execute/{name}` runs it; the answers come in order, and stop
/// after the first one that may change if sent again (429, 500, 503:
/// nothing of it, or of the calls after it, ran).
fn execute_queue<S: Pod>(shared: &Shared<S>, request: &Request) -> Response {
    let calls = match parse_queue(&request.body, &shared.build) {
        Ok(calls) => calls,
        Err(QueueRefusal::Malformed(why)) => return error(400, &why),
        Err(QueueRefusal::Rebuilt) => {
            let why = "the app was rebuilt since this page was served: reload it";
            return json_reply(409, &json!({ "error": why, "build": shared.build }));
        }
    };
    let mut answers = Vec::with_capacity(calls.len());
    for call in &calls {
        let reply = match call {
            Ok((name, call)) => run_call(shared, name, call, request),
            Err(why) => CallReply::error(400, why),
        };
        let transient = matches!(reply.status, 429 | 500 | 503);
        answers.push(json!({ "status": reply.status, "body": reply.body }));
        if transient {
            break;
        }
    }
    json_reply(200, &json!({ "answers": answers }))
}

/// One call's answer: its status and JSON body, and for 429 and 503 the
/// seconds to wait.
struct CallReply {
    status: u16,
    body: Json,
    retry_after: Option<u64>,
}

impl CallReply {
    fn new(status: u16, body: Json) -> CallReply {
        CallReply {
            status,
            body,
            retry_after: None,
        }
    }

    fn error(status: u16, message: &str) -> CallReply {
        CallReply::new(status, json!({ "error": message }))
    }

    fn into_response(self) -> Response {
        let response = json_reply(self.status, &self.body);
        match self.retry_after {
            Some(seconds) => response.header("Retry-After", seconds.to_string()),
            None => response,
        }
    }
}

/// Runs one call of callback `name`: the answer as `POST /execute/{name}`
/// gives it.
fn run_call<S: Pod>(shared: &Shared<S>, name: &str, call: &Call, request: &Request) -> CallReply {
    let Some(callback) = shared.registry.get(name) else {
        return CallReply::error(404, &format!("no callback named `{name}`"));
    };
    if let Some((why, wait)) = over_rate_limit_wait(shared, request, "clicks") {
        let mut reply = CallReply::error(if wait.is_some() { 429 } else { 400 }, &why);
        reply.retry_after = wait;
        return reply;
    }
    let outcome = match shared.run(
        callback,
        call.view.as_deref(),
        &call.args,
        call.click.as_ref(),
    ) {
        Ok(outcome) => outcome,
        Err(RunError::Arguments(why)) => return CallReply::error(400, &format!("`{name}`: {why}")),
        Err(RunError::View(why)) => return CallReply::error(400, &why),
        Err(RunError::NoView(why)) => return CallReply::error(409, &why),
        Err(RunError::Unavailable(why)) => {
            shared.log.line(&why);
            let mut reply = CallReply::error(503, &why);
            reply.retry_after = Some(1);
            return reply;
        }
        Err(RunError::Forgotten(why)) => {
            shared.log.line(&why);
            return CallReply::new(410, json!({ "error": why, "outcome": "unknown" }));
        }
        Err(RunError::Unknown(why)) => {
            shared.log.line(&why);
            let mut reply = CallReply::new(503, json!({ "error": why, "outcome": "unknown" }));
            reply.retry_after = Some(1);
            return reply;
        }
        Err(RunError::Save(why)) => {
            shared.log.line(&why);
            return CallReply::error(500, &why);
        }
        Err(RunError::Again(answer)) => {
            // answered before: the same answer, marked
            let mut body: Json = serde_json::from_str(&answer.body).unwrap_or(Json::Null);
            if let Some(map) = body.as_object_mut() {
                map.insert("again".into(), Json::Bool(true));
            }
            return CallReply::new(answer.status, body);
        }
    };
    record_prediction(shared, name, call, &outcome);
    let body = super::click_answer(outcome.version, &outcome.ret);
    CallReply::new(200, serde_json::from_str(&body).expect("JSON we made"))
}

/// Counts the click, and compares the view's predicted state with the
/// server's result when the view predicted on the version the server ran on.
/// A disagreement is logged (rate-limited, cut to a bounded size) with the
/// callback, its arguments, the view's prediction as hash and length, and
/// what the server changed (`[offset, base64]` runs) and the hashes.
fn record_prediction<S: Pod>(shared: &Shared<S>, name: &str, call: &Call, outcome: &Outcome) {
    let hash = bytes_hash(&outcome.after);
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
        drop(stats);
        let before = &outcome.before;
        let changed: Vec<Json> = super::changed_runs(before, &outcome.after)
            .into_iter()
            .map(|(at, bytes)| json!([at, to_base64(bytes)]))
            .collect();
        shared.log.line(&format!(
            "prediction of `{name}` {} at version {} disagreed: the view predicted SHA-256 \
             {predicted} ({} state bytes sent); the server changed {} of state SHA-256 {} \
             ({} bytes) into SHA-256 {hash}",
            Json::Array(call.args.clone()),
            outcome.base,
            call.state_length,
            Json::Array(changed),
            bytes_hash(&outcome.before),
            before.len(),
        ));
    }
}

/// The parsed body of `POST /execute`.
#[derive(Debug, PartialEq)]
struct Call {
    args: Vec<Json>,
    base: Option<u64>,
    predicted: Option<String>,
    /// Bytes of the predicted state the view sent (it is not kept: logs
    /// name the prediction by its hash).
    state_length: usize,
    /// The calling view's id (an app with view state).
    view: Option<String>,
    /// The click's id, if the page named it (`clicks.rs`).
    click: Option<super::clicks::ClickId>,
}

/// The body as sent. serde's derived parser refuses a field given twice
/// (`{"args":[5],"args":[6]}`, where a map-based parser would let the last
/// one win) and any field it does not know.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    #[serde(default)]
    args: Option<Json>,
    #[serde(default)]
    base: Option<Json>,
    #[serde(default)]
    predicted: Option<Json>,
    #[serde(default)]
    state: Option<Json>,
    #[serde(default)]
    view: Option<Json>,
    #[serde(default)]
    id: Option<Json>,
    /// The page sent this click before (`true`): it may have run.
    #[serde(default)]
    resent: Option<Json>,
    /// The callback's name: in a queue's call only (one call alone is named
    /// by its path).
    #[serde(default)]
    call: Option<Json>,
}

/// A queue's body: `{"view"?: ID, "calls": [{"call": NAME, …a call's
/// fields but `view`}, …]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueBody {
    #[serde(default)]
    view: Option<Json>,
    /// The build the page was served by (`data-build`): its queue is for
    /// that build's callbacks.
    #[serde(default)]
    build: Option<String>,
    /// Each a call's body (without `view`) with `call`, its callback's
    /// name: a field given twice or unknown is refused (the whole request:
    /// it is malformed).
    calls: Vec<CallBody>,
}

/// Why a queue's body is refused whole.
enum QueueRefusal {
    /// Not a queue (400).
    Malformed(String),
    /// It names another build than this one (409: the page reloads).
    Rebuilt,
}

/// The calls of a queue's body, each with its callback's name, or why it
/// is malformed (its answer: the others still run).
type QueuedCall = Result<(String, Call), String>;

fn parse_queue(body: &[u8], build: &str) -> Result<Vec<QueuedCall>, QueueRefusal> {
    let body: QueueBody = serde_json::from_slice(body)
        .map_err(|e| QueueRefusal::Malformed(format!("malformed JSON body: {e}")))?;
    if body.build.as_deref().is_some_and(|b| b != build) {
        return Err(QueueRefusal::Rebuilt);
    }
    if body.calls.len() > QUEUE_MAX {
        return Err(QueueRefusal::Malformed(format!(
            "{} calls in one request; at most {QUEUE_MAX}",
            body.calls.len()
        )));
    }
    Ok(body
        .calls
        .into_iter()
        .enumerate()
        .map(|(i, mut queued)| {
            let name = match queued.call.take() {
                Some(Json::String(name)) => name,
                other => {
                    let what = other.map_or("nothing".into(), |v| crate::callbacks::brief(&v));
                    return Err(format!("call {i}: `call` must name a callback, not {what}"));
                }
            };
            if queued.view.is_some() {
                return Err(format!("call {i}: the view is named once, for all calls"));
            }
            queued.view = body.view.clone();
            let call = call_of(queued).map_err(|why| format!("call {i}: {why}"))?;
            Ok((name, call))
        })
        .collect())
}

fn parse_call(body: &[u8]) -> Result<Call, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Call {
            args: Vec::new(),
            base: None,
            predicted: None,
            state_length: 0,
            view: None,
            click: None,
        });
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Err(format!(
            "the body is not UTF-8 (an invalid byte at offset {})",
            e.valid_up_to()
        ));
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(r#"the body must be a JSON object like {"args":[…]}"#.into());
    }
    let body: CallBody =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))?;
    call_of(body)
}

/// The call a body describes, its fields checked (`call` is taken out
/// first by a queue: here it is one too many).
fn call_of(body: CallBody) -> Result<Call, String> {
    if body.call.is_some() {
        return Err(
            "`call` names a callback in a queue (POST /execute); here the path does".into(),
        );
    }
    let args = match body.args {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(a)) => a,
        Some(other) => return Err(format!("`args` must be an array, not {other}")),
    };
    let base = match body.base {
        None | Some(Json::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| format!("`base` must be a version number, not {v}"))?,
        ),
    };
    let predicted = match body.predicted {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(s)
        }
        Some(v) => return Err(format!("`predicted` must be a SHA-256 in hex, not {v}")),
    };
    let state_length = match body.state {
        None | Some(Json::Null) => 0,
        Some(Json::String(s)) => from_base64(&s)
            .map(|b| b.len())
            .ok_or("`state` must be base64")?,
        Some(_) => return Err("`state` must be base64".into()),
    };
    let view = match body.view {
        None | Some(Json::Null) => None,
        Some(Json::String(id)) if super::views::is_id(&id) => Some(id),
        Some(v) => {
            return Err(format!(
                "`view` must be a view id (64 hex digits), not {}",
                crate::callbacks::brief(&v)
            ))
        }
    };
    let resent = match body.resent {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => b,
        Some(v) => {
            return Err(format!(
                "`resent` must be true or false, not {}",
                crate::callbacks::brief(&v)
            ))
        }
    };
    let click = match body.id {
        None | Some(Json::Null) if resent => return Err("`resent` needs an `id`".into()),
        None | Some(Json::Null) => None,
        Some(Json::String(id)) => Some(super::clicks::ClickId {
            resent,
            ..super::clicks::ClickId::parse(&id)?
        }),
        Some(v) => {
            return Err(format!(
                "`id` must be a click id (PAGE:SEQ), not {}",
                crate::callbacks::brief(&v)
            ))
        }
    };
    Ok(Call {
        args,
        base,
        predicted,
        state_length,
        view,
        click,
    })
}

#[cfg(test)]
mod tests {
    use super::super::clicks::ClickId;
    use super::*;

    #[test]
    fn every_path_has_one_route_and_its_methods() {
        // (path, route, parameter)
        let cases: &[(&str, Option<(Route, &str)>)] = &[
            ("/", Some((Route::Page, ""))),
            ("/events", Some((Route::Events, ""))),
            ("/wasm/add", Some((Route::Wasm, "add"))),
            ("/execute/add", Some((Route::Execute, "add"))),
            ("/favicon.ico", Some((Route::Favicon, ""))),
            ("/events/", None),
            ("/nope", None),
        ];
        for (path, want) in cases {
            let got = route(path).map(|(_, r, p)| (r, p));
            assert_eq!(got, *want, "{path}");
        }
        assert_eq!(route("/execute/x").unwrap().0, POST);
        assert_eq!(route("/state").unwrap().0, GET);
    }

    #[test]
    fn queues_name_their_calls_and_a_bad_call_is_its_own_answer() {
        // (body, build given, calls parsed: the name or the start of its error)
        type Case<'a> = (&'a str, Result<Vec<Result<&'a str, &'a str>>, &'a str>);
        let cases: &[Case] = &[
            (r#"{"calls":[]}"#, Ok(vec![])),
            (
                r#"{"calls":[{"call":"a","args":[1]},{"args":[]},{"call":"b","base":-1}]}"#,
                Ok(vec![
                    Ok("a"),
                    Err("call 1: `call` must name"),
                    Err("call 2: `base`"),
                ]),
            ),
            (
                r#"{"calls":[{"call":"a","view":"x"}]}"#,
                Ok(vec![Err("call 0: the view is named once")]),
            ),
            (r#"{"calls":[],"build":"other"}"#, Err("rebuilt")),
            (r#"{"calls":[],"build":"this"}"#, Ok(vec![])),
            (r#"{"calls":{}}"#, Err("malformed JSON body")),
            (r#"{"calls":[],"calls":[]}"#, Err("malformed JSON body")),
            (
                r#"{"calls":[{"call":"a","args":[1],"args":[2]}]}"#,
                Err("malformed JSON body"),
            ),
            (
                r#"{"calls":[{"call":"a","nope":1}]}"#,
                Err("malformed JSON body"),
            ),
        ];
        for (body, want) in cases {
            let got = match parse_queue(body.as_bytes(), "this") {
                Ok(calls) => Ok(calls),
                Err(QueueRefusal::Rebuilt) => Err("rebuilt".to_string()),
                Err(QueueRefusal::Malformed(why)) => Err(why),
            };
            match (got, want) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got.len(), want.len(), "{body}");
                    for (got, want) in got.iter().zip(want) {
                        match (got, want) {
                            (Ok((name, _)), Ok(want)) => assert_eq!(name, want, "{body}"),
                            (Err(why), Err(want)) => {
                                assert!(why.starts_with(want), "{body}: {why}")
                            }
                            _ => panic!("{body}: {got:?}"),
                        }
                    }
                }
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{body}: {got}"),
                (got, want) => panic!("{body}: got {:?}, want {want:?}", got.map(|c| c.len())),
            }
        }
        let many = format!(
            r#"{{"calls":[{}]}}"#,
            vec![r#"{"call":"a"}"#; QUEUE_MAX + 1].join(",")
        );
        assert!(matches!(
            parse_queue(many.as_bytes(), "this"),
            Err(QueueRefusal::Malformed(_))
        ));
    }

    #[test]
    fn execute_bodies_are_checked() {
        let ok = |args: Vec<Json>, base, predicted: Option<&str>, state_length| Call {
            args,
            base,
            predicted: predicted.map(String::from),
            state_length,
            view: None,
            click: None,
        };
        let hash = "ab".repeat(32);
        // (body, parsed call or the start of the error)
        let cases: Vec<(String, Result<Call, &str>)> = vec![
            ("".into(), Ok(ok(vec![], None, None, 0))),
            ("{}".into(), Ok(ok(vec![], None, None, 0))),
            (
                r#"{"args":[5,"6"],"base":3}"#.into(),
                Ok(ok(vec![json!(5), json!("6")], Some(3), None, 0)),
            ),
            (
                format!(r#"{{"predicted":"{hash}","state":"AAAA"}}"#),
                Ok(ok(vec![], None, Some(&hash), 3)),
            ),
            (
                r#"{"args":[5],"args":[6]}"#.into(),
                Err("malformed JSON body: duplicate field `args`"),
            ),
            (
                r#"{"base":1,"base":1}"#.into(),
                Err("malformed JSON body: duplicate field `base`"),
            ),
            (
                r#"{"args":5}"#.into(),
                Err("`args` must be an array, not 5"),
            ),
            ("[1]".into(), Err("the body must be a JSON object")),
            ("{".into(), Err("malformed JSON body")),
            (
                r#"{"args":[1]} x"#.into(),
                Err("malformed JSON body: trailing characters"),
            ),
            (
                r#"{"base":-1}"#.into(),
                Err("`base` must be a version number"),
            ),
            (
                r#"{"predicted":"xyz"}"#.into(),
                Err("`predicted` must be a SHA-256"),
            ),
            (r#"{"state":"%%%"}"#.into(), Err("`state` must be base64")),
            (
                r#"{"a":1,"a":2}"#.into(),
                Err("malformed JSON body: unknown field `a`"),
            ),
            (
                r#"{"id":"pagepage:7"}"#.into(),
                Ok(Call {
                    click: Some(ClickId {
                        page: "pagepage".into(),
                        seq: 7,
                        resent: false,
                    }),
                    ..ok(vec![], None, None, 0)
                }),
            ),
            (
                r#"{"id":"pagepage:7","resent":true}"#.into(),
                Ok(Call {
                    click: Some(ClickId {
                        page: "pagepage".into(),
                        seq: 7,
                        resent: true,
                    }),
                    ..ok(vec![], None, None, 0)
                }),
            ),
            (r#"{"resent":true}"#.into(), Err("`resent` needs an `id`")),
            (
                r#"{"id":"pagepage:7","resent":1}"#.into(),
                Err("`resent` must be true or false"),
            ),
            (r#"{"id":"short:7"}"#.into(), Err("`id` must be PAGE:SEQ")),
            (r#"{"id":7}"#.into(), Err("`id` must be a click id")),
            (
                r#"{"call":"x"}"#.into(),
                Err("`call` names a callback in a queue"),
            ),
        ];
        for (body, want) in cases {
            match (parse_call(body.as_bytes()), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{body}"),
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{body}: {got}"),
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
    }
}
