//! `GET /events`: Server-Sent Events, one stream per open view, each a
//! [`StreamSource`] the HTTP layer writes as it yields (no thread per view).
//!
//! The renderer publishes each new shown version on a watch channel; a
//! stream wakes, takes the patch events it has not sent from the log (or a
//! `reset` with the whole view when it fell too far behind), and yields
//! them as one chunk. A stream that writes slowly is simply woken less
//! often: it never holds more than the events of one wake-up.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytemuck::Pod;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::http::{NextChunk, StreamSource};
use serde_json::Value as Json;

use super::views::{Rendered, Sent};
use super::{bytes_hash, changed_runs, to_base64, Shared};
use crate::dom::{diff, view_hash, Patch};

/// A comment line goes out this often, so dead connections are noticed and
/// proxies keep the stream open (whatever else was sent: one timer per
/// stream that is never re-armed by events is what lets 10,000 streams
/// wake at once cheaply).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Whether the page renders itself (it runs the view module): then an app
/// with view state sends its view the state alone, and renders it on the
/// server only for a reset (and, when the page checks, for the view's hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageRenders {
    /// The page applies the server's patches.
    No,
    /// The page renders every state itself.
    Yes,
    /// It does, and checks its DOM against the server's view hash.
    Checking,
}

/// One view's event stream.
pub struct Events<S> {
    shared: Arc<Shared<S>>,
    /// The version the view said it shows (`?since=V` or `Last-Event-ID`).
    seen: Option<u64>,
    /// The version of the last event sent.
    sent: Option<u64>,
    /// In an app with view state: what this stream sent its view last
    /// (each stream its own, so that two streams of one view, a page that
    /// reconnected while its old connection lingers, each get patches from
    /// what they sent; it starts as what the page load sent).
    view_sent: Option<Sent>,
    published: watch::Receiver<u64>,
    /// Counts this view among the open ones once the stream has started.
    open: Option<Counted>,
    /// Counts it among the streams that need the server's render, if it
    /// does (an app without view state, a page that does not render
    /// itself or checks what it rendered).
    _needs_html: Option<Counted>,
    /// In an app with view state: the view's id, and what wakes the stream
    /// when a callback changed its view state alone (a count every stream
    /// of the view sees: a page that reconnects while its old stream is
    /// still open gets the change on both).
    view: Option<(String, watch::Receiver<u64>, Attached<S>)>,
    /// When the next keep-alive comment is due (made on the first wait:
    /// a timer needs the runtime).
    keep_alive: Option<Pin<Box<Sleep>>>,
    /// Whether the page renders itself.
    page_renders: PageRenders,
    /// The view's id is a new one (the page named one this server did not
    /// issue): the first reset tells the page.
    reissued: bool,
}

/// A stream attached to its view state while it lives.
struct Attached<S>(Arc<Shared<S>>, String);

impl<S> Drop for Attached<S> {
    fn drop(&mut self) {
        if let Some(views) = &self.0.view_states {
            views.detach(&self.1);
        }
    }
}

