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
    Reply, Request, Response, Service, StreamSource, BODY_MAX, BODY_TIMEOUT, HEADERS_MAX, HEAD_MAX,
    HEAD_TIMEOUT, IDLE_TIMEOUT, LINGER, MIN_RATE, REQUEST_LINE_MAX, STREAM_SEND_BUFFER,
    WRITE_TIMEOUT,
};

/// What every connection task shares.
pub(super) struct Context<S> {
    /// The application.
    pub service: Arc<S>,
    /// Open connections and views.
    pub budget: Arc<Budget>,
    /// Places for requests that may wait on the app (anything but GET and
    /// HEAD: a click waits for the clicks before it, which may wait for a
    /// store) among the handler threads, fewer than there are threads, so
    /// that reads are answered whatever the clicks wait for.
    pub writes: tokio::sync::Semaphore,
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
        // Waiting on the client (for a head, a body, or to take our answer)
        // the connection may be closed for a newcomer when the budget is
        // full (see budget.rs); while its request is answered it may not.
        slot.waiting();
        let head_read = std::sync::atomic::AtomicBool::new(false);
        let reading = async {
            let head = read_head(&mut stream, &mut buf, first.then_some(accepted)).await?;
            let Some(head) = head else {
                return Ok(None);
            };
            head_read.store(true, std::sync::atomic::Ordering::Relaxed);
            let body = read_body(&mut stream, &mut buf, &head).await?;
            Ok(Some((head, body)))
        };
        let read = tokio::select! {
            biased;
            () = slot.evicted() => None,
            read = reading => Some(read),
        };
        let Some(read) = read else {
            // Closed for a newcomer: a request begun (part of a head, or a
            // head and part of its body) did not run, and its client is
            // told so; an idle connection just closes, as at its timeout.
            // Bytes the client sent that this task has not read yet (it
            // may not have been polled since they came) begin a request too.
            if head_read.load(std::sync::atomic::Ordering::Relaxed)
                || !buf.is_empty()
                || bytes_waiting(&stream)
            {
                return not_run(stream, &*context.service).await;
            }
            return;
        };
        let (head, body) = match read {
            Ok(Some(request)) => request,
            Ok(None) | Err(End::Gone) => return,
            Err(End::Refuse(r)) => return refuse(stream, &*context.service, r).await,
        };
        first = false;
        if buf.capacity() > 4 * READ_CHUNK && buf.len() <= READ_CHUNK {
            buf.shrink_to(READ_CHUNK); // what a large head left behind
        }
        let head_only = head.method == "HEAD";
        let keep_alive = head.keep_alive;
        let minor = head.minor;
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
        // A request queued for a place among the writes (on no thread; the
        // semaphore is never closed), then for a thread, still waits: it
        // may be closed for a newcomer until its answer starts.
        let place = match head_only || request.method == "GET" {
            true => None,
            false => tokio::select! {
                biased;
                () = slot.evicted() => return not_run(stream, &*context.service).await,
                place = context.writes.acquire() => place.ok(),
            },
        };
        let ticket = slot.ticket();
        let answered =
            tokio::task::spawn_blocking(move || ticket.working().then(|| service.respond(request)))
                .await;
        drop(place);
        let reply = match answered {
            Ok(Some(reply)) => reply,
            // closed for a newcomer while queued: it did not run
            Ok(None) => return not_run(stream, &*context.service).await,
            Err(_) => Reply::Full(context.service.error(500, "the request handler panicked")),
        };
        slot.waiting();
        let websocket = matches!(reply, Reply::WebSocket(..));
        match reply {
            Reply::Full(response) => {
                // The request ran: its answer is sent whole (within its
                // write timeout) even when the connection is closed for a
                // newcomer meanwhile (it then counts as leaving), and the
                // close lingers, so that pipelined requests behind it do
                // not reset the answer away.
                if send(&mut stream, &response, head_only, !keep_alive, minor)
                    .await
                    .is_err()
                {
                    return;
                }
                if !keep_alive || slot.is_evicted() {
                    return linger_close(stream).await;
                }
            }
            Reply::Stream(response, _) if head_only => {
                // A HEAD of a stream: its head, no events, no view.
                let _ = write(&mut stream, &[&response.head(true, true)]).await;
                return linger_close(stream).await;
            }
            Reply::WebSocket(..) if minor == 0 => {
                let r = Refusal {
                    status: 400,
                    message: "a WebSocket needs HTTP/1.1 (RFC 6455 §4.1)".into(),
                };
                return refuse(stream, &*context.service, r).await;
            }
            Reply::Stream(response, source) | Reply::WebSocket(response, source) => {
                return match context.budget.admit(Kind::View, peer.ip()) {
                    Ok(view) if websocket => {
                        drop(slot);
                        let head = response.head(false, false);
                        let timeout = context.budget.view_timeout();
                        super::websocket::stream_to(stream, head, source, view, timeout).await
                    }
                    Ok(view) => {
                        drop(slot); // a view now, no longer a request
                        stream_to(stream, response, source, view).await
                    }
                    Err(why) => {
                        let busy = context.service.error(503, why).header("Retry-After", "1");
                        answer_and_close(stream, busy).await
                    }
                };
            }
        }
    }
}

