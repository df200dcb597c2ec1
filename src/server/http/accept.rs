//! The accept loop: admits each connection into the budget (or refuses it
//! with 503), and survives every accept error a listening socket can
//! return, except those that mean the socket itself is gone, which end the
//! process with a message: a server is never alive and deaf.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};

use super::budget::{Budget, Capacity, Kind};
use super::conn::{self, linger_close, Context};
use super::Service;

/// What the accept loop does after an accept error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptErrorKind {
    /// Accept again at once: the error belonged to one connection (one that
    /// was reset before we took it, a signal, a spurious wake-up).
    Retry,
    /// Out of descriptors or memory: wait (10 ms doubling to 1 s) and try
    /// again; one log line per episode.
    Backoff,
    /// The listening socket is unusable: exit with a message.
    Fatal,
}

/// accept(2)'s errors on Linux and what each means for the loop. accept(2)
/// asks servers to retry on the network errors it passes on from the new
/// connection (EPROTO, ENETDOWN, ...).
const ACCEPT_ERRORS: &[(i32, AcceptErrorKind)] = &[
    (libc::EAGAIN, AcceptErrorKind::Retry),
    (libc::EINTR, AcceptErrorKind::Retry),
    (libc::ECONNABORTED, AcceptErrorKind::Retry),
    (libc::ECONNRESET, AcceptErrorKind::Retry),
    (libc::EPROTO, AcceptErrorKind::Retry),
    (libc::EPERM, AcceptErrorKind::Retry),
    (libc::ETIMEDOUT, AcceptErrorKind::Retry),
    (libc::ENETDOWN, AcceptErrorKind::Retry),
    (libc::ENOPROTOOPT, AcceptErrorKind::Retry),
    (libc::EHOSTDOWN, AcceptErrorKind::Retry),
    (libc::ENONET, AcceptErrorKind::Retry),
    (libc::EHOSTUNREACH, AcceptErrorKind::Retry),
    (libc::EOPNOTSUPP, AcceptErrorKind::Retry),
    (libc::ENETUNREACH, AcceptErrorKind::Retry),
    (libc::EMFILE, AcceptErrorKind::Backoff),
    (libc::ENFILE, AcceptErrorKind::Backoff),
    (libc::ENOBUFS, AcceptErrorKind::Backoff),
    (libc::ENOMEM, AcceptErrorKind::Backoff),
    (libc::EBADF, AcceptErrorKind::Fatal),
    (libc::EINVAL, AcceptErrorKind::Fatal),
    (libc::ENOTSOCK, AcceptErrorKind::Fatal),
    (libc::EFAULT, AcceptErrorKind::Fatal),
];

/// What to do after `error` from accept; errors not in the table back off
/// (and are logged), since retrying at once could spin.
pub fn classify_accept_error(error: &std::io::Error) -> AcceptErrorKind {
    let code = error.raw_os_error();
    ACCEPT_ERRORS
        .iter()
        .find(|(c, _)| Some(*c) == code)
        .map_or(AcceptErrorKind::Backoff, |(_, kind)| *kind)
}

/// Connections being refused at once (each is answered 503 and read for
/// up to a second); past this many, a refused connection is closed without
/// an answer. Their descriptors come out of the reserve.
const REFUSING_MAX: usize = 64;

/// Threads that run `Service::respond` at most (tokio's blocking pool; an
/// idle one ends after 5 s). Requests beyond wait their turn: a burst of
/// views or clicks never turns into a burst of threads.
const RESPOND_THREADS: usize = 16;
/// Of those, how many may answer requests other than GET and HEAD at once
/// (clicks, which wait for each other): the rest always answer reads.
const WRITE_THREADS: usize = 12;