/// One count in a counter of streams ([`Shared::views`],
/// [`Shared::html_streams`]) while it lives.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Counted {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S: Pod + Send + 'static> Events<S> {
    /// A stream for a view that shows version `seen` (a view on any other
    /// version than the server's gets a `reset` at once).
    ///
    /// In an app with view state, `view` is the page's view id (the caller
    /// checked its form): the stream renders that view. `owner` is the
    /// client's address as budgets count it (a view made for it is its).
    pub fn new(
        shared: Arc<Shared<S>>,
        seen: Option<u64>,
        (view, owner): (Option<String>, u128),
        page_renders: PageRenders,
    ) -> Events<S> {
        let published = shared.published.subscribe();
        let mut reissued = false;
        let view = match (&shared.view_states, view) {
            (Some(views), Some(named)) => views.attach(&named, owner).map(|(id, changed)| {
                reissued = id != named;
                (id.clone(), changed, Attached(shared.clone(), id))
            }),
            _ => None,
        };
        let needs_html = shared.view_states.is_none() && page_renders != PageRenders::Yes;
        Events {
            _needs_html: needs_html.then(|| Counted::new(&shared.html_streams)),
            shared,
            seen,
            sent: None,
            view_sent: None,
            published,
            open: None,
            view,
            keep_alive: None,
            page_renders,
            reissued,
        }
    }

    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if self.open.is_none() {
            self.open = Some(Counted::new(&self.shared.views));
            let mut out = b"retry: 1000\n\n".to_vec();
            let current = match (&self.view, &self.shared.view_states) {
                (Some((id, _, _)), Some(views)) => {
                    self.view_sent = views.lock().get(id).and_then(|slot| slot.sent.clone());
                    self.view_sent.as_ref().map(|sent| sent.version)
                }
                _ => Some(self.shared.shown().version),
            };
            if self.seen.is_some() && self.seen == current {
                self.sent = self.seen;
            }
            self.published.borrow_and_update();
            out.extend(self.pending());
            return Some(out);
        }
        loop {
            if self.shared.store_down() {
                return None; // the view reconnects once the store is back
            }
            // Marked seen before the shown view is read: a version published
            // (or a view change made) after this wakes `changed` below.
            self.published.borrow_and_update();
            if let Some((_, changed, _)) = &mut self.view {
                changed.borrow_and_update();
            }
            let out = self.pending();
            if !out.is_empty() {
                return Some(out);
            }
            let published = &mut self.published;
            let view_changed = self.view.as_mut().map(|(_, changed, _)| changed);
            let woken = async {
                match view_changed {
                    Some(changed) => tokio::select! {
                        r = published.changed() => r,
                        r = changed.changed() => r,
                    },
                    None => published.changed().await,
                }
            };
            let keep_alive = self
                .keep_alive
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(KEEP_ALIVE)));
            tokio::select! {
                () = keep_alive.as_mut() => {
                    keep_alive.as_mut().reset(Instant::now() + KEEP_ALIVE);
                    return Some(b": keep-alive\n\n".to_vec());
                }
                woke = woken => if woke.is_err() {
                    return None; // the server is going away
                },
            }
        }
    }

    /// The events this view has not been sent, as SSE text (empty when it
    /// is up to date): the events since the last one sent if the log still
    /// has them (with the server's patches for a page that takes them: if
    /// the server did not render one, a reset), else a `reset`.
    fn pending(&mut self) -> Vec<u8> {
        if let Some((id, _, _)) = &self.view {
            let id = id.clone();
            return self.pending_view(&id);
        }
        let mut shown = self.shared.shown();
        if Some(shown.version) == self.sent {
            return Vec::new();
        }
        let patched = self.page_renders == PageRenders::No;
        let events: Option<Vec<Arc<[u8]>>> = self
            .sent
            .and_then(|v| shown.log.iter().position(|e| e.from == v))
            .and_then(|i| {
                let events = shown.log.iter().skip(i);
                match patched {
                    true => events.map(|e| e.patched.clone()).collect(),
                    false => Some(events.map(|e| e.state_only.clone()).collect()),
                }
            });
        if let Some(events) = events {
            self.sent = Some(shown.version);
            return events.concat();
        }
        let version = shown.version;
        let data = json!({
            "version": version,
            "html": self.shared.shown_html(&mut shown),
            "state": to_base64(bytemuck::bytes_of(&shown.state)),
        })
        .to_string();
        self.sent = Some(version);
        format!("id: {version}\nevent: reset\ndata: {data}\n\n").into_bytes()
    }
}

