//! Raw sockets for tests of hostile and slow clients: connect from a chosen
//! loopback address, send bytes as they are, read one answer or notice a
//! close.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::server::{parse_reply, Reply};

/// Connects to `address` (host:port) from `source` (any 127.0.0.0/8
/// address is this machine), so that budgets see another client.
pub fn connect_from(source: IpAddr, address: &str) -> std::io::Result<TcpStream> {
    let target: SocketAddr = address.parse().expect("host:port");
    let socket = Socket::new(Domain::for_address(target), Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect(&target.into())?;
    Ok(socket.into())
}

/// Connects to `address` with a receive buffer of `bytes` (the kernel
/// doubles it and keeps a minimum), for a client that reads nothing.
pub fn connect_with_small_window(address: &str, bytes: usize) -> TcpStream {
    let target: SocketAddr = address.parse().expect("host:port");
    let socket = Socket::new(Domain::for_address(target), Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(bytes).unwrap();
    socket.connect(&target.into()).unwrap();
    socket.into()
}

/// Reads one whole answer (head and `Content-Length` body) within `wait`;
/// `None` when the connection closed or nothing whole came in time.
pub fn read_answer(mut stream: &TcpStream, wait: Duration) -> Option<Reply> {
    let deadline = Instant::now() + wait;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let reply = parse_reply(&raw[..end + 4]);
            let length: usize = reply
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                let mut reply = reply;
                reply.body = raw[end + 4..end + 4 + length].to_vec();
                return Some(reply);
            }
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            Err(_) => return None,
        }
    }
}

/// Whether the server closed the connection within `wait` (what arrives
/// before the close is thrown away).
pub fn closed_within(mut stream: &TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut chunk = [0u8; 4096];
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true, // reset
        }
    }
}

/// Sends `bytes`, ignoring a failure (the server may have closed already).
pub fn send(mut stream: &TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}

/// Raises this test process's soft descriptor limit to its hard limit and
/// returns it (tests that hold thousands of sockets need it).
pub fn raise_own_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// Opens a WebSocket on `path` (RFC 6455 §4.1, the RFC's sample key) with
/// `extra` header lines (each ending in CRLF): the answer's head, and the
/// connection, read up to the head's end (no frame taken).
pub fn websocket(address: &str, path: &str, extra: &str) -> (Reply, TcpStream) {
    let mut stream = TcpStream::connect(address).unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("the answer's head");
        head.push(byte[0]);
    }
    (parse_reply(&head), stream)
}

/// The answer to RFC 6455 §1.3's sample key, which [`websocket`] sends.
pub const WEBSOCKET_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Reads one frame the server sent (RFC 6455 §5.2: FIN set, unmasked):
/// its opcode and payload.
pub fn read_frame(stream: &TcpStream) -> (u8, Vec<u8>) {
    try_read_frame(stream).expect("a frame")
}

/// [`read_frame`], or `None` when the connection ends or times out first.
pub fn try_read_frame(mut stream: &TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).ok()?;
    assert_eq!(head[0] & 0xF0, 0x80, "FIN, no extension bits: {head:?}");
    assert_eq!(head[1] & 0x80, 0, "a server's frame is not masked");
    let length = match head[1] & 0x7F {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n).ok()?;
            u16::from_be_bytes(n) as usize
        }
        127 => {
            let mut n = [0u8; 8];
            stream.read_exact(&mut n).ok()?;
            u64::from_be_bytes(n) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).ok()?;
    Some((head[0] & 0x0F, payload))
}

/// Writes one frame as a client must (masked, RFC 6455 §5.3), payload
/// under 126 bytes.
pub fn write_frame(mut stream: &TcpStream, opcode: u8, payload: &[u8]) {
    assert!(payload.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).unwrap();
}
