//! Per-view state (docs/guide.md, "Per-view state"): each open page of an app that
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
//!
//! View ids are the server's own: 128 random bits and their HMAC-SHA256
//! under a key made at start ([`ViewId`]), so no client can name a view
//! into being or guess another's. A stream that names an id this server
//! did not issue (a forged one, or one from before a restart) gets a new
//! id with its `reset`. The table holds at most [`MAX_VIEWS`] views, each
//! address (as budgets count them) at most a quarter of them: a page load
//! past that drops the longest-idle view without a stream of its own
//! address, or, when the whole table is full, of the address holding the
//! most, so page loads of one address never drop another's views while it
//! holds fewer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;

use crate::dom::Node;

/// How long a view with no open stream is kept.
pub const VIEW_IDLE: Duration = Duration::from_secs(600);

/// The most views kept; past it the longest-idle view without a stream is
/// dropped (a page that comes back gets a fresh view state).
pub const MAX_VIEWS: usize = 20_000;

/// The most views one address may hold (see the module's doc).
pub const MAX_VIEWS_PER_ADDRESS: usize = MAX_VIEWS / 4;

/// The most views without a stream that keep what they were sent last (a
/// whole rendered view each), newest first: a page that loads or
/// reconnects among them resumes with patches, any other with a `reset`.
/// Page loads alone so cannot make the server hold more than this many
/// rendered views.
pub const DETACHED_TREES: usize = 256;

/// The most renderings the cache keeps per shared version: enough for the
/// few view states crowds of pages share (the initial one, a filter), and
/// a bound on what distinct view states make it hold (each its own tree).
pub const CACHED_TREES: usize = 256;

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
    /// The view's bytes.
    pub bytes: ViewBytes,
    /// The first 16 hex digits of their SHA-256 (what patch events carry).
    pub sha: String,
    /// The tree's [`view_hash`](crate::dom::view_hash) (what patch events
    /// carry for the view check).
    pub view: String,
}

/// A view's bytes, in two parts: the shared state's, one copy per shared
/// version that every view holds (TodoMVC's is 34 KB: ten thousand views
/// each with its own copy held 340 MB), and its own view state's.
#[derive(Clone)]
pub(crate) struct ViewBytes {
    /// The shared state's bytes.
    pub shared: Arc<[u8]>,
    /// The view state's bytes.
    pub view: Vec<u8>,
}

/// Renderings and patches of the newest shared version, by view state:
/// views whose view states are equal (a crowd of pages on the initial view
/// state) cost one render and one diff per change, not one each.
#[derive(Default)]
struct Cache {
    /// The shared version the entries are for.
    shared_version: u64,
    /// The shared state's bytes at that version.
    shared: Option<Arc<[u8]>>,
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
    /// The address whose page load or stream made it (as budgets count
    /// addresses).
    pub owner: u128,
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
    /// Issues and checks view ids.
    ids: ViewId,
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
            ids: ViewId::new(),
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
            if c.rendered.len() < CACHED_TREES {
                c.rendered.insert(view.to_vec(), made.clone());
            }
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

    /// A new view with the initial view state, for a page load from
    /// `owner`; returns its id.
    pub fn create(&self, owner: u128) -> String {
        let id = self.ids.issue();
        let mut slots = self.lock();
        self.collect(&mut slots, owner);
        slots.insert(id.clone(), self.fresh(owner));
        id
    }

    /// Attaches a stream from `owner` to view `id`: the id the stream
    /// goes on with (`id`, or a new one when this server did not issue
    /// `id`), and what wakes it when the view changes. A view this server
    /// issued and no longer keeps is made again, fresh. `None` when `id`
    /// does not have a view id's form.
    pub fn attach(&self, id: &str, owner: u128) -> Option<(String, watch::Receiver<u64>)> {
        if !is_id(id) {
            return None;
        }
        let id = match self.ids.issued(id) {
            true => id.to_string(),
            false => self.ids.issue(),
        };
        let mut slots = self.lock();
        if !slots.contains_key(&id) {
            self.collect(&mut slots, owner);
        }
        let slot = slots.entry(id.clone()).or_insert_with(|| self.fresh(owner));
        slot.streams += 1;
        slot.used = Instant::now();
        Some((id, slot.changed.subscribe()))
    }

