//! Per-view state (README "Per-view state"): each open page of an app that
//! declares a view state type `V` has its own `V`, kept here by the
//! page's view id, next to the shared state every view shows.
//!
//! A view sees one byte string: the shared state, zeros up to the view
//! state's alignment, then its view state (the layout of
//! [`Both`](crate::callbacks::Both)). Its version is the shared version
//! plus the number of view-only callbacks it ran, so every click moves it
//! by one and its events chain as a shared-only app's do. Each view's
//! stream renders `render(shared, view)` itself and diffs it against what
//! it sent last (kept here, so a reconnecting page resumes with patches).
//!
//! View states live in memory only: `--state-file` saves the shared state,
//! and a page whose view the server does not know (after a restart, or
//! after [`VIEW_IDLE`] without a stream) starts again from the app's
//! initial view state, with a `reset`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::dom::Node;

/// How long a view with no open stream is kept.
pub const VIEW_IDLE: Duration = Duration::from_secs(600);

/// The most views kept; past it the longest-idle view without a stream is
/// dropped (a page that comes back gets a fresh view state).
pub const MAX_VIEWS: usize = 20_000;

/// The most views without a stream that keep what they were sent last (a
/// whole rendered view each), newest first: a page that loads or
/// reconnects among them resumes with patches, any other with a `reset`.
/// Page loads alone so cannot make the server hold more than this many
/// rendered views.
pub const DETACHED_TREES: usize = 256;

/// What a view was last sent: its version, and what it was rendered from
/// and into (shared with every view that showed the same).
#[derive(Clone)]
pub(crate) struct Sent {
    /// The view's version.
    pub version: u64,
    /// The shared version it was rendered from.
    pub shared_version: u64,
    /// The view state's bytes it was rendered from.
    pub view: Vec<u8>,
    /// The rendering.
    pub rendered: Arc<Rendered>,
}

/// A view rendered: the tree, the view's bytes and their hash.
pub(crate) struct Rendered {
    /// `render(&Both)`, normalized; `None` for a view whose page renders
    /// itself (the view module) and was sent the bytes alone.
    pub tree: Option<Node>,
    /// The view's bytes (shared state, padding, view state).
    pub bytes: Vec<u8>,
    /// The first 16 hex digits of their SHA-256 (what patch events carry).
    pub sha: String,
    /// The tree's [`view_hash`](crate::dom::view_hash) (what patch events
    /// carry for the view check).
    pub view: String,
}

/// Renderings and patches of the newest shared version, by view state:
/// views whose view states are equal (a crowd of pages on the initial view
/// state) cost one render and one diff per change, not one each.
#[derive(Default)]
struct Cache {
    /// The shared version the entries are for.
    shared_version: u64,
    /// Renderings by view state.
    rendered: HashMap<Vec<u8>, Arc<Rendered>>,
    /// A view's bytes and their hash without a render (for pages that
    /// render themselves), by view state.
    bytes: HashMap<Vec<u8>, Arc<Rendered>>,
    /// Patch lists (JSON) by change.
    patches: HashMap<Change, Arc<str>>,
    /// Changed state bytes (JSON runs) by change.
    runs: HashMap<Change, Arc<str>>,
}

/// A view's change: (shared version from, view state from, view state to),
/// to the cache's shared version.
type Change = (u64, Vec<u8>, Vec<u8>);

/// One view's state.
pub(crate) struct Slot {
    /// Its view state's bytes.
    pub bytes: Vec<u8>,
    /// View-only callbacks it ran (its version is the shared one plus this).
    pub own: u64,
    /// What its stream sent last.
    pub sent: Option<Sent>,
    /// Counts the view-only callbacks that changed it: every stream of the
    /// view watches it.
    pub changed: watch::Sender<u64>,
    /// Streams open for it now.
    pub streams: usize,
    /// When it was last used (created, called, streamed).
    pub used: Instant,
}

/// The views of an app with a view state type.
pub(crate) struct Views {
    /// Where the view state starts in a view's bytes.
    pub offset: usize,
    /// The initial view state's bytes.
    pub initial: Vec<u8>,
    slots: Mutex<HashMap<String, Slot>>,
    cache: Mutex<Cache>,
    /// When slots were last collected.
    collected: Mutex<Instant>,
}

impl Views {
    /// Views of an app whose view state starts at `offset` and is `initial`.
    pub fn new(offset: usize, initial: Vec<u8>) -> Views {
        Views {
            offset,
            initial,
            slots: Mutex::new(HashMap::new()),
            cache: Mutex::new(Cache::default()),
            collected: Mutex::new(Instant::now()),
        }
    }

    /// The rendering of `view` on the shared state at `shared_version`,
    /// made by `render` unless a view with the same view state already
    /// had it made.
    pub fn rendered(
        &self,
        shared_version: u64,
        view: &[u8],
        render: impl FnOnce() -> Option<Rendered>,
    ) -> Option<Arc<Rendered>> {
        if let Some(hit) = self.cached(shared_version, |c| c.rendered.get(view).cloned()) {
            return Some(hit);
        }
        let made = Arc::new(render()?);
        self.store(shared_version, |c| {
            c.rendered.insert(view.to_vec(), made.clone());
        });
        Some(made)
    }

