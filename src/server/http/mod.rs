//! The HTTP/1.1 server (RFC 9112) the app's routes sit on: every connection
//! and every event stream is a task on one tokio runtime, so a slow or
//! hostile client holds a few kilobytes and a descriptor, never a thread.
//!
//! ```text
//! accept ──admit (budget.rs)──► connection task (conn.rs)
//!   │ refused: 503, close          read head (head.rs: httparse + RFC 9112 rules)
//!   │                              read body (Content-Length or chunked, bounded)
//!   │                              Service::respond on a blocking thread
//!   │                              write the answer ── keep-alive: next request
//!   │                              or a stream: the connection becomes a view
//!   └─ errors: transient retried, descriptor exhaustion backs off, any other
//!      error ends the process with a message (never alive and deaf)
//! ```
//!
//! What a client sends is bounded everywhere ([`LIMITS`]): a head is parsed
//! from at most 16 KiB, a body is at most 64 KiB and is read only by the
//! connection's own task, and every wait has a deadline. Framing a second
//! parser could read differently is refused with 400 and the connection
//! closed (see [`head`]).

mod accept;
mod budget;
mod conn;
pub mod head;
mod response;
mod websocket;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

pub use accept::serve;
pub(crate) use budget::address_key;
pub use budget::{raise_descriptor_limit, Capacity, VIEW_TIMEOUT};
pub use head::Authority;
pub use response::Response;
pub use websocket::handshake as websocket_handshake;

/// Longest request line (method, target, version), in bytes. RFC 9112 §3
/// asks servers to take at least 8,000 octets.
pub const REQUEST_LINE_MAX: usize = 8 * 1024;
/// Longest request head (request line and header fields), in bytes.
pub const HEAD_MAX: usize = 16 * 1024;
/// Most header field lines in one head.
pub const HEADERS_MAX: usize = 64;
/// Largest request body, in bytes (an `/execute` body is tiny).
pub const BODY_MAX: usize = 64 * 1024;
/// Time for a whole request head to arrive, from its first byte (or from
/// the accept, for a connection's first request).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a keep-alive connection may sit idle between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time for a body to arrive: this, plus one second per [`MIN_RATE`] bytes.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for an answer (or one event) to be written: this, plus one second
/// per [`MIN_RATE`] bytes; a reader slower than that is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The kernel send buffer of an event stream, in bytes (`SO_SNDBUF`;
/// Linux doubles it for its bookkeeping): with the one chunk its task holds,
/// the bound on what a view that does not read keeps unsent. A stream whose
/// buffer is full and whose chunk is not taken within [`WRITE_TIMEOUT`] is
/// dropped; the view resyncs when it reconnects (`Last-Event-ID`).
pub const STREAM_SEND_BUFFER: usize = 64 * 1024;
/// The slowest transfer rate a body or an answer is given time for, in
/// bytes per second, on top of [`BODY_TIMEOUT`] or [`WRITE_TIMEOUT`].
pub const MIN_RATE: u64 = 4 * 1024;
/// How long a refused or failed connection is read (and what is read thrown
/// away) after its answer, so that closing does not reset the answer away
/// (RFC 9112 §9.6).
pub const LINGER: Duration = Duration::from_secs(1);

/// A request whose head and body have been read and checked.
#[derive(Debug)]
pub struct Request {
    /// The method token as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The path of the target, as sent (percent-encoding kept).
    pub path: String,
    /// The query after `?`, if any.
    pub query: Option<String>,
    /// Header fields in order: names in lower case, values with surrounding
    /// whitespace removed (bytes that are not UTF-8 replaced).
    pub headers: Vec<(String, String)>,
    /// The one, syntactically valid `Host` (or the absolute target's
    /// authority).
    pub host: Authority,
    /// The body (empty when there is none).
    pub body: Vec<u8>,
    /// The client's address.
    pub peer: SocketAddr,
}

impl Request {
    /// The value of header `name` (lower case), the first if repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every line of header `name` (lower case) as one comma-separated
    /// list, as RFC 9110 §5.3 reads a repeated list header
    /// (`Accept-Encoding`, `If-None-Match`); `None` when absent.
    pub fn header_list(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The value of `key` in the query string (not percent-decoded).
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// The answer to a request.
pub enum Reply {
    /// A whole answer with a `Content-Length`.
    Full(Response),
    /// A stream that lasts as long as the client stays: the response head
    /// (its status and headers; its body is ignored), then every chunk the
    /// source yields, written as it comes. The connection is closed when the
    /// source ends, the client closes, or a write stalls.
    Stream(Response, Box<dyn StreamSource>),
    /// The same stream over a WebSocket (RFC 6455), when the request asked
    /// for one: the `101 Switching Protocols` head ([`websocket::handshake`]
    /// made it), then every chunk the source yields as one text message.
    WebSocket(Response, Box<dyn StreamSource>),
}

/// A future that a stream source returns for its next chunk.
pub type NextChunk<'a> = Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send + 'a>>;

/// What feeds a streamed answer (event streams).
pub trait StreamSource: Send {
    /// The next bytes to send; `None` ends the stream. The future is dropped
    /// whenever the client closes first, so it must be cancel-safe.
    fn next(&mut self) -> NextChunk<'_>;
}

/// The application behind the server.
pub trait Service: Send + Sync + 'static {
    /// Answers one request. Runs on a blocking thread (it may take locks or
    /// write files); the request is whole, and the answer is written by the
    /// connection's task.
    fn respond(&self, request: Request) -> Reply;

    /// The answer the server itself gives when it refuses a request
    /// (malformed, too large, too slow, too many connections): by default
    /// `{"error": message}` as JSON.
    fn error(&self, status: u16, message: &str) -> Response {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::new(status, body.into_bytes())
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
    }
}
