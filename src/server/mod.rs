//! The web server: the page, the client runtime, callbacks as wasm, native
//! execution, and the event stream to every open view (the routes:
//! docs/protocol.md, "Routes"; the threads and locks: docs/architecture.md).
//!
//! [`http`] is the HTTP/1.1 layer (tokio tasks, bounded everywhere);
//! [`routes`] answers requests on its blocking threads; a renderer thread
//! turns each new state into one patch event, which every view's stream
//! ([`events`]) picks up.

pub(crate) mod assets;
pub(crate) mod auth;
pub(crate) mod clicks;
mod coding;
mod events;
pub(crate) mod http;
mod limits;
mod listener;
pub(crate) mod redis;
mod routes;
mod security;
pub(crate) mod views;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use serde_json::{json, Value as Json};

use crate::callbacks::{ArgError, Registered, Registry, Takes};
use crate::dom::{diff, normalize, view_hash, Node, Patch};
use crate::state_file::StateFile;
use coding::Encoded;
use x64wasm_transpile::{Cache, Image, Module, Signature, TranspileError};

pub(crate) use limits::{LogLimiter, RateLimiter};
pub(crate) use listener::bind;
pub(crate) use security::allowed_hosts;

/// Everything the request handlers share.
///
/// Three locks, so that rendering never holds up clicks and a slow click
/// never holds up reads: `turn` makes clicks take turns (each runs on a
/// copy of the state the one before made, outside `live`), `live` is the
/// authoritative state and version (held only to copy it and to install
/// a new one), `shown` is the view the server last rendered and sent. A
/// renderer thread ([`Shared::render_loop`]) turns each new state into a
/// patch event; under load one event covers several versions (`from` →
/// `version`).
pub(crate) struct Shared<S> {
    /// The page title.
    pub title: String,
    /// Builds the view of a state and a view state's bytes (empty for an
    /// app without view state).
    pub render: Render<S>,
    /// Each view's own state, for an app that has a view state type.
    pub view_states: Option<views::Views>,
    /// The registered callbacks.
    pub registry: Registry<S>,
    /// The app's state and version.
    pub live: Mutex<Live<S>>,
    /// Held by the click running now: clicks take turns, so each runs on
    /// the state the one before made.
    pub turn: Mutex<()>,
    /// Signalled with `live` after every change (wakes the renderer).
    pub executed: Condvar,
    /// What the views are shown.
    pub shown: Mutex<Shown<S>>,
    /// The shown version, sent after every new event (wakes the streams).
    pub published: watch::Sender<u64>,
    /// The running executable, for transpiling (an error when unreadable).
    pub image: Result<Image, String>,
    /// Each callback's module (or why it has none), made once: the running
    /// binary does not change, so neither does the answer.
    modules: Mutex<HashMap<String, Result<Served, Unavailable>>>,
    /// The callbacks' signatures as the page gives them to the runtime
    /// (JSON), computed once.
    pub signatures: String,
    /// Per-callback counts of clicks and predictions.
    pub stats: Mutex<BTreeMap<String, CallStats>>,
    /// Event streams open now (one per open view).
    pub views: Arc<AtomicUsize>,
    /// Event streams (of an app without view state) whose pages need the
    /// server's render of every version: they apply its patches, or check
    /// their DOM against its hash. While there are none the renderer
    /// renders nothing, and a click costs the server its callback alone.
    pub html_streams: Arc<AtomicUsize>,
    /// Times the server ran the app's render since it started (not counting
    /// the first, at start).
    pub renders: AtomicU64,
    /// Host names requests may carry (DNS rebinding defence).
    pub allowed_hosts: Vec<String>,
    /// Where every change is saved before it is acknowledged, if anywhere.
    pub state_file: Option<StateFile>,
    /// Clicks per second per client, if limited.
    pub rate_limit: Option<RateLimiter>,
    /// The access token requests must carry, when one is required.
    pub auth: Option<auth::Auth>,
    /// The clicks answered, by page (click ids: `clicks.rs`); changed only
    /// under `turn`.
    pub applied: Mutex<clicks::Applied>,
    /// The app's id, and this build's: the first 16 hex digits of the
    /// SHA-256 of the app's id, its callbacks' signatures and its state's
    /// size (a page's queue of clicks is for one build: `clicks.rs`).
    pub app_id: String,
    pub build: String,
    /// Balancers whose `X-Forwarded-For` names the client
    /// (`--trusted-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Log lines a client can cause, bounded in size and rate.
    pub log: LogLimiter,
    /// The runtime, style sheets and icon, with their ETags.
    pub assets: assets::Assets,
    /// Where the shared state lives when several instances share it.
    pub redis: Option<redis::RedisStore>,
    /// Pages whose DOM differed from the server's view of a version they
    /// had applied (`POST /debug/view-mismatch`, counted in `/debug/stats`).
    pub view_mismatches: AtomicU64,
    /// Clicks the page said it sent before (`"resent":true`; counted in
    /// `/debug/stats` as `resent`).
    pub resent: AtomicU64,
    /// The log lines those reports make, bounded apart from [`log`](Self::log).
    pub mismatch_log: LogLimiter,
    /// The view module (`/view.wasm`), made once, or why there is none.
    view_module: std::sync::OnceLock<Result<Served, String>>,
    /// Why there can be no view module, if so (before transpiling).
    view_entry: Result<(), String>,
}