    /// The view's bytes and hash on the shared state at `shared_version`,
    /// for a page that renders itself: a rendering's if one was made, else
    /// made by `make` unless a view with the same view state had them made.
    pub fn bytes(
        &self,
        shared_version: u64,
        view: &[u8],
        make: impl FnOnce() -> Rendered,
    ) -> Arc<Rendered> {
        let hit = self.cached(shared_version, |c| {
            c.rendered.get(view).or_else(|| c.bytes.get(view)).cloned()
        });
        if let Some(hit) = hit {
            return hit;
        }
        let made = Arc::new(make());
        self.store(shared_version, |c| {
            c.bytes.insert(view.to_vec(), made.clone());
        });
        made
    }

    /// The patch list (JSON) from what `from` was sent to `to`'s rendering
    /// at `shared_version`, made by `diff` unless already made.
    pub fn patches(
        &self,
        from: &Sent,
        shared_version: u64,
        view: &[u8],
        diff: impl FnOnce() -> String,
    ) -> Arc<str> {
        self.memo(|c| &mut c.patches, from, (shared_version, view), diff)
    }

    /// The changed state bytes (JSON runs) from what `from` was sent to the
    /// view's bytes at `shared_version`, made by `runs` unless already made.
    pub fn runs(
        &self,
        from: &Sent,
        shared_version: u64,
        view: &[u8],
        runs: impl FnOnce() -> String,
    ) -> Arc<str> {
        self.memo(|c| &mut c.runs, from, (shared_version, view), runs)
    }

    /// What `make` makes of the change from `from` to `view` at
    /// `shared_version`, kept in the cache's map `map`.
    fn memo(
        &self,
        map: fn(&mut Cache) -> &mut HashMap<Change, Arc<str>>,
        from: &Sent,
        (shared_version, view): (u64, &[u8]),
        make: impl FnOnce() -> String,
    ) -> Arc<str> {
        let key = (from.shared_version, from.view.clone(), view.to_vec());
        let hit = self.cached(shared_version, |c| map(c).get(&key).cloned());
        if let Some(hit) = hit {
            return hit;
        }
        let made: Arc<str> = make().into();
        self.store(shared_version, |c| {
            map(c).insert(key, made.clone());
        });
        made
    }

    fn cached<T>(
        &self,
        shared_version: u64,
        get: impl FnOnce(&mut Cache) -> Option<T>,
    ) -> Option<T> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        (cache.shared_version == shared_version)
            .then(|| get(&mut cache))
            .flatten()
    }

    /// Stores into the cache for `shared_version` (a newer one empties it;
    /// an older one is not kept).
    fn store(&self, shared_version: u64, put: impl FnOnce(&mut Cache)) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if shared_version > cache.shared_version {
            *cache = Cache {
                shared_version,
                ..Cache::default()
            };
        }
        if shared_version == cache.shared_version {
            put(&mut cache);
        }
    }

    /// The slots (a poisoned lock still holds whole states: every change is
    /// made on a copy and stored at once).
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new view with the initial view state; returns its id.
    pub fn create(&self) -> String {
        let id = new_id();
        let mut slots = self.lock();
        self.collect(&mut slots);
        slots.insert(id.clone(), self.fresh());
        id
    }

    /// The slot of `id`, made fresh if the server does not know it (a page
    /// from before a restart). `None` when `id` is not a view id.
    pub fn attach(&self, id: &str) -> Option<watch::Receiver<u64>> {
        if !is_id(id) {
            return None;
        }
        let mut slots = self.lock();
        if !slots.contains_key(id) {
            self.collect(&mut slots);
        }
        let slot = slots.entry(id.to_string()).or_insert_with(|| self.fresh());
        slot.streams += 1;
        slot.used = Instant::now();
        Some(slot.changed.subscribe())
    }

    /// A stream of `id` ended.
    pub fn detach(&self, id: &str) {
        if let Some(slot) = self.lock().get_mut(id) {
            slot.streams = slot.streams.saturating_sub(1);
            slot.used = Instant::now();
        }
    }

    fn fresh(&self) -> Slot {
        Slot {
            bytes: self.initial.clone(),
            own: 0,
            sent: None,
            changed: watch::channel(0).0,
            streams: 0,
            used: Instant::now(),
        }
    }

    /// A view's bytes: `shared`, zeros to the view state's offset, `view`.
    pub fn combine(&self, shared: &[u8], view: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.offset + view.len());
        bytes.extend_from_slice(shared);
        bytes.resize(self.offset, 0);
        bytes.extend_from_slice(view);
        bytes
    }
}

impl Views {
    /// At most once a second, or when the table is full: see [`collect`].
    fn collect(&self, slots: &mut HashMap<String, Slot>) {
        let mut last = self.collected.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_VIEWS || last.elapsed() >= Duration::from_secs(1) {
            collect(slots);
            *last = Instant::now();
        }
    }
}

