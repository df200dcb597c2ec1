//! One connection, as a task: read a head, read its body, have the service
//! answer on a blocking thread, write the answer; again while the client
//! keeps the connection alive; or hand the connection to a stream.
//!
//! Every wait has a deadline (see the limits in [`super`]), at most
//! [`HEAD_MAX`] + 4 KiB of head and [`BODY_MAX`] of body are ever held, and
//! requests on one connection are answered one at a time, in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use super::budget::{Budget, Kind, Slot};
use super::head::{self, Framing, Refusal};
use super::{
    Reply, Request, Response, Service, StreamSource, BODY_MAX, BODY_TIMEOUT, HEAD_MAX,
    HEAD_TIMEOUT, IDLE_TIMEOUT, LINGER, MIN_RATE, REQUEST_LINE_MAX, WRITE_TIMEOUT,
};

/// What every connection task shares.
pub(super) struct Context<S> {
    /// The application.
    pub service: Arc<S>,
    /// Open connections and views.
    pub budget: Arc<Budget>,
}

/// How much is read from a socket at a time.
const READ_CHUNK: usize = 4096;
/// Longest chunk-size line of a chunked body (size and extensions).
const CHUNK_LINE_MAX: usize = 1024;
/// Most bytes read and thrown away while lingering before a close.
const LINGER_BYTES: usize = 64 * 1024;

/// Why a connection ends.
enum End {
    /// The client closed, or a read or write failed: nothing more to say.
    Gone,
    /// Answer with this refusal, then close.
    Refuse(Refusal),
}

impl From<Refusal> for End {
    fn from(r: Refusal) -> End {
        End::Refuse(r)
    }
}

fn refusal(status: u16, message: impl Into<String>) -> End {
    End::Refuse(Refusal {
        status,
        message: message.into(),
    })
}

/// Serves one accepted connection until it closes. `slot` is its place in
/// the request budget; `accepted` starts the first head's deadline.
pub(super) async fn serve<S: Service>(
    mut stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    context: Arc<Context<S>>,
    accepted: Instant,
) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        let deadline = if first {
            accepted + HEAD_TIMEOUT
        } else {
            Instant::now() + HEAD_TIMEOUT
        };
        let head = match read_head(&mut stream, &mut buf, first, deadline).await {
            Ok(Some(head)) => head,
            Ok(None) | Err(End::Gone) => return,
            Err(End::Refuse(r)) => return refuse(stream, &*context.service, r).await,
        };
        first = false;
        let body = match read_body(&mut stream, &mut buf, &head).await {
            Ok(body) => body,
            Err(End::Gone) => return,
            Err(End::Refuse(r)) => return refuse(stream, &*context.service, r).await,
        };
        let head_only = head.method == "HEAD";
        let keep_alive = head.keep_alive;
        let request = Request {
            method: head.method,
            path: head.path,
            query: head.query,
            headers: head.headers,
            host: head.host,
            body,
            peer,
        };
        let service = context.service.clone();
        let reply = tokio::task::spawn_blocking(move || service.respond(request))
            .await
            .unwrap_or_else(|_| {
                Reply::Full(context.service.error(500, "the request handler panicked"))
            });
        match reply {
            Reply::Full(response) => {
                let bytes = response.to_bytes(head_only, !keep_alive, false);
                if write(&mut stream, &bytes).await.is_err() {
                    return;
                }
                if !keep_alive {
                    return linger_close(stream).await;
                }
            }
            Reply::Stream(response, source) => {
                return match context.budget.admit(Kind::View, peer.ip()) {
                    Ok(view) => {
                        drop(slot); // a view now, no longer a request
                        stream_to(stream, response, source, view).await
                    }
                    Err(why) => {
                        let busy = context.service.error(503, why).header("Retry-After", "1");
                        let _ = write(&mut stream, &busy.to_bytes(false, true, false)).await;
                        linger_close(stream).await
                    }
                };
            }
        }
    }
}