/// An app's render function over the shared state and a view state's bytes.
pub(crate) type Render<S> = Box<dyn Fn(&S, &[u8]) -> Node + Send + Sync>;

/// The server's settings from the command line (README "Two commands").
pub(crate) struct Settings {
    /// Host names requests may carry.
    pub allowed_hosts: Vec<String>,
    /// Where every change is saved, if anywhere.
    pub state_file: Option<StateFile>,
    /// Clicks per second per client address; 0 for no limit.
    pub rate_limit: u32,
    /// Balancers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The app's own style sheet, if any.
    pub app_css: Option<&'static str>,
    /// The shared state's store with `--redis`.
    pub redis: Option<redis::RedisStore>,
    /// The history tag of the starting state with `--redis` (empty
    /// otherwise).
    pub tag: String,
    /// Whether the view module's entry is named in `image`
    /// ([`VIEW_EXPORT`](crate::view_module::VIEW_EXPORT)), or why there is
    /// no view module.
    pub view_entry: Result<(), String>,
    /// The access token requests must carry, if one is required.
    pub auth: Option<auth::Auth>,
    /// The clicks answered (from the state file).
    pub applied: clicks::Applied,
    /// The app's id ([`App::id`](crate::App::id)).
    pub app_id: String,
}

/// A module as `/wasm/{fn}` and `/view.wasm` serve it.
#[derive(Clone)]
pub(crate) struct Served {
    /// The validated module.
    pub module: Arc<Module>,
    /// Its bytes with the hex of its cache key as the ETag (gzipped, a
    /// module is a fifth of its size).
    pub body: Arc<Encoded>,
}

impl Served {
    /// `module` served under its cache `key`.
    fn new(key: &[u8], module: Arc<Module>) -> Served {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let body = Encoded::new(
            module.wasm.as_slice().into(),
            "application/wasm",
            Some(format!("\"{hex}\"")),
        );
        Served {
            module,
            body: Arc::new(body),
        }
    }
}

/// Why a callback has no module.
#[derive(Clone, Debug)]
pub(crate) enum Unavailable {
    /// No symbol names its code, or the executable cannot be read.
    NoSymbol(String),
    /// The transpiler refused its code.
    Transpile(TranspileError),
}

/// How long a click waits in all for commits other instances' clicks
/// reserved (`--redis`) before it is a 503.
const REDIS_WAIT: Duration = Duration::from_secs(1);

/// How many recent patch events the server keeps, so a stream that fell
/// behind by a few events catches up with patches instead of a reset.
const EVENT_LOG: usize = 64;

/// The authoritative state and its version.
pub(crate) struct Live<S> {
    /// The app's state.
    pub state: S,
    /// Bumped by every executed callback.
    pub version: u64,
    /// With `--redis`: which history the version belongs to (see
    /// `redis.rs`); empty otherwise.
    pub tag: String,
}

/// The version the streams were last told of, the server's render of it
/// when some view needed one, and the events that led to it.
pub(crate) struct Shown<S> {
    /// The version published.
    pub version: u64,
    /// The state at that version.
    pub state: S,
    /// The newest `render(&state)` the server made, normalized as the
    /// browsers' DOM holds it, and its version: the renderer renders only
    /// while some view takes the server's patches or checks its DOM
    /// ([`Shared::html_streams`]); a page load or a reset renders the
    /// version it needs ([`Shared::shown_html`]).
    pub view: Option<(u64, Node)>,
    /// The newest events, oldest first; each starts where the one before
    /// it ended.
    pub log: VecDeque<Event>,
    /// `GET /`'s page for `version`, made by the first load that asked.
    pub page: Option<Arc<Encoded>>,
}

