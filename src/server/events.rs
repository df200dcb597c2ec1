//! `GET /events`: Server-Sent Events, one thread per open view.
//!
//! tiny_http buffers chunked responses 8 KiB at a time, which would hold
//! events back; so the stream is written on the raw connection
//! (`into_writer`), head included, and flushed after every event.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytemuck::Pod;
use serde_json::json;
use tiny_http::Request;

use super::{base64, Event, Shared};

/// A comment line goes out this often when nothing changes, so dead
/// connections are noticed and proxies keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Streams events to one view on a thread of its own: each `patch` event the
/// renderer publishes (one per rendered version, which may cover several
/// clicks), or a `reset` with the whole view. `since` is the version the view
/// shows (`?since=V`, or `Last-Event-ID` when the browser reconnects); a view
/// on any other version gets a `reset` at once.
pub fn stream<S: Pod + Send + 'static>(
    shared: Arc<Shared<S>>,
    request: Request,
    since: Option<u64>,
) {
    let last_event_id =
        super::routes::header(&request, "Last-Event-ID").and_then(|v| v.trim().parse::<u64>().ok());
    let seen = last_event_id.or(since);
    let spawned = std::thread::Builder::new()
        .name("x64wasm-events".into())
        .spawn(move || {
            let mut out = request.into_writer();
            shared.views.fetch_add(1, Ordering::SeqCst);
            let _ = send_events(&shared, &mut out, seen);
            shared.views.fetch_sub(1, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        eprintln!("x64wasm: cannot start an event stream thread: {e}");
    }
}

fn send_events<S: Pod>(
    shared: &Shared<S>,
    out: &mut dyn Write,
    seen: Option<u64>,
) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          Connection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n",
    )?;
    out.write_all(b"retry: 1000\n\n")?;
    out.flush()?;
    // A view that connects knowing another version than the server's (a
    // reload, a reconnect after a cut, a server restart) gets the whole view.
    let mut sent = None;
    if seen.is_some() && seen == Some(shared.shown().version) {
        sent = seen;
    }
    loop {
        let shown = shared.shown();
        let (shown, _) = shared
            .changed
            .wait_timeout_while(shown, KEEP_ALIVE, |s| Some(s.version) == sent)
            .unwrap_or_else(|e| e.into_inner());
        if Some(shown.version) == sent {
            drop(shown);
            out.write_all(b": keep-alive\n\n")?;
            out.flush()?;
            continue;
        }
        // The patch events since the last one sent, if the log still has
        // them (a stream that fell far behind gets a reset instead).
        let start = sent.and_then(|v| shown.log.iter().position(|e| e.from == v));
        let events: Vec<Event> = match start {
            Some(i) => shown.log.iter().skip(i).cloned().collect(),
            None => Vec::new(),
        };
        if events.is_empty() {
            let version = shown.version;
            let data = json!({
                "version": version,
                "html": shown.view.to_html(),
                "state": base64::encode(bytemuck::bytes_of(&shown.state)),
            })
            .to_string();
            drop(shown);
            write!(out, "id: {version}\nevent: reset\ndata: {data}\n\n")?;
            sent = Some(version);
        } else {
            drop(shown);
            for event in &events {
                write!(
                    out,
                    "id: {}\nevent: patch\ndata: {}\n\n",
                    event.version, event.data
                )?;
                sent = Some(event.version);
            }
        }
        out.flush()?;
    }
}
