//! The request head: the request line and header fields, parsed by httparse
//! and checked against RFC 9112 before anything reads a body.
//!
//! Anything a second parser (a proxy in front of us) could frame differently
//! is refused, and the connection closed after the answer:
//!
//! | request | answer |
//! | --- | --- |
//! | version other than HTTP/1.0 and HTTP/1.1 (`HTTP/2.0`) | 505 |
//! | request line over [`REQUEST_LINE_MAX`](super::REQUEST_LINE_MAX) | 414 |
//! | head over [`HEAD_MAX`](super::HEAD_MAX), or more than [`HEADERS_MAX`](super::HEADERS_MAX) fields | 431 |
//! | malformed line, field name, value or line end; a folded line (leading space) | 400 |
//! | no `Host`, two `Host` fields, or one that is not `host[:port]` (RFC 9112 §3.2, RFC 3986 §3.2.2) | 400 |
//! | two `Content-Length` fields, or one that is not 1*DIGIT (`abc`, `-1`, `1e3`, `0x10`, `4, 4`) | 400 |
//! | `Content-Length` with `Transfer-Encoding` (RFC 9112 §6.3: MAY reject; we do) | 400 |
//! | `Transfer-Encoding` whose last coding is not `chunked` (`gzip`), or on HTTP/1.0 | 400 |
//! | other codings before `chunked` (`gzip, chunked`) | 501 |
//! | `Expect` other than `100-continue` | 417 |

use std::net::Ipv6Addr;

use super::{HEADERS_MAX, HEAD_MAX, REQUEST_LINE_MAX};

/// A request head that passed every check.
#[derive(Debug)]
pub struct Head {
    /// The method token.
    pub method: String,
    /// The target's path (origin form; from an absolute target, its path).
    pub path: String,
    /// The target's query, if any.
    pub query: Option<String>,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor: u8,
    /// Header fields: lower-case names, trimmed values.
    pub headers: Vec<(String, String)>,
    /// The host the request names.
    pub host: Authority,
    /// How the body is delimited.
    pub framing: Framing,
    /// `Expect: 100-continue` on HTTP/1.1: send `100 Continue` before
    /// reading the body.
    pub expect_continue: bool,
    /// Whether the connection may carry another request after this one
    /// (HTTP/1.1 unless `Connection: close`; HTTP/1.0 with `keep-alive`).
    pub keep_alive: bool,
}

/// How a request's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The host a request names (`Host`, RFC 9112 §3.2), checked to be one
/// `uri-host [":" port]` of RFC 3986.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authority {
    /// The host in lower case: a name, an IPv4 address, or `[IPv6]`.
    pub name: String,
    /// The port, if given.
    pub port: Option<u16>,
}

impl Authority {
    /// `name[:port]`, as an origin's authority is written.
    pub fn text(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Why a head is refused: the status and a message for the client. Every
/// refusal closes the connection (where the next request would start is
/// not known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The status code (4xx or 5xx).
    pub status: u16,
    /// What was wrong, for the client.
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// Parses the head at the start of `buf`. `Ok(None)`: not complete yet
/// (read more); `Ok(Some((head, n)))`: the head is the first `n` bytes.
pub fn parse(buf: &[u8]) -> Result<Option<(Head, usize)>, Refusal> {
    // RFC 9112 §2.2: empty lines before the request line are ignored.
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line_end = buf[start..].iter().position(|&b| b == b'\n');
    match line_end {
        Some(n) if n > REQUEST_LINE_MAX => return Err(request_line_too_long()),
        None if buf.len() - start > REQUEST_LINE_MAX => return Err(request_line_too_long()),
        _ => {}
    }
    let mut fields = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut request = httparse::Request::new(&mut fields);
    let status = match request.parse(buf) {
        Ok(status) => status,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refuse(
                431,
                format!("more than {HEADERS_MAX} header fields"),
            ))
        }
        Err(httparse::Error::Version) => {
            let line = &buf[start..start + line_end.unwrap_or(buf.len() - start)];
            return Err(version_refusal(line));
        }
        Err(e) => return Err(refuse(400, format!("malformed request head: {e}"))),
    };
    let length = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial if buf.len() >= HEAD_MAX => return Err(head_too_large()),
        httparse::Status::Partial => return Ok(None),
    };
    if length > HEAD_MAX {
        return Err(head_too_large());
    }
    // RFC 9112 §2.2 lets a recipient take a bare LF as a line end; a proxy
    // that does not would frame the request differently, so it is refused.
    if has_bare_lf(&buf[start..length]) {
        return Err(refuse(
            400,
            "a line of the request head ends in LF without CR",
        ));
    }
    let head = check(&request)?;
    Ok(Some((head, length)))
}

/// Whether `bytes` holds an LF not preceded by CR.
pub fn has_bare_lf(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
}