/// One event: from one published version to the next.
#[derive(Clone)]
pub(crate) struct Event {
    /// The version it applies to (it makes the next event's, or the
    /// shown version).
    pub from: u64,
    /// The event as streams of pages that apply the server's patches send
    /// it (`id:`, `event: patch`, `data:` lines, made once for every view),
    /// or `None` when the server did not render both versions (such a
    /// stream sends a reset instead).
    pub patched: Option<Arc<[u8]>>,
    /// The event without patches, for pages that render themselves (with
    /// the view's hash when the server rendered the version).
    pub state_only: Arc<[u8]>,
}

/// What the server knows about one callback's clicks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallStats {
    /// Times it ran on the server.
    pub executed: u64,
    /// Clicks whose view ran the wasm and sent a predicted state.
    pub predicted: u64,
    /// Predictions equal to the server's result (same base version).
    pub agreed: u64,
    /// Predictions that differed from the server's result (same base version).
    pub disagreed: u64,
    /// Predictions made on an older version than the server ran on.
    pub stale: u64,
}

/// A callback run: the version it made, what it returned, the state before
/// and after (for an app with view state, the calling view's versions and
/// bytes: see [`views`]).
pub(crate) struct Outcome {
    /// The version the callback ran on.
    pub base: u64,
    /// The version it made.
    pub version: u64,
    /// Its return value.
    pub ret: Json,
    /// The state's bytes before.
    pub before: Vec<u8>,
    /// The state's bytes after.
    pub after: Vec<u8>,
}

/// Why a callback did not run.
pub(crate) enum RunError {
    /// The arguments do not fit its signature (400).
    Arguments(ArgError),
    /// The new state could not be saved; nothing changed (500).
    Save(String),
    /// The request names no view though the callback takes one (400).
    View(String),
    /// The view it names is not one the server knows (409: after a restart,
    /// or idle too long; the page's stream brings it a new one).
    NoView(String),
    /// The shared state's store (Redis) cannot take the change now; nothing
    /// changed (503).
    Unavailable(String),
    /// The change was sent to the store (Redis), which never answered: it
    /// may or may not be in the state (503, `"outcome":"unknown"`).
    Unknown(String),
    /// The click (by its id) was answered before: this was the answer.
    Again(clicks::Answer),
    /// The click was sent before by a page the server no longer remembers
    /// (`clicks.rs`, [`clicks::Known::Unknown`]): it may have run, so it is
    /// not run again (410, `"outcome":"unknown"`).
    Forgotten(String),
}

/// The answer to a click that ran: its body.
pub(crate) fn click_answer(version: u64, ret: &Json) -> String {
    serde_json::json!({ "version": version, "ret": ret }).to_string()
}

impl<S: Pod> Shared<S> {
    /// Makes the shared server data for `state` at `version`.
    pub fn new(
        title: String,
        (state, version): (S, u64),
        (render, view_states): (Render<S>, Option<views::Views>),
        registry: Registry<S>,
        image: Result<Image, String>,
        settings: Settings,
    ) -> Shared<S> {
        let initial_view = view_states.as_ref().map_or(&[][..], |v| &v.initial[..]);
        let view = normalize(render(&state, initial_view));
        let signatures = signatures_json(&registry);
        let build = bytes_hash(
            format!(
                "{}\n{signatures}\n{}",
                settings.app_id,
                std::mem::size_of::<S>()
            )
            .as_bytes(),
        )[..16]
            .to_string();
        Shared {
            title,
            render,
            view_states,
            registry,
            live: Mutex::new(Live {
                state,
                version,
                tag: settings.tag,
            }),
            turn: Mutex::new(()),
            executed: Condvar::new(),
            shown: Mutex::new(Shown {
                version,
                state,
                view: Some((version, view)),
                log: VecDeque::new(),
                page: None,
            }),
            published: watch::channel(version).0,
            image,
            modules: Mutex::new(HashMap::new()),
            signatures,
            stats: Mutex::new(BTreeMap::new()),
            views: Arc::new(AtomicUsize::new(0)),
            html_streams: Arc::new(AtomicUsize::new(0)),
            renders: AtomicU64::new(0),
            allowed_hosts: settings.allowed_hosts,
            state_file: settings.state_file,
            rate_limit: (settings.rate_limit > 0).then(|| RateLimiter::new(settings.rate_limit)),
            auth: settings.auth,
            applied: Mutex::new(settings.applied),
            build,
            app_id: settings.app_id,
            trusted_proxies: settings.trusted_proxies,
            log: LogLimiter::new(),
            assets: assets::Assets::new(settings.app_css),
            redis: settings.redis,
            view_module: std::sync::OnceLock::new(),
            view_mismatches: AtomicU64::new(0),
            resent: AtomicU64::new(0),
            mismatch_log: LogLimiter::new(),
            view_entry: settings.view_entry,
        }
    }