/// Reads until a whole head is in `buf` and takes it out. `Ok(None)`: the
/// connection closed or stayed idle before a request began. The head has
/// [`HEAD_TIMEOUT`] from `accepted` for a connection's first request, else
/// from its first byte (a keep-alive connection may idle for
/// [`IDLE_TIMEOUT`] before that).
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    accepted: Option<Instant>,
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
        let wait = match accepted {
            Some(at) => timeout_at(at + HEAD_TIMEOUT, fill(stream, buf)).await,
            None => timeout(IDLE_TIMEOUT, fill(stream, buf)).await,
        };
        match wait {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Ok(None),
        }
        skip_empty_lines(buf);
    }
    let deadline = accepted.unwrap_or_else(Instant::now) + HEAD_TIMEOUT;
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

/// Reads up to [`READ_CHUNK`] more bytes into `buf` (straight into its
/// spare room: no buffer of the read's own lives in the connection's
/// future); `Ok(0)` at end of stream.
async fn fill<R: AsyncRead + Unpin>(stream: &mut R, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.reserve(READ_CHUNK);
    stream.take(READ_CHUNK as u64).read_buf(buf).await
}

/// The time a transfer of `bytes` gets: `base` plus a second per
/// [`MIN_RATE`] bytes.
pub(super) fn transfer_time(base: Duration, bytes: usize) -> Duration {
    base + Duration::from_secs(bytes as u64 / MIN_RATE)
}

/// Reads the body `head` announces (part of it may already be in `buf`);
/// leaves any bytes after it in `buf`. The body is read straight into a
/// buffer of its own size (at most [`BODY_MAX`]); the time it gets is
/// [`BODY_TIMEOUT`] plus a second per [`MIN_RATE`] bytes.
async fn read_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head: &head::Head,
) -> Result<Vec<u8>, End> {
    let length = match head.framing {
        Framing::Empty | Framing::Length(0) => return Ok(Vec::new()),
        Framing::Length(n) if n > BODY_MAX as u64 => return Err(body_too_large()),
        Framing::Length(n) => Some(n as usize),
        Framing::Chunked => None,
    };
    if head.expect_continue {
        write(stream, &[b"HTTP/1.1 100 Continue\r\n\r\n"]).await?;
    }
    let deadline = Instant::now() + transfer_time(BODY_TIMEOUT, length.unwrap_or(BODY_MAX));
    let mut reader = BodyReader {
        stream,
        buf,
        deadline,
    };
    match length {
        Some(length) => {
            let mut body = Vec::with_capacity(length);
            reader.take(&mut body, length).await?;
            Ok(body)
        }
        None => reader.chunked().await,
    }
}

fn too_slow() -> End {
    refusal(
        408,
        format!(
            "the request body did not arrive in time (at least {} KiB/s)",
            MIN_RATE / 1024
        ),
    )
}

fn body_too_large() -> End {
    refusal(
        413,
        format!("the request body is larger than {BODY_MAX} bytes"),
    )
}