    /// A stream of `id` ended.
    pub fn detach(&self, id: &str) {
        if let Some(slot) = self.lock().get_mut(id) {
            slot.streams = slot.streams.saturating_sub(1);
            slot.used = Instant::now();
        }
    }

    fn fresh(&self, owner: u128) -> Slot {
        Slot {
            bytes: self.initial.clone(),
            own: 0,
            sent: None,
            changed: watch::channel(0).0,
            streams: 0,
            used: Instant::now(),
            owner,
        }
    }

    /// The bytes of `view` on the shared state `shared` at `shared_version`
    /// (whose copy views of that version share).
    pub fn view_bytes(&self, shared_version: u64, shared: &[u8], view: &[u8]) -> ViewBytes {
        let shared = match self.cached(shared_version, |c| c.shared.clone()) {
            Some(kept) if *kept == *shared => kept,
            _ => {
                let made: Arc<[u8]> = shared.into();
                self.store(shared_version, |c| c.shared = Some(made.clone()));
                made
            }
        };
        ViewBytes {
            shared,
            view: view.to_vec(),
        }
    }

    /// A view's bytes in one piece, as the page holds them.
    pub fn combined(&self, bytes: &ViewBytes) -> Vec<u8> {
        self.combine(&bytes.shared, &bytes.view)
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
    /// Makes room for a view of `owner` (see [`make_room`]), and at most
    /// once a second drops idle views (see [`collect`]).
    fn collect(&self, slots: &mut HashMap<String, Slot>, owner: u128) {
        let mut last = self.collected.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= Duration::from_secs(1) {
            collect(slots);
            *last = Instant::now();
        }
        make_room(slots, owner);
    }
}

/// Makes room for one more view of `owner`: when it holds its share
/// ([`MAX_VIEWS_PER_ADDRESS`]), its own longest-idle view without a stream
/// goes; else when the table is full, that of the address holding the
/// most. (Views with a stream are never dropped: the streams' budget
/// bounds them.)
fn make_room(slots: &mut HashMap<String, Slot>, owner: u128) {
    let mut held: HashMap<u128, usize> = HashMap::new();
    let full = slots.len() >= MAX_VIEWS;
    let mine = slots.values().filter(|s| s.owner == owner).count();
    if mine < MAX_VIEWS_PER_ADDRESS && !full {
        return;
    }
    let victim = match mine >= MAX_VIEWS_PER_ADDRESS {
        true => owner,
        false => {
            for slot in slots.values() {
                *held.entry(slot.owner).or_default() += 1;
            }
            match held.into_iter().max_by_key(|&(_, n)| n) {
                Some((address, _)) => address,
                None => return,
            }
        }
    };
    let oldest = slots
        .iter()
        .filter(|(_, s)| s.owner == victim && s.streams == 0)
        .min_by_key(|(_, s)| s.used)
        .map(|(id, _)| id.clone());
    if let Some(id) = oldest {
        slots.remove(&id);
    }
}

/// Drops views idle past [`VIEW_IDLE`] with no stream; only the newest
/// [`DETACHED_TREES`] without a stream keep what they were sent.
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
}

/// View ids: 128 random bits, then the first 128 bits of their
/// HMAC-SHA256 under a key made at start, all in hex (64 lowercase
/// digits). Only this process can issue one.
struct ViewId {
    key: [u8; 32],
}

impl ViewId {
    fn new() -> ViewId {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&random_bytes());
        key[16..].copy_from_slice(&random_bytes());
        ViewId { key }
    }

    fn mac(&self, nonce: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(nonce);
        mac
    }

    /// A new id.
    fn issue(&self) -> String {
        let nonce = random_bytes();
        let tag = self.mac(&nonce).finalize().into_bytes();
        hex(&nonce) + &hex(&tag[..16])
    }

    /// Whether this process issued `id` (compared in constant time).
    fn issued(&self, id: &str) -> bool {
        let Some(bytes) = from_hex(id) else {
            return false;
        };
        bytes.len() == 32
            && self
                .mac(&bytes[..16])
                .verify_truncated_left(&bytes[16..])
                .is_ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    text.len().is_multiple_of(2).then_some(())?;
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// 128 random bits from the kernel, in hex (32 lowercase digits): access
/// tokens.
pub fn random_hex() -> String {
    hex(&random_bytes())
}

/// 128 random bits from the kernel.
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most `len` bytes into the buffer.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    assert_eq!(got, 16, "getrandom");
    bytes
}