    /// The view module (`view_module.rs`): the app's render and the
    /// library's diff, transpiled the first time it is asked for.
    pub fn view_wasm(&self) -> Result<Served, String> {
        self.view_module
            .get_or_init(|| {
                self.view_entry.clone()?;
                let image = self.image.as_ref().map_err(Clone::clone)?;
                let signature = Signature::parse(crate::view_module::VIEW_SIGNATURE)
                    .map_err(|e| e.to_string())?;
                let (key, module) = Cache::new()
                    .get(image, std::slice::from_ref(&signature))
                    .map_err(|e| e.to_string())?;
                Ok(Served::new(&key, module))
            })
            .clone()
    }

    /// The module of `callback`, transpiled (through [`Cache`]) the first
    /// time it is asked for and remembered with its answer afterwards.
    /// Transpiled outside the lock, so callbacks transpile in parallel (at
    /// start, or when views ask for several at once); two threads racing for
    /// one callback make the same module and both serve the first stored.
    pub fn wasm(&self, callback: &Registered<S>) -> Result<Served, Unavailable> {
        let modules = || self.modules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = modules().get(&callback.name) {
            return known.clone();
        }
        let made = match (&callback.symbol, &self.image) {
            (Err(why), _) | (Ok(_), Err(why)) => Err(Unavailable::NoSymbol(why.clone())),
            (Ok(_), Ok(image)) => Cache::new()
                .get(image, std::slice::from_ref(&callback.signature))
                .map(|(key, module)| Served::new(&key, module))
                .map_err(Unavailable::Transpile),
        };
        modules()
            .entry(callback.name.clone())
            .or_insert(made)
            .clone()
    }