/// Reads a body from what is buffered, then from the socket, before a
/// deadline.
struct BodyReader<'a> {
    stream: &'a mut TcpStream,
    buf: &'a mut Vec<u8>,
    deadline: Instant,
}

impl BodyReader<'_> {
    /// Reads more into the buffer.
    async fn fill(&mut self) -> Result<(), End> {
        match timeout_at(self.deadline, fill(self.stream, self.buf)).await {
            Ok(Ok(n)) if n > 0 => Ok(()),
            Ok(_) => Err(End::Gone),
            Err(_) => Err(too_slow()),
        }
    }

    /// Appends the next `n` bytes to `body`: the buffered ones first, then
    /// straight from the socket (never more than `n`, so a pipelined request
    /// after the body stays unread).
    async fn take(&mut self, body: &mut Vec<u8>, n: usize) -> Result<(), End> {
        body.reserve_exact(n);
        let have = self.buf.len().min(n);
        body.extend_from_slice(&self.buf[..have]);
        self.buf.drain(..have);
        let mut left = n - have;
        while left > 0 {
            let mut limited = (&mut *self.stream).take(left as u64);
            match timeout_at(self.deadline, limited.read_buf(body)).await {
                Ok(Ok(read)) if read > 0 => left -= read,
                Ok(_) => return Err(End::Gone),
                Err(_) => return Err(too_slow()),
            }
        }
        Ok(())
    }

    /// The next line (without its CRLF) of at most `max` bytes, taken out
    /// of the buffer. A line that ends in a bare LF, or holds a CR, is
    /// malformed.
    async fn line(&mut self, max: usize, what: &str) -> Result<Vec<u8>, End> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                if end == 0 || self.buf[end - 1] != b'\r' || self.buf[..end - 1].contains(&b'\r') {
                    return Err(refusal(400, format!("{what} does not end in CRLF")));
                }
                let line = self.buf[..end - 1].to_vec();
                self.buf.drain(..=end);
                return Ok(line);
            }
            if self.buf.len() > max {
                return Err(refusal(400, format!("{what} is too long")));
            }
            self.fill().await?;
        }
    }

    /// A chunked body (RFC 9112 §7.1): chunk-size lines, data, CRLF; a zero
    /// size ends the data; the trailer section is parsed as header fields
    /// are, then dropped.
    async fn chunked(&mut self) -> Result<Vec<u8>, End> {
        let mut body = Vec::new();
        loop {
            let line = self.line(CHUNK_LINE_MAX, "a chunk-size line").await?;
            let size = chunk_size(&line)?;
            if size == 0 {
                break;
            }
            if body.len() as u64 + size > BODY_MAX as u64 {
                return Err(body_too_large());
            }
            self.take(&mut body, size as usize).await?;
            if !self.line(0, "a chunk's data").await?.is_empty() {
                return Err(refusal(400, "a chunk's data is longer than its size"));
            }
        }
        self.trailers().await?;
        Ok(body)
    }

    /// Reads the trailer section: header fields as httparse reads them, no
    /// bare LF, at most [`HEAD_MAX`] bytes.
    async fn trailers(&mut self) -> Result<(), End> {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; HEADERS_MAX];
            match httparse::parse_headers(self.buf, &mut fields) {
                Ok(httparse::Status::Complete((n, _))) => {
                    if head::has_bare_lf(&self.buf[..n]) {
                        return Err(refusal(400, "a trailer line ends in LF without CR"));
                    }
                    self.buf.drain(..n);
                    return Ok(());
                }
                Ok(httparse::Status::Partial) if self.buf.len() > HEAD_MAX => {
                    return Err(refusal(
                        431,
                        format!("the trailer fields are larger than {HEAD_MAX} bytes"),
                    ))
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => return Err(refusal(400, format!("malformed trailer field: {e}"))),
            }
        }
    }
}