/// Drops views idle past [`VIEW_IDLE`] with no stream, and when the table
/// is full the longest-idle ones without a stream, down to 90% of
/// [`MAX_VIEWS`] (so a full table is not sorted on every page load); only
/// the newest [`DETACHED_TREES`] without a stream keep what they were sent.
fn collect(slots: &mut HashMap<String, Slot>) {
    let now = Instant::now();
    slots.retain(|_, s| s.streams > 0 || now.duration_since(s.used) < VIEW_IDLE);
    let mut detached: Vec<(Instant, &mut Slot)> = slots
        .values_mut()
        .filter(|s| s.streams == 0 && s.sent.is_some())
        .map(|s| (s.used, s))
        .collect();
    if detached.len() > DETACHED_TREES {
        detached.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        for (_, slot) in detached.into_iter().skip(DETACHED_TREES) {
            slot.sent = None;
        }
    }
    if slots.len() >= MAX_VIEWS {
        let mut idle: Vec<(Instant, String)> = slots
            .iter()
            .filter(|(_, s)| s.streams == 0)
            .map(|(id, s)| (s.used, id.clone()))
            .collect();
        idle.sort();
        let excess = slots.len() + 1 - MAX_VIEWS * 9 / 10;
        for (_, id) in idle.into_iter().take(excess) {
            slots.remove(&id);
        }
    }
}

/// A view id: 128 random bits in hex (32 lowercase digits).
fn new_id() -> String {
    random_hex()
}

/// 128 random bits from the kernel, in hex (32 lowercase digits): view
/// ids and access tokens.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most `len` bytes into the buffer.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    assert_eq!(got, 16, "getrandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `id` has the form of a view id.
pub fn is_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_made_found_and_combined() {
        let views = Views::new(12, vec![7, 7]);
        let id = views.create();
        assert!(is_id(&id));
        assert_ne!(id, views.create(), "ids differ");
        assert!(views.attach(&id).is_some());
        assert!(views.attach("not-an-id").is_none());
        let unknown = "0".repeat(32);
        assert!(
            views.attach(&unknown).is_some(),
            "a page from before a restart"
        );
        assert_eq!(views.lock()[&unknown].bytes, [7, 7]);
        assert_eq!(
            views.combine(&[1; 10], &[9, 9]),
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 9, 9]
        );
    }

    #[test]
    fn only_the_newest_detached_views_keep_their_rendered_view() {
        let views = Views::new(0, vec![]);
        let ids: Vec<String> = (0..DETACHED_TREES + 10).map(|_| views.create()).collect();
        for (k, id) in ids.iter().enumerate() {
            let mut slots = views.lock();
            let slot = slots.get_mut(id).unwrap();
            slot.sent = Some(Sent {
                version: 0,
                shared_version: 0,
                view: Vec::new(),
                rendered: Arc::new(Rendered {
                    tree: None,
                    bytes: Vec::new(),
                    sha: String::new(),
                    view: String::new(),
                }),
            });
            slot.used = Instant::now() - Duration::from_secs((ids.len() - k) as u64);
        }
        *views.collected.lock().unwrap() = Instant::now() - Duration::from_secs(2);
        views.create(); // collects
        let slots = views.lock();
        let kept = ids.iter().filter(|id| slots[*id].sent.is_some()).count();
        assert_eq!(kept, DETACHED_TREES);
        assert!(
            slots[ids.last().unwrap()].sent.is_some(),
            "the newest keep theirs"
        );
        assert!(slots[&ids[0]].sent.is_none(), "the oldest do not");
    }

    #[test]
    fn views_with_equal_view_states_share_one_rendering_per_version() {
        let views = Views::new(0, vec![1]);
        let renders = std::cell::Cell::new(0);
        let render = || {
            renders.set(renders.get() + 1);
            Some(Rendered {
                tree: Some(Node::Text("t".into())),
                bytes: vec![1],
                sha: String::new(),
                view: String::new(),
            })
        };
        // (shared version, view state, renders so far)
        let cases: &[(u64, &[u8], usize)] = &[
            (1, &[1], 1),
            (1, &[1], 1),
            (1, &[2], 2),
            (2, &[1], 3),
            (1, &[1], 4), // an older version is not kept
        ];
        for (version, view, want) in cases {
            assert!(views.rendered(*version, view, render).is_some());
            assert_eq!(renders.get(), *want, "{version} {view:?}");
        }
    }

    #[test]
    fn idle_views_without_streams_go_first() {
        let views = Views::new(0, vec![]);
        let kept = views.create();
        views.attach(&kept);
        let idle = views.create();
        views.lock().get_mut(&idle).unwrap().used = Instant::now() - VIEW_IDLE * 2;
        *views.collected.lock().unwrap() = Instant::now() - Duration::from_secs(2);
        views.create();
        let slots = views.lock();
        assert!(slots.contains_key(&kept) && !slots.contains_key(&idle));
    }
}
