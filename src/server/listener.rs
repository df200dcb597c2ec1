//! The listening socket, made with the options tiny_http never sets.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// How long a connection may sit idle before a request, or block a write.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one write to a slow client may block before it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `ip:port` (port 0: any free port) with TCP_NODELAY and read/write
/// timeouts set on the listener; Linux copies them to every accepted socket.
/// A busy port is a clear error naming the way out.
pub fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, String> {
    let address = SocketAddr::new(ip, port);
    let listener = TcpListener::bind(address).map_err(|e| match e.kind() {
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
    })?;
    let fd = listener.as_raw_fd();
    set_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, &1 as &libc::c_int)?;
    set_option(
        fd,
        libc::SOL_SOCKET,
        libc::SO_RCVTIMEO,
        &timeval(READ_TIMEOUT),
    )?;
    set_option(
        fd,
        libc::SOL_SOCKET,
        libc::SO_SNDTIMEO,
        &timeval(WRITE_TIMEOUT),
    )?;
    Ok(listener)
}

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    }
}

fn set_option<T>(fd: i32, level: i32, name: i32, value: &T) -> Result<(), String> {
    // SAFETY: `value` points to a live T of the size we pass.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(format!(
            "setting socket option {name}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpStream};

    fn get_option<T: Default>(fd: i32, level: i32, name: i32) -> T {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: value is a T of `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                &mut value as *mut T as *mut libc::c_void,
                &mut len,
            )
        };
        assert_eq!(r, 0);
        value
    }

    #[test]
    fn accepted_sockets_inherit_nodelay_and_timeouts() {
        let listener = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let fd = accepted.as_raw_fd();
        assert_eq!(
            get_option::<libc::c_int>(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY),
            1
        );
        assert_eq!(accepted.read_timeout().unwrap(), Some(READ_TIMEOUT));
        assert_eq!(accepted.write_timeout().unwrap(), Some(WRITE_TIMEOUT));
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