    /// The live state, even if a thread panicked while holding the lock (the
    /// state is plain data and every change is whole before it is published).
    pub fn lock(&self) -> MutexGuard<'_, Live<S>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shown view (same poisoning rule as [`lock`](Shared::lock)).
    pub fn shown(&self) -> MutexGuard<'_, Shown<S>> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `callback` on a copy of the live state and saves the result
    /// when there is a state file, or commits it to Redis with `--redis`,
    /// before anyone hears of it; then installs it and wakes the renderer.
    /// Clicks take turns ([`Shared::turn`], so no update is lost), but
    /// `live` is held only to copy and to install: a slow disk or a
    /// stalled Redis never holds up the page, `/state` or the renderer. In
    /// an app with view state, `view` names the calling view (needed
    /// unless the callback takes the shared state only); its view state is
    /// changed too, and the versions and bytes are the view's.
    ///
    /// A click with an id (`click`) that was answered before is not run:
    /// [`RunError::Again`] holds that answer. Its answer is kept when it
    /// runs, or is refused for its arguments, with the state it made in the
    /// state file (see `clicks.rs`).
    pub fn run(
        &self,
        callback: &Registered<S>,
        view: Option<&str>,
        args: &[Json],
        click: Option<&clicks::ClickId>,
    ) -> Result<Outcome, RunError> {
        let _turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        if click.is_some_and(|id| id.resent) {
            self.resent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(id) = click {
            let known = self
                .applied
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .known(id);
            match known {
                clicks::Known::New => {}
                clicks::Known::Answered(answer) => return Err(RunError::Again(answer)),
                clicks::Known::Forgotten => {
                    let version = self.lock().version;
                    return Err(RunError::Again(clicks::Answer {
                        status: 200,
                        body: serde_json::json!({ "version": version }).to_string(),
                    }));
                }
                // (Redis keeps the clicks of every instance: it tells)
                clicks::Known::Unknown if self.redis.is_none() => {
                    return Err(RunError::Forgotten(format!(
                        "the page says click {id} was sent before, and this server no longer \
                         remembers the clicks of its page (it keeps the {} pages that clicked most \
                         recently): it may have been made, so it was not made again; the \
                         page shows what the server has",
                        clicks::PAGES_KEPT
                    )));
                }
                clicks::Known::Unknown => {}
            }
        }
        // keeps `answer` to the click, if it has an id
        let remember = |answer: clicks::Answer| {
            if let Some(id) = click {
                let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
                applied.record(id, answer);
            }
        };
        let shared_changed = callback.takes != Takes::View;
        if let Some(why) = self.redis.as_ref().and_then(|r| r.down_reason()) {
            if shared_changed {
                return Err(RunError::Unavailable(format!(
                    "{why}; nothing changed, try again when it is back"
                )));
            }
        }
        // the calling view's state, copied out (written back below)
        let (views, view_bytes, mut own) = match (&self.view_states, view) {
            (Some(views), Some(id)) => {
                let mut locked = views.lock();
                let Some(slot) = locked.get_mut(id) else {
                    return Err(RunError::NoView(format!(
                        "no view `{id}` (it was idle too long or the server restarted): \
                         reload the page"
                    )));
                };
                slot.used = std::time::Instant::now();
                (Some((views, id)), slot.bytes.clone(), slot.own)
            }
            (Some(_), None) if callback.takes != Takes::Shared => {
                return Err(RunError::View(format!(
                    "`{}` takes a view's state: the body must name the view (`view`)",
                    callback.name
                )))
            }
            _ => (None, Vec::new(), 0),
        };
        let bytes = |state: &S, view: &[u8]| match views {
            Some((views, _)) => views.combine(bytemuck::bytes_of(state), view),
            None => bytemuck::bytes_of(state).to_vec(),
        };
        let (mut state, mut version, mut tag) = {
            let live = self.lock();
            (live.state, live.version, live.tag.clone())
        };
        let mut attempts = 0;
        // whether the click's answer went into the state file already
        let mut saved_click = false;
        // with --redis: this click among all instances', and how long it
        // waits for others' reserved commits
        let token = self.redis.as_ref().map(|r| r.token()).unwrap_or_default();
        let wait_until = Instant::now() + REDIS_WAIT;
        let (ret, new_state, new_view) = loop {
            let mut new_state = state;
            let mut new_view = view_bytes.clone();
            let ret = if shared_changed {
                callback.invoke(&mut new_state, &mut new_view, args)
            } else {
                // a view-only callback cannot change the shared state
                callback.invoke(&mut state.clone(), &mut new_view, args)
            };
            let ret = match ret {
                Ok(ret) => ret,
                Err(why) => {
                    // refused for good: a retry gets the same answer (in
                    // memory only, and cut short: its arguments are the
                    // client's)
                    let mut message = format!("`{}`: {why}", callback.name);
                    if message.len() > clicks::REFUSAL_MAX {
                        let mut end = clicks::REFUSAL_MAX;
                        while !message.is_char_boundary(end) {
                            end -= 1;
                        }
                        message.truncate(end);
                        message.push('…');
                    }
                    remember(clicks::Answer {
                        status: 400,
                        body: serde_json::json!({ "error": message }).to_string(),
                    });
                    return Err(RunError::Arguments(why));
                }
            };
            if !shared_changed {
                break (ret, new_state, new_view);
            }
            if let Some(store) = &self.redis {
                attempts += 1;
                let reserve = attempts > 2;
                // the click's id and answer go into Redis with the state
                let id = click.map(|id| id.to_string());
                let answer = click_answer(version + 1 + own, &ret);
                let click = id.as_deref().map(|id| (id, answer.as_str()));
                let committed = loop {
                    match store.commit(
                        (version, &tag),
                        bytemuck::bytes_of(&new_state),
                        &token,
                        reserve,
                        click,
                    ) {
                        // another click's turn: wait for it, briefly
                        Err(redis::Refused::Reserved) if Instant::now() < wait_until => {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        answer => break answer,
                    }
                };
                match committed {
                    Ok(committed) => {
                        version = committed - 1;
                        tag = token.clone();
                        break (ret, new_state, new_view);
                    }
                    Err(redis::Refused::Conflict(theirs)) if attempts < redis::ATTEMPTS => {
                        // another instance was first: run again on its state
                        // (the subscriber installs it for the views)
                        state = bytemuck::pod_read_unaligned(&theirs.state);
                        version = theirs.version;
                        tag = theirs.tag;
                        continue;
                    }
                    Err(redis::Refused::Conflict(..)) => {
                        return Err(RunError::Unavailable(format!(
                            "the shared state kept changing under this click ({attempts} \
                             attempts); nothing changed, try again"
                        )));
                    }
                    Err(redis::Refused::Reserved) => {
                        return Err(RunError::Unavailable(format!(
                            "other clicks held the next commit (the reservation in Redis) for \
                             {} s; nothing changed, try again",
                            REDIS_WAIT.as_secs()
                        )));
                    }
                    Err(redis::Refused::Down(why)) => {
                        // wakes every stream: each ends while the store is
                        // down (its view shows "reconnecting…")
                        self.published.send_modify(|_| {});
                        return Err(RunError::Unavailable(why));
                    }
                    Err(redis::Refused::Unknown(why)) => {
                        self.published.send_modify(|_| {});
                        return Err(RunError::Unknown(why));
                    }
                    Err(redis::Refused::Again(answer)) => {
                        // an instance ran it (this one, before a restart,
                        // or another): its answer, nothing run
                        return Err(RunError::Again(clicks::Answer {
                            status: 200,
                            body: answer,
                        }));
                    }
                }
            }
            if let Some(file) = &self.state_file {
                // the click's answer goes into the file with the state it
                // made: after a crash, both are there or neither
                let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
                let before = click.map(|id| {
                    let answer = click_answer(version + 1 + own, &ret);
                    applied.record_undoably(
                        id,
                        clicks::Answer {
                            status: 200,
                            body: answer,
                        },
                    )
                });
                let saved = file.save(
                    version + 1,
                    bytemuck::bytes_of(&new_state),
                    &applied.to_bytes(),
                );
                if let Err(e) = saved {
                    if let (Some(id), Some(before)) = (click, before) {
                        applied.undo(id, before);
                    }
                    return Err(RunError::Save(format!(
                        "saving {}: {e}; the change was undone",
                        file.path().display()
                    )));
                }
                saved_click = true;
            }
            break (ret, new_state, new_view);
        };
        let base = version + own;
        let before = bytes(&state, &view_bytes);
        let after = bytes(&new_state, &new_view);
        // The view's bytes are written back before the shared state is
        // installed, under the views' lock held across both: a stream that
        // renders the new shared version also finds the view's new bytes
        // (else it would send the new version with the old view part and
        // then count itself up to date).
        let mut slots = views.map(|(views, id)| (views.lock(), id));
        if !shared_changed {
            own += 1;
        }
        if let Some((locked, id)) = &mut slots {
            if let Some(slot) = locked.get_mut(*id) {
                slot.bytes = new_view;
                slot.own = own;
                if !shared_changed {
                    slot.changed.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
        }
        if shared_changed {
            version += 1;
            let mut live = self.lock();
            // (with --redis the subscriber may have installed this version
            // or a newer one already)
            if version > live.version {
                live.state = new_state;
                live.version = version;
                live.tag = tag;
            }
        }
        drop(slots);
        if !saved_click {
            remember(clicks::Answer {
                status: 200,
                body: click_answer(version + own, &ret),
            });
        }
        if shared_changed {
            self.executed.notify_all();
        }
        Ok(Outcome {
            base,
            version: version + own,
            ret,
            before,
            after,
        })
    }

    /// What Redis holds (with `--redis`): taken when newer than the live
    /// state, or of the same version but another history (an instance
    /// that was away while Redis lost data and others went on: Redis is
    /// the one history, and the loss is said); the renderer is woken.
    pub fn apply_remote(&self, theirs: redis::Versioned) {
        if theirs.state.len() != std::mem::size_of::<S>() {
            return;
        }
        let mut live = self.lock();
        let diverged = theirs.version == live.version && theirs.tag != live.tag;
        if theirs.version > live.version || diverged {
            if diverged {
                eprintln!(
                    "x64wasm: Redis holds version {} from another history than this \
                     instance's (Redis lost data while this instance was away, and others \
                     went on): this instance takes Redis's; what it acknowledged as version \
                     {} is lost",
                    theirs.version, live.version
                );
            }
            live.state = bytemuck::pod_read_unaligned(&theirs.state);
            live.version = theirs.version;
            live.tag = theirs.tag;
            drop(live);
            self.executed.notify_all();
        }
    }

    /// True while the shared state's store cannot be reached: views are
    /// told to reconnect (their streams end) and new streams get 503.
    pub fn store_down(&self) -> bool {
        self.redis
            .as_ref()
            .is_some_and(|r| r.down.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The renderer: forever, takes the newest state and publishes one
    /// event to the streams: the changed state bytes, and when some view
    /// needs the server's render, its patches from the version before.
    /// Clicks that come faster than it renders share an event.
    pub fn render_loop(&self) {
        loop {
            let (state, version) = {
                let shown_version = self.shown().version;
                let live = self.lock();
                let live = self
                    .executed
                    .wait_while(live, |l| l.version == shown_version)
                    .unwrap_or_else(|e| e.into_inner());
                (live.state, live.version)
            };
            if self.view_states.is_some() {
                // each view's stream renders its own view (events.rs)
                let mut shown = self.shown();
                shown.version = version;
                shown.state = state;
                shown.page = None;
                drop(shown);
                self.published.send_replace(version);
                continue;
            }
            let needed = self.html_streams.load(std::sync::atomic::Ordering::SeqCst) > 0;
            let view = needed
                .then(|| self.render_or_log(&state, version))
                .flatten();
            let mut shown = self.shown();
            let patches = match (&shown.view, &view) {
                (Some((at, old)), Some(new)) if *at == shown.version => Some(diff(old, new)),
                _ => None,
            };
            let hash = view.as_ref().map(view_hash);
            let (before, after) = (bytemuck::bytes_of(&shown.state), bytemuck::bytes_of(&state));
            let sse = |patches: Option<&[Patch]>| -> Arc<[u8]> {
                let data = patch_event(
                    shown.version,
                    version,
                    patches,
                    (before, after),
                    hash.as_deref(),
                );
                format!("id: {version}\nevent: patch\ndata: {data}\n\n")
                    .into_bytes()
                    .into()
            };
            let event = Event {
                from: shown.version,
                patched: patches.as_deref().map(|p| sse(Some(p))),
                state_only: sse(None),
            };
            shown.log.push_back(event);
            if shown.log.len() > EVENT_LOG {
                shown.log.pop_front();
            }
            shown.version = version;
            shown.state = state;
            shown.page = None;
            let old = match view {
                Some(view) => shown.view.replace((version, view)),
                None => None,
            };
            drop(shown);
            self.published.send_replace(version);
            drop(old); // freeing the old tree is not the streams' business
        }
    }

    /// `render(state)` normalized, or `None` (and a line in the log) if the
    /// app's render panicked: its state is still right, the view is not
    /// updated, and the next change tries again.
    fn render_or_log(&self, state: &S, version: u64) -> Option<Node> {
        let rendered = self.render_view(state, &[]);
        if rendered.is_err() {
            eprintln!("x64wasm: render panicked at version {version}; the view is not updated");
        }
        rendered.ok()
    }

    /// The app's render of `state` and a view's bytes (`view`, empty in an
    /// app without view state), normalized as the browsers' DOM holds it,
    /// or the panic it caught; counted in `/debug/stats` (`renders`).
    pub fn render_view(&self, state: &S, view: &[u8]) -> std::thread::Result<Node> {
        self.renders
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            normalize((self.render)(state, view))
        }))
    }

    /// The HTML of the shown version (in an app without view state),
    /// rendered now if the renderer did not render it; if the render
    /// panics, the newest view the server has.
    pub fn shown_html(&self, shown: &mut Shown<S>) -> String {
        if shown.view.as_ref().map(|(at, _)| *at) != Some(shown.version) {
            if let Some(view) = self.render_or_log(&shown.state, shown.version) {
                shown.view = Some((shown.version, view));
            }
        }
        shown
            .view
            .as_ref()
            .map(|(_, view)| view.to_html())
            .unwrap_or_default()
    }
}

/// `{"name": {"params": [...], "result": "...", "takes": "shared" | "view" |
/// "both"}}` for every callback: what the runtime needs to call an export
/// with the right JavaScript types and state pointer.
fn signatures_json<S>(registry: &Registry<S>) -> String {
    let signatures: serde_json::Map<String, Json> = registry
        .all()
        .iter()
        .map(|c| {
            let params: Vec<&str> = c.signature.params[1..].iter().map(|&t| t.name()).collect();
            let result = c.signature.result.map_or("void", |t| t.name());
            (
                c.name.clone(),
                json!({ "params": params, "result": result, "takes": c.takes.name() }),
            )
        })
        .collect();
    Json::Object(signatures).to_string()
}

/// The data of a `patch` event: the version it starts from and the one it
/// makes, the DOM patches (none for a page that renders itself), the state
/// bytes that changed as `[offset, base64]` runs (from `before` to
/// `after`), the first 16 hex digits of the new state's SHA-256 (the view
/// checks what it assembled) and the view's hash ([`view_hash`], when the
/// server rendered the version: a page that checks its DOM compares it).
pub(crate) fn patch_event(
    from: u64,
    version: u64,
    patches: Option<&[Patch]>,
    (before, after): (&[u8], &[u8]),
    view: Option<&str>,
) -> String {
    let runs: Vec<Json> = changed_runs(before, after)
        .into_iter()
        .map(|(at, bytes)| json!([at, to_base64(bytes)]))
        .collect();
    let mut data = json!({
        "from": from,
        "version": version,
        "state": runs,
        "sha": &bytes_hash(after)[..16],
    });
    if let Some(patches) = patches {
        data["patches"] = patches.iter().map(Patch::to_json).collect();
    }
    if let Some(view) = view {
        data["view"] = view.into();
    }
    data.to_string()
}

pub(crate) fn changed_runs<'a>(old: &[u8], new: &'a [u8]) -> Vec<(usize, &'a [u8])> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in (0..new.len()).filter(|&i| old[i] != new[i]) {
        match runs.last_mut() {
            Some((_, end)) if i - *end < 8 => *end = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    runs.into_iter().map(|(a, b)| (a, &new[a..b])).collect()
}

/// Bytes as standard base64 (RFC 4648 §4, padded): how state bytes travel
/// in pages, events and `/state`.
pub(crate) fn to_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard base64 back to bytes; `None` when malformed.
pub(crate) fn from_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// SHA-256 of a state's bytes, in hex: what views send as their prediction.
pub(crate) fn state_hash<S: Pod>(state: &S) -> String {
    bytes_hash(bytemuck::bytes_of(state))
}

/// SHA-256 of `bytes`, in hex.
pub(crate) fn bytes_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A running server.
pub(crate) struct Running {
    /// `http://…/` for that address.
    pub url: String,
    server: JoinHandle<()>,
}

impl Running {
    /// Blocks until the server stops (it serves until the process ends).
    pub fn wait(self) {
        let _ = self.server.join();
    }
}

/// Serves `shared` on `listener` (see [`bind`]) within `capacity`: starts
/// the renderer thread and the HTTP server.
pub(crate) fn serve<S: Pod + Send + 'static>(
    shared: Arc<Shared<S>>,
    listener: std::net::TcpListener,
    capacity: http::Capacity,
) -> Result<Running, String> {
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    if shared.redis.is_some() {
        let follower = shared.clone();
        std::thread::Builder::new()
            .name("x64wasm-redis".into())
            .spawn(move || {
                let store = follower.redis.as_ref().expect("redis");
                store.follow(
                    || {
                        let live = follower.lock();
                        redis::Versioned {
                            version: live.version,
                            tag: live.tag.clone(),
                            state: bytemuck::bytes_of(&live.state).to_vec(),
                        }
                    },
                    |theirs| follower.apply_remote(theirs),
                    || {
                        // wakes every stream: each ends while the store is
                        // down (its view shows "reconnecting…")
                        follower.published.send_modify(|_| {});
                    },
                )
            })
            .map_err(|e| format!("starting the Redis subscriber thread: {e}"))?;
    }
    let renderer = shared.clone();
    std::thread::Builder::new()
        .name("x64wasm-render".into())
        .spawn(move || renderer.render_loop())
        .map_err(|e| format!("starting the renderer thread: {e}"))?;
    let views = shared.views.clone();
    std::thread::Builder::new()
        .name("x64wasm-trim".into())
        .spawn(move || return_freed_memory(&views))
        .map_err(|e| format!("starting the memory thread: {e}"))?;
    let server = http::serve(listener, Arc::new(App(shared)), capacity)?;
    let host = match address {
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
        SocketAddr::V4(a) if a.ip().is_unspecified() => "127.0.0.1".to_string(),
        SocketAddr::V4(a) => a.ip().to_string(),
    };
    Ok(Running {
        url: format!("http://{host}:{}/", address.port()),
        server,
    })
}

/// Views closing in bulk (a crowd leaving, a balancer moving them) free
/// their memory, which glibc's malloc keeps in its arenas (measured: 200
/// MB still held after 10,000 TodoMVC views closed): every
/// [`TRIM_EVERY`], when the open views fell by [`TRIM_AFTER`] or more from
/// their peak since the last trim, hand the free pages back. (Another
/// global allocator, as the demo's mimalloc, returns its own; then this
/// trims only what C code allocated.)
fn return_freed_memory(views: &AtomicUsize) {
    let mut peak = 0;
    loop {
        std::thread::sleep(TRIM_EVERY);
        let open = views.load(std::sync::atomic::Ordering::Relaxed);
        peak = peak.max(open);
        if peak - open >= TRIM_AFTER {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim takes no pointers; it only releases free
            // pages of glibc's heap.
            unsafe {
                libc::malloc_trim(0);
            }
            peak = open;
        }
    }
}

/// How often [`return_freed_memory`] looks.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// How many views must have closed for it to trim.
const TRIM_AFTER: usize = 256;

/// The app as the HTTP layer's service.
struct App<S>(Arc<Shared<S>>);

impl<S: Pod + Send + 'static> http::Service for App<S> {
    fn respond(&self, request: http::Request) -> http::Reply {
        routes::handle(&self.0, request)
    }

    fn error(&self, status: u16, message: &str) -> http::Response {
        routes::secure(routes::error(status, message))
    }
}
