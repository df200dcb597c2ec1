//! Streams over a WebSocket (RFC 6455): the opening handshake's checks and
//! answer (§4.2), and the stream itself, every chunk of a
//! [`StreamSource`] as one text message. The framing is tungstenite's.
//!
//! Why a WebSocket at all: a browser opens at most 6 HTTP/1.1 connections
//! per host, and an event stream holds one for as long as its view is open,
//! so a sixth tab of one browser took the last connection its clicks and
//! page loads could use. WebSockets are not counted in that pool (Chromium
//! allows 255 per profile, WebKit likewise), so any number of tabs stream
//! and every click still finds a connection.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::budget::Slot;
use super::conn::transfer_time;
use super::{Request, Response, StreamSource, STREAM_SEND_BUFFER, WRITE_TIMEOUT};

/// The only WebSocket version there is (RFC 6455 §4.1).
const VERSION: &str = "13";

/// The largest message or frame a client may send: a page sends none but
/// close and ping frames, whose payloads are at most 125 bytes.
const CLIENT_MESSAGE_MAX: usize = 1024;

/// Pings a client may send per ping interval (browsers send none): each is
/// answered with a pong, which a client that does not read would let pile
/// up in the write buffer.
const CLIENT_PINGS_MAX: u32 = 4;

/// What tungstenite may hold unsent for one stream: far above one event
/// (a reset is the whole view), a backstop to [`CLIENT_PINGS_MAX`].
const WRITE_BUFFER_MAX: usize = 64 << 20;

/// What a request asks for: `None` when it asks for no WebSocket (no
/// `Upgrade: websocket`); else the `101 Switching Protocols` answer (its
/// head: the caller adds its own fields), or why the handshake is refused
/// (status and message: 400, or 426 naming the version this server speaks).
pub fn handshake(request: &Request) -> Option<Result<Response, (u16, String)>> {
    let upgrade = request.header_list("upgrade")?;
    if !has_token(&upgrade, "websocket") {
        return None;
    }
    Some(accept(request))
}

fn accept(request: &Request) -> Result<Response, (u16, String)> {
    if request.method != "GET" {
        return Err((400, "a WebSocket opens with GET".into()));
    }
    let connection = request.header_list("connection").unwrap_or_default();
    if !has_token(&connection, "upgrade") {
        return Err((
            400,
            "a WebSocket request needs `Connection: Upgrade`".into(),
        ));
    }
    if request.header_list("sec-websocket-version").as_deref() != Some(VERSION) {
        return Err((
            426,
            format!("this server speaks WebSocket version {VERSION}"),
        ));
    }
    // §4.1: the key is 16 random bytes in base64, 24 characters
    let key = request.header_list("sec-websocket-key").unwrap_or_default();
    let key_ok = key.len() == 24
        && base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &key)
            .is_ok_and(|k| k.len() == 16);
    if !key_ok {
        return Err((400, "`Sec-WebSocket-Key` must be 16 bytes in base64".into()));
    }
    Ok(Response::new(101, Vec::new())
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", derive_accept_key(key.as_bytes())))
}

