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
