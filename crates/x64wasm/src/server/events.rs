//! `GET /events`: Server-Sent Events, one stream per open view, each a
//! [`StreamSource`] the HTTP layer writes as it yields (no thread per view).
//!
//! The renderer publishes each new shown version on a watch channel; a
//! stream wakes, takes the patch events it has not sent from the log (or a
//! `reset` with the whole view when it fell too far behind), and yields
//! them as one chunk. A stream that writes slowly is simply woken less
//! often: it never holds more than the events of one wake-up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytemuck::Pod;
use serde_json::json;
use tokio::sync::watch;

use super::http::{NextChunk, StreamSource};
use super::{to_base64, Shared};

/// A comment line goes out this often when nothing changes, so dead
/// connections are noticed and proxies keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One view's event stream.
pub struct Events<S> {
    shared: Arc<Shared<S>>,
    /// The version the view said it shows (`?since=V` or `Last-Event-ID`).
    seen: Option<u64>,
    /// The version of the last event sent.
    sent: Option<u64>,
    published: watch::Receiver<u64>,
    /// Counts this view among the open ones once the stream has started.
    open: Option<OpenView>,
}

/// One count in [`Shared::views`] while it lives.
struct OpenView(Arc<AtomicUsize>);

impl Drop for OpenView {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S: Pod + Send + 'static> Events<S> {
    /// A stream for a view that shows version `seen` (a view on any other
    /// version than the server's gets a `reset` at once).
    pub fn new(shared: Arc<Shared<S>>, seen: Option<u64>) -> Events<S> {
        let published = shared.published.subscribe();
        Events {
            shared,
            seen,
            sent: None,
            published,
            open: None,
        }
    }

    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if self.open.is_none() {
            self.shared.views.fetch_add(1, Ordering::SeqCst);
            self.open = Some(OpenView(self.shared.views.clone()));
            let mut out = b"retry: 1000\n\n".to_vec();
            if self.seen.is_some() && self.seen == Some(self.shared.shown().version) {
                self.sent = self.seen;
            }
            self.published.borrow_and_update();
            out.extend(self.pending());
            return Some(out);
        }
        loop {
            // Marked seen before the shown view is read: a version published
            // after this wakes `changed` below.
            self.published.borrow_and_update();
            let out = self.pending();
            if !out.is_empty() {
                return Some(out);
            }
            match tokio::time::timeout(KEEP_ALIVE, self.published.changed()).await {
                Err(_) => return Some(b": keep-alive\n\n".to_vec()),
                Ok(Err(_)) => return None, // the server is going away
                Ok(Ok(())) => {}
            }
        }
    }

    /// The events this view has not been sent, as SSE text (empty when it
    /// is up to date): the patch events since the last one sent if the log
    /// still has them, else a `reset`.
    fn pending(&mut self) -> Vec<u8> {
        let shown = self.shared.shown();
        if Some(shown.version) == self.sent {
            return Vec::new();
        }
        let start = self
            .sent
            .and_then(|v| shown.log.iter().position(|e| e.from == v));
        let mut out = Vec::new();
        match start {
            Some(i) => {
                for event in shown.log.iter().skip(i) {
                    out.extend_from_slice(
                        format!(
                            "id: {}\nevent: patch\ndata: {}\n\n",
                            event.version, event.data
                        )
                        .as_bytes(),
                    );
                    self.sent = Some(event.version);
                }
            }
            None => {
                let version = shown.version;
                let data = json!({
                    "version": version,
                    "html": shown.view.to_html(),
                    "state": to_base64(bytemuck::bytes_of(&shown.state)),
                })
                .to_string();
                out.extend_from_slice(
                    format!("id: {version}\nevent: reset\ndata: {data}\n\n").as_bytes(),
                );
                self.sent = Some(version);
            }
        }
        out
    }
}

impl<S: Pod + Send + 'static> StreamSource for Events<S> {
    fn next(&mut self) -> NextChunk<'_> {
        Box::pin(self.next_chunk())
    }
}
