//! The listening socket.
//!
//! It carries no socket timeouts: Linux applies `SO_RCVTIMEO` on a listening
//! socket to `accept()` itself, which then fails with `EAGAIN` whenever no
//! client came for that long. Deadlines live in the connection tasks
//! instead (see [`http`](super::http)).

use std::net::{IpAddr, SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// Connections the kernel queues for us before refusing more (capped by
/// `net.core.somaxconn`, 4096 on current Linux): a burst of page loads and
/// views is queued, not dropped.
const BACKLOG: i32 = 1024;

/// Binds `ip:port` (port 0: any free port). A busy port is a clear error
/// naming the way out.
pub fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, String> {
    let address = SocketAddr::new(ip, port);
    let explain = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {port} on {ip} is already in use: stop the other server or pick another \
             port with --port N (--port 0 takes any free one)"
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            format!("cannot bind {address}: no such local address (see --bind)")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("cannot bind {address}: permission denied (ports below 1024 need privileges)")
        }
        _ => format!("cannot bind {address}: {e}"),
    };
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None).map_err(explain)?;
    // As std's TcpListener::bind: a restarted server can take its port back
    // while the old connections are in TIME_WAIT.
    socket.set_reuse_address(true).map_err(explain)?;
    socket.bind(&address.into()).map_err(explain)?;
    socket.listen(BACKLOG).map_err(explain)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpStream};
    use std::time::Duration;

    #[test]
    fn accepted_sockets_have_no_timeouts_to_inherit() {
        let listener = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).unwrap();
        listener
            .set_nonblocking(true)
            .expect("a listener, not a timed socket");
        listener.set_nonblocking(false).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert_eq!(accepted.read_timeout().unwrap(), None::<Duration>);
        assert_eq!(accepted.write_timeout().unwrap(), None::<Duration>);
    }

    #[test]
    fn a_busy_port_is_a_clear_error() {
        let first = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), port).unwrap_err();
        assert!(
            err.contains(&format!("port {port} on 127.0.0.1 is already in use")),
            "{err}"
        );
    }
}
