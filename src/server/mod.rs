//! The web server (tiny_http): the page, the client runtime, callbacks as
//! wasm, native execution, and Server-Sent Events to every open view
//! (DESIGN §3).
//!
//! Worker threads pull requests from one queue; each event stream gets its
//! own thread, since it lives as long as its view. The listener is made here,
//! not by tiny_http, so that it has TCP_NODELAY (replies never wait on Nagle)
//! and read/write timeouts, which accepted sockets inherit.

pub mod assets;
pub mod base64;
mod events;
mod listener;
mod routes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytemuck::Pod;
use sha2::{Digest, Sha256};

use crate::callbacks::Registry;
use crate::dom::Node;
use crate::transpile::{Cache, Image};

pub use listener::bind;

/// Everything the request handlers share.
pub struct Shared<S> {
    /// The page title.
    pub title: String,
    /// Builds the view of a state.
    pub render: fn(&S) -> Node,
    /// The registered callbacks.
    pub registry: Registry<S>,
    /// The app's state and what views last saw of it.
    pub live: Mutex<Live<S>>,
    /// Signalled after every change of `live`.
    pub changed: Condvar,
    /// The running executable, for transpiling (an error when unreadable).
    pub image: Result<Image, String>,
    /// Modules made so far.
    pub cache: Cache,
    /// Per-callback counts of clicks and predictions.
    pub stats: Mutex<BTreeMap<String, CallStats>>,
    /// Event streams open now (one per open view).
    pub views: AtomicUsize,
}

/// The authoritative state, its version and its rendered body.
pub struct Live<S> {
    /// The app's state.
    pub state: S,
    /// Bumped by every executed callback.
    pub version: u64,
    /// The HTML of `render(&state)`.
    pub body: String,
}

/// What the server knows about one callback's clicks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
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

impl<S: Pod> Shared<S> {
    /// Makes the shared server data for `state`, rendering it once.
    pub fn new(
        title: String,
        state: S,
        render: fn(&S) -> Node,
        registry: Registry<S>,
        image: Result<Image, String>,
    ) -> Shared<S> {
        let body = render(&state).to_html();
        Shared {
            title,
            render,
            registry,
            live: Mutex::new(Live {
                state,
                version: 0,
                body,
            }),
            changed: Condvar::new(),
            image,
            cache: Cache::new(),
            stats: Mutex::new(BTreeMap::new()),
            views: AtomicUsize::new(0),
        }
    }

    /// The live state, even if a thread panicked while holding the lock (the
    /// state is plain data and every change is whole before it is published).
    pub fn lock(&self) -> MutexGuard<'_, Live<S>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// SHA-256 of a state's bytes, in hex: what views send as their prediction.
pub fn state_hash<S: Pod>(state: &S) -> String {
    Sha256::digest(bytemuck::bytes_of(state))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub address: SocketAddr,
    /// `http://…/` for that address.
    pub url: String,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// Blocks until the server stops (it serves until the process ends).
    pub fn wait(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// How many threads answer requests (event streams have their own).
const WORKERS: usize = 4;

/// Serves `shared` on `listener` (see [`bind`]) from worker threads.
pub fn serve<S: Pod + Send + 'static>(
    shared: Arc<Shared<S>>,
    listener: std::net::TcpListener,
) -> Result<Running, String> {
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let http =
        Arc::new(tiny_http::Server::from_listener(listener, None).map_err(|e| e.to_string())?);
    let workers = (0..WORKERS)
        .map(|i| {
            let http = http.clone();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("x64wasm-http-{i}"))
                .spawn(move || {
                    for request in http.incoming_requests() {
                        routes::handle(&shared, request);
                    }
                })
                .map_err(|e| format!("starting a server thread: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let host = match address {
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
        SocketAddr::V4(a) if a.ip().is_unspecified() => "127.0.0.1".to_string(),
        SocketAddr::V4(a) => a.ip().to_string(),
    };
    Ok(Running {
        address,
        url: format!("http://{host}:{}/", address.port()),
        workers,
    })
}