/// The size of a chunk-size line: `1*HEXDIG`, then nothing or extensions
/// (`BWS ";" …`) of visible characters, spaces and tabs. Anything else (a
/// space before the line end, control characters) is malformed: another
/// parser could read it differently.
fn chunk_size(line: &[u8]) -> Result<u64, End> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = &line[digits..];
    let extension = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map(|k| &rest[k..]);
    let well_formed = digits > 0
        && match extension {
            None => rest.is_empty(),
            Some(ext) => {
                ext[0] == b';' && ext.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
            }
        };
    if !well_formed {
        return Err(refusal(400, "malformed chunk size"));
    }
    if digits > 16 {
        return Err(body_too_large());
    }
    let hex = std::str::from_utf8(&line[..digits]).expect("hex digits are ASCII");
    Ok(u64::from_str_radix(hex, 16).expect("at most 16 hex digits"))
}

/// Writes `parts` one after the other (a head and a body, without copying
/// them together) within the transfer time their size gets.
async fn write<W: AsyncWrite + Unpin>(stream: &mut W, parts: &[&[u8]]) -> Result<(), End> {
    let size = parts.iter().map(|p| p.len()).sum();
    let all = async {
        for part in parts {
            stream.write_all(part).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    match timeout(transfer_time(WRITE_TIMEOUT, size), all).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(End::Gone),
    }
}

/// Writes `response`: its head, then its body (copied into the head's
/// buffer when small, so that a small answer is one segment; written after
/// it when large, so that it is not copied). An HTTP/1.0 client that asked
/// to keep the connection is told it is kept (RFC 9112 §C.2.2).
async fn send(
    stream: &mut TcpStream,
    response: &Response,
    head_only: bool,
    close: bool,
    minor: u8,
) -> Result<(), End> {
    let mut head = response.head(close, false);
    if minor == 0 && !close {
        let blank = head.len() - 2;
        head.splice(blank..blank, b"Connection: keep-alive\r\n".iter().copied());
    }
    let body = response.body_to_send(head_only);
    if body.len() <= SMALL_ANSWER {
        head.extend_from_slice(body);
        write(stream, &[&head]).await
    } else {
        write(stream, &[&head, body]).await
    }
}

/// Answers up to this size go out in one write with their head.
const SMALL_ANSWER: usize = 8 * 1024;

/// Answers a request that was closed for a newcomer before it ran (queued
/// for a thread or a place among the writes) with 503 and `Retry-After`:
/// it did not run, so sending it again is safe.
async fn not_run<S: Service>(stream: TcpStream, service: &S) {
    let answer = service
        .error(
            503,
            "the server is full: this request was closed for a newcomer before it ran; send it again",
        )
        .header("Retry-After", "1");
    answer_and_close(stream, answer).await
}

/// Whether the client has sent bytes not read yet: a peek at the socket
/// (it is non-blocking, so this never waits), not tokio's cached readiness.
fn bytes_waiting(stream: &TcpStream) -> bool {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit()];
    matches!(socket2::SockRef::from(stream).peek(&mut probe), Ok(n) if n > 0)
}

/// Answers a refused request and closes the connection.
async fn refuse<S: Service>(stream: TcpStream, service: &S, r: Refusal) {
    answer_and_close(stream, service.error(r.status, &r.message)).await
}

/// Sends `answer` (with `Connection: close`) and closes, lingering.
async fn answer_and_close(mut stream: TcpStream, answer: Response) {
    if write(&mut stream, &[&answer.to_bytes(false, true, false)])
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
/// source ends, a write stalls (the client left [`STREAM_SEND_BUFFER`]
/// bytes unread and took nothing of the next chunk for its transfer time),
/// the client closes (noticed at once: the socket is read all along, and
/// what the client sends is dropped), or a newcomer's view displaces it
/// (an event stream shows no sign of life: see budget.rs).
async fn stream_to(
    mut stream: TcpStream,
    response: Response,
    mut source: Box<dyn StreamSource>,
    view: Slot,
) {
    if write(&mut stream, &[&response.head(true, true)])
        .await
        .is_err()
    {
        return;
    }
    // bounds what a reader that stopped reading keeps unsent (without it,
    // Linux grows a send buffer up to 4 MiB: tests/hostile.rs measured
    // 2.8 MB queued for one stalled view)
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(STREAM_SEND_BUFFER);
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
                    () = view.evicted() => return,
                }
            }
        };
        match chunk {
            Some(bytes) if write(&mut writer, &[&bytes]).await.is_ok() => {}
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