impl<S: Pod + Send + 'static> Events<S> {
    /// The event that brings view `id` to its current version, rendered
    /// for it: a patch from what it was last sent, or a reset (empty when
    /// it is up to date).
    fn pending_view(&mut self, id: &str) -> Vec<u8> {
        let Some(views) = &self.shared.view_states else {
            return Vec::new();
        };
        let (shared_version, state) = {
            let shown = self.shared.shown();
            (shown.version, shown.state)
        };
        // what is needed, copied out: rendering and diffing happen with no
        // lock held, so clicks never wait for them
        let Some((own, view)) = views.lock().get(id).map(|s| (s.own, s.bytes.clone())) else {
            return Vec::new();
        };
        let sent = self.view_sent.clone();
        let version = shared_version + own;
        if Some(version) == self.sent {
            return Vec::new();
        }
        // the view's next event continues from what it was sent
        let follows = sent
            .as_ref()
            .filter(|from| Some(from.version) == self.sent && from.version < version);
        // the view's bytes and the first 16 hex digits of their hash
        let bytes = || {
            let bytes = views.view_bytes(shared_version, bytemuck::bytes_of(&state), &view);
            let sha = bytes_hash(&views.combined(&bytes))[..16].to_string();
            (bytes, sha)
        };
        let render = || {
            let tree = self.shared.render_view(&state, &view);
            let Ok(tree) = tree else {
                eprintln!("x64wasm: render panicked at version {version}; the view is not updated");
                return None;
            };
            let (bytes, sha) = bytes();
            let view = view_hash(&tree);
            Some(Rendered {
                tree: Some(tree),
                bytes,
                sha,
                view,
            })
        };
        // A page that renders itself needs only the bytes: the server
        // renders it for a reset, or for the hash a checking page compares.
        // Views with equal view states share them (as renders and patches):
        // a thousand pages on one filter cost one hash of their bytes.
        let rendered = if self.page_renders == PageRenders::Yes && follows.is_some() {
            Some(views.bytes(shared_version, &view, || {
                let (bytes, sha) = bytes();
                Rendered {
                    tree: None,
                    bytes,
                    sha,
                    view: String::new(),
                }
            }))
        } else {
            views.rendered(shared_version, &view, render)
        };
        let Some(rendered) = rendered else {
            return Vec::new();
        };
        // What a patch event carries instead of a reset: no patches for a
        // page that renders itself; for one that does not, the diff from the
        // tree it was sent (none if it was sent bytes alone: then a reset).
        let patches: Option<Option<Arc<str>>> = match (self.page_renders, follows) {
            (_, None) => None,
            (PageRenders::No, Some(from)) => match (&from.rendered.tree, &rendered.tree) {
                (Some(old), Some(new)) => {
                    Some(Some(views.patches(from, shared_version, &view, || {
                        let patches: Vec<Json> =
                            diff(old, new).iter().map(Patch::to_json).collect();
                        Json::Array(patches).to_string()
                    })))
                }
                _ => None,
            },
            (_, Some(_)) => Some(None),
        };
        let out = match (follows, patches) {
            (Some(from), Some(patches)) => {
                let runs = views.runs(from, shared_version, &view, || {
                    let runs: Vec<Json> = changed_runs(
                        &views.combined(&from.rendered.bytes),
                        &views.combined(&rendered.bytes),
                    )
                    .into_iter()
                    .map(|(at, bytes)| json!([at, to_base64(bytes)]))
                    .collect();
                    Json::Array(runs).to_string()
                });
                // the patch list and runs are spliced in as they were cached
                // (JSON text); the view's hash only when it was rendered, for
                // a page that checks or takes patches
                let patches = patches.map_or(String::new(), |p| format!(r#","patches":{p}"#));
                let hash = match (self.page_renders, rendered.view.as_str()) {
                    (PageRenders::Yes, _) | (_, "") => String::new(),
                    (_, hash) => format!(r#","view":"{hash}""#),
                };
                let data = format!(
                    r#"{{"from":{}{patches},"sha":"{}","state":{runs},"version":{version}{hash}}}"#,
                    from.version, rendered.sha,
                );
                format!("id: {version}\nevent: patch\ndata: {data}\n\n")
            }
            _ => {
                let html = match &rendered.tree {
                    Some(tree) => tree.to_html(),
                    None => return Vec::new(), // cannot happen: a reset renders
                };
                let mut data = json!({
                    "version": version,
                    "html": html,
                    "state": to_base64(&views.combined(&rendered.bytes)),
                });
                if std::mem::take(&mut self.reissued) {
                    data["id"] = json!(id);
                }
                let data = data.to_string();
                format!("id: {version}\nevent: reset\ndata: {data}\n\n")
            }
        };
        // A page that renders itself is never diffed against: what it was
        // sent is kept without the tree (a reset rendered one for its HTML)
        let rendered = match (self.page_renders, &rendered.tree) {
            (PageRenders::Yes, Some(_)) => Arc::new(Rendered {
                tree: None,
                bytes: rendered.bytes.clone(),
                sha: rendered.sha.clone(),
                view: rendered.view.clone(),
            }),
            _ => rendered,
        };
        let sent = Sent {
            version,
            shared_version,
            view,
            rendered,
        };
        // the view's slot keeps it too: a page load hands it to the view's
        // first stream, and a stream that reconnects takes it up
        if let Some(slot) = views.lock().get_mut(id) {
            slot.used = std::time::Instant::now();
            slot.sent = Some(sent.clone());
        }
        self.view_sent = Some(sent);
        self.sent = Some(version);
        out.into_bytes()
    }
}

impl<S: Pod + Send + 'static> StreamSource for Events<S> {
    fn next(&mut self) -> NextChunk<'_> {
        Box::pin(self.next_chunk())
    }
}