/// Whether `id` has the form of a view id.
pub fn is_id(id: &str) -> bool {
    id.len() == 64
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
        let id = views.create(1);
        assert!(is_id(&id));
        assert_ne!(id, views.create(1), "ids differ");
        assert_eq!(views.attach(&id, 1).map(|(same, _)| same), Some(id.clone()));
        assert!(views.attach("not-an-id", 1).is_none());
        // an id this server issued and no longer keeps is made again
        views.lock().remove(&id);
        assert_eq!(views.attach(&id, 1).map(|(same, _)| same), Some(id.clone()));
        assert_eq!(views.lock()[&id].bytes, [7, 7]);
        assert_eq!(
            views.combine(&[1; 10], &[9, 9]),
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 9, 9]
        );
    }

    #[test]
    fn only_ids_the_server_issued_name_views() {
        let views = Views::new(0, vec![1]);
        let issued = views.create(1);
        let other_server = Views::new(0, vec![1]).create(1);
        let mut flipped = issued.clone().into_bytes();
        flipped[63] = if flipped[63] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        // (id named, whether it is taken as it is)
        let cases = [
            (issued.as_str(), true),
            (other_server.as_str(), false),
            (flipped.as_str(), false),
            (&"0".repeat(64), false),
        ];
        for (named, kept) in cases {
            let (id, _) = views.attach(named, 2).unwrap();
            assert_eq!(id == named, kept, "{named}");
            assert!(views.ids.issued(&id), "{id}");
            assert!(
                !views.lock().contains_key(named) || kept,
                "{named} made no view"
            );
        }
    }

    #[test]
    fn page_loads_of_one_address_never_drop_another_s_views_while_it_holds_fewer() {
        let views = Views::new(0, vec![]);
        let mine: Vec<String> = (0..10).map(|_| views.create(7)).collect();
        // another address loads pages without end: it holds at most its share
        for _ in 0..MAX_VIEWS_PER_ADDRESS + 500 {
            views.create(8);
        }
        let count = |owner| views.lock().values().filter(|s| s.owner == owner).count();
        assert_eq!(count(8), MAX_VIEWS_PER_ADDRESS);
        assert!(
            mine.iter().all(|id| views.lock().contains_key(id)),
            "mine are kept"
        );
        // four addresses fill the table; the next page load drops one of the
        // fullest address's, not mine
        for owner in 9..12 {
            for _ in 0..MAX_VIEWS_PER_ADDRESS {
                views.create(owner);
            }
        }
        assert!(views.lock().len() >= MAX_VIEWS - 10);
        views.create(7);
        assert!(
            mine.iter().all(|id| views.lock().contains_key(id)),
            "mine are kept"
        );
        assert_eq!(count(7), 11);
        assert!(views.lock().len() <= MAX_VIEWS);
    }

    #[test]
    fn only_the_newest_detached_views_keep_their_rendered_view() {
        let views = Views::new(0, vec![]);
        let ids: Vec<String> = (0..DETACHED_TREES + 10).map(|_| views.create(1)).collect();
        for (k, id) in ids.iter().enumerate() {
            let mut slots = views.lock();
            let slot = slots.get_mut(id).unwrap();
            slot.sent = Some(Sent {
                version: 0,
                shared_version: 0,
                view: Vec::new(),
                rendered: Arc::new(Rendered {
                    tree: None,
                    bytes: ViewBytes {
                        shared: Arc::from(&[][..]),
                        view: Vec::new(),
                    },
                    sha: String::new(),
                    view: String::new(),
                }),
            });
            slot.used = Instant::now() - Duration::from_secs((ids.len() - k) as u64);
        }
        *views.collected.lock().unwrap() = Instant::now() - Duration::from_secs(2);
        views.create(1); // collects
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
                bytes: ViewBytes {
                    shared: Arc::from(&[1u8][..]),
                    view: Vec::new(),
                },
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
        let kept = views.create(1);
        views.attach(&kept, 1);
        let idle = views.create(1);
        views.lock().get_mut(&idle).unwrap().used = Instant::now() - VIEW_IDLE * 2;
        *views.collected.lock().unwrap() = Instant::now() - Duration::from_secs(2);
        views.create(1);
        let slots = views.lock();
        assert!(slots.contains_key(&kept) && !slots.contains_key(&idle));
    }
}