fn request_line_too_long() -> Refusal {
    refuse(
        414,
        format!("the request line is longer than {REQUEST_LINE_MAX} bytes"),
    )
}

fn head_too_large() -> Refusal {
    refuse(
        431,
        format!("the request head is larger than {HEAD_MAX} bytes"),
    )
}

/// 505 for a request line of three parts whose version is well-formed but
/// one we do not speak (`HTTP/2.0`), 400 for anything else there (RFC 9112
/// §2.3: `HTTP/` DIGIT `.` DIGIT; §3: method SP target SP version).
fn version_refusal(line: &[u8]) -> Refusal {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let version = match parts.as_slice() {
        [_, _, version] => *version,
        _ => return refuse(400, "malformed request line (method, target, version)"),
    };
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit()
                && minor.is_ascii_digit()
                && !(*major == b'1' && matches!(*minor, b'0' | b'1')) =>
        {
            refuse(
                505,
                format!(
                    "HTTP/{}.{} is not supported; this server speaks HTTP/1.1 and HTTP/1.0",
                    *major as char, *minor as char
                ),
            )
        }
        _ => refuse(400, "malformed HTTP version in the request line"),
    }
}

/// Checks a complete head's target, `Host`, framing and expectations.
fn check(request: &httparse::Request<'_, '_>) -> Result<Head, Refusal> {
    let method = request.method.unwrap_or_default().to_string();
    let minor = request.version.unwrap_or(1);
    let target = request.path.unwrap_or_default();
    let mut headers = Vec::with_capacity(request.headers.len());
    for field in request.headers.iter() {
        let value = String::from_utf8_lossy(field.value);
        headers.push((
            field.name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    let values = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(|f| trim(f.value))
    };

    // The target: origin form, or absolute form whose authority stands in
    // for Host (RFC 9112 §3.2.2).
    let (path, query, target_host) = split_target(target)?;
    let hosts: Vec<&[u8]> = values("host").collect();
    let host = match (hosts.as_slice(), target_host) {
        ([], None) => return Err(refuse(400, "the request has no Host header")),
        ([_, _, ..], _) => return Err(refuse(400, "the request has more than one Host header")),
        ([one], None) => parse_authority(one)?,
        (_, Some(authority)) => {
            if let [one] = hosts.as_slice() {
                parse_authority(one)?; // must still be valid
            }
            parse_authority(authority.as_bytes())?
        }
    };

    // Framing (RFC 9112 §6.3).
    let lengths: Vec<&[u8]> = values("content-length").collect();
    let codings: Vec<&[u8]> = values("transfer-encoding").collect();
    let framing = match (lengths.as_slice(), codings.is_empty()) {
        ([], true) => Framing::Empty,
        ([one], true) => Framing::Length(parse_length(one)?),
        ([_, _, ..], _) => return Err(refuse(400, "more than one Content-Length header")),
        (_, false) if minor == 0 => {
            return Err(refuse(400, "Transfer-Encoding is not allowed in HTTP/1.0"))
        }
        ([_], false) => {
            return Err(refuse(
                400,
                "both Content-Length and Transfer-Encoding: the body's length is ambiguous",
            ))
        }
        ([], false) => transfer_coding(&codings)?,
    };

    let mut expect_continue = false;
    for value in values("expect") {
        if value.eq_ignore_ascii_case(b"100-continue") {
            expect_continue = minor == 1;
        } else {
            return Err(refuse(
                417,
                format!(
                    "unsupported expectation `{}`",
                    String::from_utf8_lossy(value)
                ),
            ));
        }
    }

    let connection = |token: &str| {
        values("connection").any(|v| {
            v.split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    let keep_alive = if minor == 1 {
        !connection("close")
    } else {
        connection("keep-alive")
    };

    Ok(Head {
        method,
        path,
        query,
        minor,
        headers,
        host,
        framing,
        expect_continue,
        keep_alive,
    })
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// Path, query and (absolute form) authority of a request target.
fn split_target(target: &str) -> Result<(String, Option<String>, Option<&str>), Refusal> {
    // A URI is ASCII (RFC 3986 §2); httparse lets other bytes through.
    if !target.is_ascii() {
        return Err(refuse(
            400,
            "the request target has bytes that are not ASCII (percent-encode them)",
        ));
    }
    let (authority, rest) = if target.starts_with('/') {
        (None, target)
    } else if target.len() > 7 && target[..7].eq_ignore_ascii_case("http://") {
        let after = &target[7..];
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let rest = &after[end..];
        (
            Some(&after[..end]),
            if rest.is_empty() { "/" } else { rest },
        )
    } else {
        return Err(refuse(
            400,
            "the request target must be a path (`/...`) or an http:// URL",
        ));
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query.to_string())),
        None => (rest, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((path.to_string(), query, authority))
}

/// `uri-host [":" port]` (RFC 3986 §3.2.2-3.2.3): an IP literal in
/// brackets, or a reg-name (unreserved, pct-encoded, sub-delims), then an
/// optional port of digits. No user info, nothing after the port.
pub fn parse_authority(value: &[u8]) -> Result<Authority, Refusal> {
    let bad = || {
        refuse(
            400,
            format!(
                "Host `{}` is not a host name or address with an optional port",
                String::from_utf8_lossy(value).escape_debug()
            ),
        )
    };
    let (name, port) = if value.first() == Some(&b'[') {
        let close = value.iter().position(|&b| b == b']').ok_or_else(bad)?;
        let inside = std::str::from_utf8(&value[1..close]).map_err(|_| bad())?;
        let address: Ipv6Addr = inside.parse().map_err(|_| bad())?;
        let port = match &value[close + 1..] {
            [] => None,
            [b':', digits @ ..] => Some(digits),
            _ => return Err(bad()),
        };
        (format!("[{address}]"), port)
    } else {
        let (name, port) = match value.iter().position(|&b| b == b':') {
            Some(i) => (&value[..i], Some(&value[i + 1..])),
            None => (value, None),
        };
        if name.is_empty() || !reg_name(name) {
            return Err(bad());
        }
        (String::from_utf8_lossy(name).to_ascii_lowercase(), port)
    };
    let port = match port {
        None | Some([]) => None,
        Some(digits) if digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit) => Some(
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u16>().ok())
                .ok_or_else(bad)?,
        ),
        Some(_) => return Err(bad()),
    };
    Ok(Authority { name, port })
}

/// RFC 3986 reg-name: unreserved / pct-encoded / sub-delims.
fn reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'%' => {
                if !(i + 2 < name.len()
                    && name[i + 1].is_ascii_hexdigit()
                    && name[i + 2].is_ascii_hexdigit())
                {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6), as a u64.
fn parse_length(value: &[u8]) -> Result<u64, Refusal> {
    let text = String::from_utf8_lossy(value);
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(refuse(
            400,
            format!(
                "Content-Length `{}` is not a number of bytes",
                text.escape_debug()
            ),
        ));
    }
    Ok(text.parse().expect("19 digits fit a u64"))
}

/// The transfer codings of a request (RFC 9112 §6.1): `chunked` alone is
/// understood; `chunked` not last cannot be framed (400); other codings
/// before it are not implemented (501).
fn transfer_coding(values: &[&[u8]]) -> Result<Framing, Refusal> {
    let codings: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|c| String::from_utf8_lossy(trim(c)).to_ascii_lowercase())
        .collect();
    let shown = codings.join(", ");
    match codings.as_slice() {
        [only] if only == "chunked" => Ok(Framing::Chunked),
        [.., last] if last != "chunked" => Err(refuse(
            400,
            format!(
                "Transfer-Encoding `{shown}` does not end in chunked: the body's length is unknown"
            ),
        )),
        _ => Err(refuse(
            501,
            format!("Transfer-Encoding `{shown}` is not supported (only chunked)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<(Head, usize)>, Refusal> {
        parse(text.as_bytes())
    }

    fn status(text: &str) -> u16 {
        match head(text) {
            Ok(Some(_)) => 200,
            Ok(None) => 0,
            Err(r) => r.status,
        }
    }

    #[test]
    fn framing_and_versions_follow_rfc_9112() {
        // (request head, status: 200 accepted, 0 incomplete, else the refusal)
        let cases: &[(&str, u16)] = &[
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200),
            ("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 200),
            ("GET / HTTP/1.0\r\n\r\n", 400), // no Host
            ("GET / HTTP/1.1\r\nHost: a\r\n", 0),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
            ("GET /st ate HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: a\nContent-Length: 5\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\nHost: a\n\n", 400),
            ("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
            ("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/11\r\nHost: a\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHo\x01st: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 200),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000\r\n\r\n", 200),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 200),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", 200),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            ("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", 200),
            ("POST / HTTP/1.1\r\nHost: a\r\nExpect: the-unexpected\r\n\r\n", 417),
            ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET http:/\u{68e}/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ];
        for (text, want) in cases {
            assert_eq!(status(text), *want, "{text:?}: {:?}", head(text).err());
        }
    }

    #[test]
    fn hosts_must_be_one_valid_authority() {
        // (Host value, the name and port it names, or None for 400)
        type Named<'a> = Option<(&'a str, Option<u16>)>;
        let cases: &[(&str, Named)] = &[
            ("localhost", Some(("localhost", None))),
            ("LocalHost:8080", Some(("localhost", Some(8080)))),
            ("127.0.0.1:1", Some(("127.0.0.1", Some(1)))),
            ("[::1]:80", Some(("[::1]", Some(80)))),
            ("[0:0::1]", Some(("[::1]", None))),
            ("a-b.example.", Some(("a-b.example.", None))),
            ("x%41y", Some(("x%41y", None))),
            ("localhost:", Some(("localhost", None))),
            ("", None),
            (":80", None),
            ("[::1]evil.example", None),
            ("[::1]:80x", None),
            ("[evil]", None),
            ("[::1", None),
            ("localhost:evil.example", None),
            ("localhost:8080@evil.example", None),
            ("user@localhost", None),
            ("localhost:65536", None),
            ("localhost:080080", None),
            ("local host", None),
            ("localhost/x", None),
            ("x%4", None),
            ("caf\u{e9}", None),
        ];
        for (value, want) in cases {
            let got = parse_authority(value.as_bytes()).ok();
            let want = want.map(|(n, p)| Authority {
                name: n.to_string(),
                port: p,
            });
            assert_eq!(got, want, "{value:?}");
        }
    }

    #[test]
    fn limits_of_line_and_head() {
        let long_target = format!(
            "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "x".repeat(REQUEST_LINE_MAX)
        );
        assert_eq!(status(&long_target), 414);
        let no_end = format!("GET /{}", "x".repeat(REQUEST_LINE_MAX + 1));
        assert_eq!(status(&no_end), 414, "a request line that never ends");
        let fits = format!(
            "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "x".repeat(REQUEST_LINE_MAX - 20)
        );
        assert_eq!(status(&fits), 200);
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "y".repeat(HEAD_MAX)
        );
        assert_eq!(status(&big), 431);
        let endless = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "y".repeat(HEAD_MAX));
        assert_eq!(status(&endless), 431, "a field that never ends");
        let many: String = (0..=HEADERS_MAX).map(|i| format!("X{i}: v\r\n")).collect();
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n")),
            431
        );
    }

    #[test]
    fn what_a_head_says() {
        let (h, n) = head("\r\nPOST http://Example.org:81/execute/f?x=1 HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 012\r\nX-Y:  a b \r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(n, 112, "the head ends before `rest`");
        assert_eq!(h.minor, 0);
        assert_eq!(h.method, "POST");
        assert_eq!(h.path, "/execute/f");
        assert_eq!(h.query.as_deref(), Some("x=1"));
        assert_eq!(h.host.text(), "example.org:81");
        assert_eq!(h.framing, Framing::Length(12));
        assert!(h.keep_alive);
        assert_eq!(h.headers[2], ("x-y".to_string(), "a b".to_string()));
        let (h, _) = head("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let (h, _) = head("GET / HTTP/1.0\r\nHost: a\r\n\r\n").unwrap().unwrap();
        assert!(!h.keep_alive, "HTTP/1.0 closes by default");
    }

    /// A seeded fuzzer of the parser alone (the socket-level one is in
    /// `tests/hostile.rs`): mutated heads never panic, a head is never
    /// longer than the limit, and every refusal is a 4xx or 5xx.
    /// `X64WASM_FUZZ_HEADS=N` runs N heads instead of a million.
    #[test]
    fn fuzzed_heads_are_parsed_or_refused() {
        let runs: u64 = std::env::var("X64WASM_FUZZ_HEADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let seeds: &[&[u8]] = &[
            b"GET /state HTTP/1.1\r\nHost: a:1\r\n\r\n",
            b"POST /execute/f?x=1 HTTP/1.1\r\nHost: [::1]:8\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n",
            b"POST http://h/ HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
        ];
        let splices: &[&[u8]] = &[
            b"\r\n",
            b"\n",
            b"\r",
            b" ",
            b":",
            b",",
            b"\0",
            b"\xff",
            b"HTTP/2.0",
            b"Content-Length: ",
            b"Transfer-Encoding: ",
            b"Host: ",
            b"99999999999999999999",
            b"chunked",
            b"[",
            b"]",
            b"@",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n.max(1) as u64) as usize
        };
        for _ in 0..runs {
            let mut bytes = seeds[next(seeds.len())].to_vec();
            for _ in 0..1 + next(4) {
                let at = next(bytes.len() + 1);
                match next(4) {
                    0 if !bytes.is_empty() => {
                        let i = at.min(bytes.len() - 1);
                        bytes[i] = next(256) as u8;
                    }
                    1 => {
                        let splice = splices[next(splices.len())];
                        bytes.splice(at..at, splice.iter().copied());
                    }
                    2 => bytes.truncate(at),
                    _ => {
                        let end = (at + next(8)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                }
            }
            match parse(&bytes) {
                Ok(Some((_, n))) => assert!(n <= bytes.len() && n <= HEAD_MAX),
                Ok(None) => {}
                Err(r) => assert!((400..=505).contains(&r.status), "{r:?}"),
            }
        }
    }
}