/// Serves `service` on `listener` from a tokio runtime of its own (one
/// worker thread per core, and up to [`RESPOND_THREADS`] for
/// `Service::respond`),
/// within `capacity`. Returns the thread that runs it; it runs until the
/// process ends, and ends the process if the listener fails for good.
pub fn serve<S: Service>(
    listener: std::net::TcpListener,
    service: Arc<S>,
    capacity: Capacity,
) -> Result<std::thread::JoinHandle<()>, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("setting the listener non-blocking: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("x64wasm-http")
        .max_blocking_threads(RESPOND_THREADS)
        .thread_keep_alive(Duration::from_secs(5))
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("starting the server's runtime: {e}"))?;
    let context = Arc::new(Context {
        service,
        budget: Budget::new(capacity),
        writes: tokio::sync::Semaphore::new(WRITE_THREADS),
    });
    std::thread::Builder::new()
        .name("x64wasm-accept".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(e) => fail(&e),
                };
                accept_loop(listener, context).await
            })
        })
        .map_err(|e| format!("starting the server thread: {e}"))
}

fn fail(error: &std::io::Error) -> ! {
    eprintln!("x64wasm: the listening socket failed ({error}); the server cannot go on, exiting");
    std::process::exit(1);
}

async fn accept_loop<S: Service>(listener: TcpListener, context: Arc<Context<S>>) -> ! {
    let refusing = Arc::new(AtomicUsize::new(0));
    let mut backoff: Option<Duration> = None;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if backoff.take().is_some() {
                    eprintln!("x64wasm: accepting connections again");
                }
                match context.budget.admit(Kind::Request, peer.ip()) {
                    Ok(slot) => {
                        let context = context.clone();
                        tokio::spawn(conn::serve(stream, peer, slot, context, Instant::now()));
                    }
                    Err(why) => refuse(stream, why, &*context.service, &refusing),
                }
            }
            Err(e) => match classify_accept_error(&e) {
                AcceptErrorKind::Retry => {}
                AcceptErrorKind::Backoff => {
                    let wait = match backoff {
                        None => {
                            eprintln!(
                                "x64wasm: accepting connections: {e}; retrying as connections \
                                 close (raise ulimit -n, or lower --max-connections / --max-views)"
                            );
                            Duration::from_millis(10)
                        }
                        Some(d) => (d * 2).min(Duration::from_secs(1)),
                    };
                    backoff = Some(wait);
                    tokio::time::sleep(wait).await;
                }
                AcceptErrorKind::Fatal => fail(&e),
            },
        }
    }
}

/// Counts a connection being refused while it lives.
struct Refusing(Arc<AtomicUsize>);

impl Drop for Refusing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers a connection the budget has no place for with 503 and closes it.
fn refuse<S: Service>(
    mut stream: TcpStream,
    why: &'static str,
    service: &S,
    refusing: &Arc<AtomicUsize>,
) {
    if refusing.fetch_add(1, Ordering::Relaxed) >= REFUSING_MAX {
        refusing.fetch_sub(1, Ordering::Relaxed);
        return; // dropped: closed without an answer
    }
    let guard = Refusing(refusing.clone());
    let answer = service
        .error(503, why)
        .header("Retry-After", "1")
        .to_bytes(false, true, false);
    tokio::spawn(async move {
        let _guard = guard;
        use tokio::io::AsyncWriteExt;
        if let Ok(Ok(())) = timeout(Duration::from_secs(1), stream.write_all(&answer)).await {
            linger_close(stream).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_retried_waited_out_or_fatal() {
        let cases = [
            (libc::EAGAIN, AcceptErrorKind::Retry),
            (libc::ECONNABORTED, AcceptErrorKind::Retry),
            (libc::EINTR, AcceptErrorKind::Retry),
            (libc::EMFILE, AcceptErrorKind::Backoff),
            (libc::ENFILE, AcceptErrorKind::Backoff),
            (libc::EBADF, AcceptErrorKind::Fatal),
            (libc::ENOTSOCK, AcceptErrorKind::Fatal),
            (libc::EXDEV, AcceptErrorKind::Backoff), // not accept's: wait, log
        ];
        for (code, want) in cases {
            let error = std::io::Error::from_raw_os_error(code);
            assert_eq!(classify_accept_error(&error), want, "{error}");
        }
        let other = std::io::Error::other("not from the OS");
        assert_eq!(classify_accept_error(&other), AcceptErrorKind::Backoff);
    }
}