/// Reads until a whole head is in `buf` and takes it out. `Ok(None)`: the
/// connection closed or stayed idle before a request began.
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    first: bool,
    deadline: Instant,
) -> Result<Option<head::Head>, End> {
    // RFC 9112 §2.2: empty lines before a request line are ignored; drop
    // them as they come so that a stream of them cannot grow the buffer.
    let skip_empty_lines = |buf: &mut Vec<u8>| {
        let n = buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(buf.len());
        buf.drain(..n);
    };
    skip_empty_lines(buf);
    if buf.is_empty() {
        // Between requests a connection may idle; before its first request
        // it gets the head's deadline.
        let wait = if first {
            timeout_at(deadline, fill(stream, buf)).await
        } else {
            timeout(IDLE_TIMEOUT, fill(stream, buf)).await
        };
        match wait {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Ok(None),
        }
        skip_empty_lines(buf);
    }
    let mut checked = 0;
    loop {
        // Parse only when the head may have ended, or a limit was crossed:
        // a client sending a byte at a time costs no re-parsing.
        let crossed_line_limit = checked <= REQUEST_LINE_MAX && buf.len() > REQUEST_LINE_MAX;
        if head_may_end(buf, checked) || crossed_line_limit || buf.len() >= HEAD_MAX {
            if let Some((head, n)) = head::parse(buf)? {
                buf.drain(..n);
                return Ok(Some(head));
            }
        }
        checked = buf.len();
        match timeout_at(deadline, fill(stream, buf)).await {
            Ok(Ok(n)) if n > 0 => skip_empty_lines_if_all(buf),
            Ok(_) => return Err(End::Gone),
            Err(_) => {
                return Err(refusal(
                    408,
                    format!(
                        "the request head did not arrive within {} s",
                        HEAD_TIMEOUT.as_secs()
                    ),
                ))
            }
        }
    }
}

/// A buffer of nothing but empty lines is emptied (they precede a request).
fn skip_empty_lines_if_all(buf: &mut Vec<u8>) {
    if buf.iter().all(|&b| b == b'\r' || b == b'\n') {
        buf.clear();
    }
}

/// Whether `buf` may hold a head's end (an empty line) in the bytes from
/// `from` on (or the three before, where a line end may have been split).
fn head_may_end(buf: &[u8], from: usize) -> bool {
    let tail = &buf[from.saturating_sub(3)..];
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

/// Reads up to [`READ_CHUNK`] more bytes into `buf`; `Ok(0)` at end of
/// stream.
async fn fill<R: AsyncRead + Unpin>(stream: &mut R, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; READ_CHUNK];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// The time a transfer of `bytes` gets: `base` plus a second per
/// [`MIN_RATE`] bytes.
fn transfer_time(base: Duration, bytes: usize) -> Duration {
    base + Duration::from_secs(bytes as u64 / MIN_RATE)
}

/// Reads the body `head` announces (part of it may already be in `buf`);
/// leaves any bytes after it in `buf`.
async fn read_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head: &head::Head,
) -> Result<Vec<u8>, End> {
    let too_large = || {
        refusal(
            413,
            format!("the request body is larger than {BODY_MAX} bytes"),
        )
    };
    let length = match head.framing {
        Framing::Empty => return Ok(Vec::new()),
        Framing::Length(0) => return Ok(Vec::new()),
        Framing::Length(n) if n > BODY_MAX as u64 => return Err(too_large()),
        Framing::Length(n) => Some(n as usize),
        Framing::Chunked => None,
    };
    if head.expect_continue {
        write(stream, b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|_| End::Gone)?;
    }
    let deadline = Instant::now() + transfer_time(BODY_TIMEOUT, length.unwrap_or(BODY_MAX));
    let slow = || {
        refusal(
            408,
            format!(
                "the request body did not arrive in time (at least {} KiB/s)",
                MIN_RATE / 1024
            ),
        )
    };
    // Reads more into `buf` before the deadline.
    macro_rules! fill_or_end {
        () => {
            match timeout_at(deadline, fill(stream, buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return Err(End::Gone),
                Err(_) => return Err(slow()),
            }
        };
    }
    if let Some(length) = length {
        while buf.len() < length {
            fill_or_end!();
        }
        let body = buf[..length].to_vec();
        buf.drain(..length);
        return Ok(body);
    }
    // Chunked (RFC 9112 §7.1): size line, data, CRLF; a zero size ends the
    // data; trailer fields are read and dropped.
    let mut body = Vec::new();
    loop {
        let (line, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete(found)) => break found,
                Ok(httparse::Status::Partial) if buf.len() > CHUNK_LINE_MAX => {
                    return Err(refusal(400, "a chunk-size line is too long"))
                }
                Ok(httparse::Status::Partial) => fill_or_end!(),
                Err(_) => return Err(refusal(400, "malformed chunk size")),
            }
        };
        buf.drain(..line);
        if size == 0 {
            break;
        }
        if body.len() as u64 + size > BODY_MAX as u64 {
            return Err(too_large());
        }
        let size = size as usize;
        while buf.len() < size + 2 {
            fill_or_end!();
        }
        if &buf[size..size + 2] != b"\r\n" {
            return Err(refusal(400, "a chunk's data is not followed by CRLF"));
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
    let mut trailer = 0;
    loop {
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let empty = end == 0 || (end == 1 && buf[0] == b'\r');
                trailer += end + 1;
                buf.drain(..=end);
                if empty {
                    return Ok(body);
                }
            }
            None => fill_or_end!(),
        }
        if trailer + buf.len() > HEAD_MAX {
            return Err(refusal(
                431,
                format!("the trailer fields are larger than {HEAD_MAX} bytes"),
            ));
        }
    }
}