/// Whether the comma-separated list `list` holds `token` (case-insensitive,
/// RFC 9110 §5.6.1).
fn has_token(list: &str, token: &str) -> bool {
    list.split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// A stream over a WebSocket: the 101 head, then every chunk of `source`
/// as one text message, until the source ends, the client closes (a close
/// frame is answered), sends a message (it has nothing to say), breaks a
/// rule of the framing, leaves a message untaken for its transfer time (as
/// an event stream: [`STREAM_SEND_BUFFER`], [`WRITE_TIMEOUT`]), shows no
/// sign of life for `timeout` (it is pinged every third of it; a reader
/// answers with a pong, one that stopped reading cannot; the client's own
/// pings are no sign of life, and more than [`CLIENT_PINGS_MAX`] of them
/// in an interval close it), or a newcomer's view displaces it (one that
/// showed none for half of it: see budget.rs).
pub(super) async fn stream_to(
    mut stream: TcpStream,
    head: Vec<u8>,
    mut source: Box<dyn StreamSource>,
    view: Slot,
    timeout_after: Duration,
) {
    use tokio::io::AsyncWriteExt;
    if timeout(
        transfer_time(WRITE_TIMEOUT, head.len()),
        stream.write_all(&head),
    )
    .await
    .map_or(true, |w| w.is_err())
    {
        return;
    }
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(STREAM_SEND_BUFFER);
    let config = WebSocketConfig::default()
        .max_message_size(Some(CLIENT_MESSAGE_MAX))
        .max_frame_size(Some(CLIENT_MESSAGE_MAX))
        .max_write_buffer_size(WRITE_BUFFER_MAX);
    let mut client_pings = 0;
    let mut socket = WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await;
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + timeout_after / 3,
        timeout_after / 3,
    );
    loop {
        let chunk = {
            let next = source.next();
            tokio::pin!(next);
            loop {
                tokio::select! {
                    chunk = &mut next => break chunk,
                    _ = ping.tick() => {
                        client_pings = 0;
                        if view.silent_for() >= timeout_after {
                            let _ = timeout(WRITE_TIMEOUT, socket.close(None)).await;
                            return;
                        }
                        let ping = socket.send(Message::Ping(Default::default()));
                        if !matches!(timeout(WRITE_TIMEOUT, ping).await, Ok(Ok(()))) {
                            return;
                        }
                    }
                    () = view.evicted() => {
                        let _ = timeout(WRITE_TIMEOUT, socket.close(None)).await;
                        return;
                    }
                    // pings are answered by tungstenite as it reads; a
                    // close is answered (the answer tungstenite queued is
                    // flushed), and so is a message (a page sends none)
                    // with a close; a broken frame ends the connection
                    read = socket.next() => match read {
                        Some(Ok(Message::Pong(_))) => view.alive(),
                        Some(Ok(Message::Ping(_))) => {
                            client_pings += 1;
                            if client_pings > CLIENT_PINGS_MAX {
                                return;
                            }
                        }
                        Some(Ok(Message::Close(_))) => {
                            let _ = timeout(WRITE_TIMEOUT, socket.flush()).await;
                            return;
                        }
                        Some(Ok(_)) => {
                            let _ = timeout(WRITE_TIMEOUT, socket.close(None)).await;
                            return;
                        }
                        None | Some(Err(_)) => return,
                    },
                }
            }
        };
        let Some(bytes) = chunk else {
            let _ = timeout(WRITE_TIMEOUT, socket.close(None)).await;
            return;
        };
        // the chunks are event-stream text, which the source made as UTF-8
        let Ok(text) = String::from_utf8(bytes) else {
            return;
        };
        let size = text.len();
        match timeout(
            transfer_time(WRITE_TIMEOUT, size),
            socket.send(Message::text(text)),
        )
        .await
        {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            path: "/events".into(),
            query: None,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            host: super::super::Authority {
                name: "127.0.0.1".into(),
                port: Some(1),
            },
            body: Vec::new(),
            peer: "127.0.0.1:2".parse().unwrap(),
        }
    }

    #[test]
    fn handshakes_are_checked_as_rfc_6455_says() {
        // RFC 6455 §1.3's example key and answer
        let key = ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        let upgrade = ("upgrade", "websocket");
        let connection = ("connection", "keep-alive, Upgrade");
        let version = ("sec-websocket-version", "13");
        #[rustfmt::skip]
        // (header fields, no WebSocket asked / the accept key / the refusal)
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<Result<&'a str, u16>>);
        let cases: &[Case] = &[
            (&[], None),
            (&[("upgrade", "h2c"), connection], None),
            (
                &[upgrade, connection, version, key],
                Some(Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")),
            ),
            (
                &[
                    ("upgrade", "WebSocket"),
                    ("connection", "upgrade"),
                    version,
                    key,
                ],
                Some(Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")),
            ),
            (&[upgrade, version, key], Some(Err(400))),
            (
                &[upgrade, connection, ("sec-websocket-version", "8"), key],
                Some(Err(426)),
            ),
            (&[upgrade, connection, key], Some(Err(426))),
            (&[upgrade, connection, version], Some(Err(400))),
            (
                &[
                    upgrade,
                    connection,
                    version,
                    ("sec-websocket-key", "c2hvcnQ="),
                ],
                Some(Err(400)),
            ),
            (
                &[
                    upgrade,
                    connection,
                    version,
                    ("sec-websocket-key", "not base64 at all, no!!"),
                ],
                Some(Err(400)),
            ),
        ];
        for (headers, want) in cases {
            let got = handshake(&request(headers)).map(|r| match r {
                Ok(response) => {
                    assert_eq!(response.status, 101);
                    let accept = response
                        .headers
                        .iter()
                        .find(|(n, _)| *n == "Sec-WebSocket-Accept");
                    Ok(accept.map(|(_, v)| v.clone()).unwrap())
                }
                Err((status, _)) => Err(status),
            });
            let want = want.map(|w| w.map(str::to_string));
            assert_eq!(got, want, "{headers:?}");
        }
    }
}
