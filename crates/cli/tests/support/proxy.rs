//! A TCP proxy the test can cut: every connection through it is dropped at
//! once and new ones are refused until it is restored. A real network cut
//! between one browser page and the server. Or one that drops connections
//! at random ([`Proxy::start_dropping`]): a bad network.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A running proxy.
pub struct Proxy {
    /// host:port to connect to instead of the server.
    pub address: String,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    /// Connections a dropping proxy closed before their end.
    dropped: Arc<AtomicUsize>,
}

impl Proxy {
    /// Proxies connections to `target` (host:port).
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (target, c, o) = (target.to_string(), cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if c.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                {
                    let mut open = o.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy {
            address,
            cut,
            open,
            dropped: Arc::default(),
        }
    }

    /// Proxies connections to `target`; once [`drop_at_random`] is called,
    /// closes each after a random number of bytes (half of them up to
    /// `most` / 100, the others up to `most`, both ways together, counted
    /// from then): mid-request, mid-answer, mid-stream, between requests.
    ///
    /// [`drop_at_random`]: Proxy::drop_at_random
    pub fn start_dropping(target: &str, most: usize, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let target = target.to_string();
        let dropping = Arc::new(AtomicBool::new(false));
        let on = dropping.clone();
        let dropped = Arc::new(AtomicUsize::new(0));
        let counted = dropped.clone();
        std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(seed);
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                // half die young (a request or an answer cut), half live
                // long enough for a whole reset of the view
                let budget = match rng.bool() {
                    true => rng.usize(..most / 100),
                    false => rng.usize(..most),
                };
                let left = Arc::new(AtomicUsize::new(budget));
                let (c, s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe_for(c, s, (left.clone(), on.clone(), counted.clone()));
                pipe_for(server, client, (left, on.clone(), counted.clone()));
            }
        });
        Proxy {
            address,
            cut: dropping,
            open: Arc::default(),
            dropped,
        }
    }

    /// How many connections a dropping proxy has closed before their end.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// A proxy from [`start_dropping`](Proxy::start_dropping) starts
    /// dropping connections.
    pub fn drop_at_random(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` on a thread until either side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 || to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// Copies `from` to `to` until either side closes or, while `dropping`,
/// the bytes `left` (of both directions) run out; then closes both.
/// (`dropped` counts the connections closed so.)
type Budget = (Arc<AtomicUsize>, Arc<AtomicBool>, Arc<AtomicUsize>);

fn pipe_for(mut from: TcpStream, mut to: TcpStream, (left, dropping, dropped): Budget) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if !dropping.load(Ordering::SeqCst) {
                if to.write_all(&buffer[..n]).is_err() || n == 0 {
                    break;
                }
                continue;
            }
            let allowed = left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                    Some(l.saturating_sub(n))
                })
                .unwrap();
            if n > allowed {
                let _ = to.write_all(&buffer[..allowed]);
                dropped.fetch_add(1, Ordering::SeqCst);
                break;
            }
            if n == 0 || to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