/// Writes `bytes` within the transfer time their size gets.
async fn write<W: AsyncWrite + Unpin>(stream: &mut W, bytes: &[u8]) -> Result<(), End> {
    match timeout(
        transfer_time(WRITE_TIMEOUT, bytes.len()),
        stream.write_all(bytes),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        _ => Err(End::Gone),
    }
}

/// Answers a refused request and closes the connection.
async fn refuse<S: Service>(mut stream: TcpStream, service: &S, r: Refusal) {
    let answer = service.error(r.status, &r.message);
    if write(&mut stream, &answer.to_bytes(false, true, false))
        .await
        .is_ok()
    {
        linger_close(stream).await;
    }
}

/// Closes our side, then reads (and drops) what the client still sends for
/// up to [`LINGER`], so that the close does not reset the answer away before
/// the client read it (RFC 9112 §9.6).
pub(super) async fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 1024];
    let mut read = 0;
    while read < LINGER_BYTES {
        match timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => read += n,
            _ => break,
        }
    }
}

/// A streamed answer: the head, then every chunk of `source`, until the
/// source ends, a write stalls, or the client closes (noticed at once: the
/// socket is read all along, and what the client sends is dropped).
async fn stream_to(
    mut stream: TcpStream,
    response: Response,
    mut source: Box<dyn StreamSource>,
    _view: Slot,
) {
    if write(&mut stream, &response.to_bytes(false, true, true))
        .await
        .is_err()
    {
        return;
    }
    let (mut reader, mut writer) = stream.split();
    let mut sink = [0u8; 256];
    loop {
        let chunk = {
            let next = source.next();
            tokio::pin!(next);
            loop {
                tokio::select! {
                    chunk = &mut next => break chunk,
                    read = reader.read(&mut sink) => match read {
                        Ok(n) if n > 0 => {}
                        _ => return,
                    },
                }
            }
        };
        match chunk {
            Some(bytes) if write(&mut writer, &bytes).await.is_ok() => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_ends_are_found_across_reads() {
        // (buffer, bytes already checked, may end)
        let cases: &[(&[u8], usize, bool)] = &[
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, true),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 24, true),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26, true),
            (b"GET / HTTP/1.1\nHost: a\n\n", 23, true),
            (b"GET / HTTP/1.1\r\nHost: a\r\n", 0, false),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET", 30, false),
        ];
        for (buf, from, want) in cases {
            assert_eq!(
                head_may_end(buf, *from),
                *want,
                "{:?} from {from}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn transfers_get_time_for_their_size() {
        assert_eq!(transfer_time(WRITE_TIMEOUT, 0), Duration::from_secs(10));
        assert_eq!(transfer_time(WRITE_TIMEOUT, 4096), Duration::from_secs(11));
        assert_eq!(
            transfer_time(BODY_TIMEOUT, BODY_MAX),
            Duration::from_secs(26)
        );
    }
}
