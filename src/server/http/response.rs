//! Answers: status, header fields and body, and how they are written
//! (RFC 9112 §4 and §6: `Content-Length` framing, `Connection: close` when
//! the connection ends after the answer).

use std::time::SystemTime;

/// An answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header fields besides `Date`, `Content-Length` and `Connection`,
    /// which the server writes itself.
    pub headers: Vec<(&'static str, String)>,
    /// The body (not sent for `HEAD`, 204 and 304).
    pub body: Vec<u8>,
}

impl Response {
    /// An answer with `status` and `body`.
    pub fn new(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// Adds a header field (names are constants; values are the caller's
    /// and must not contain CR or LF, which is checked).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        let value = value.into();
        assert!(
            !value.contains(['\r', '\n']),
            "header {name} with a line break"
        );
        self.headers.push((name, value));
        self
    }

    /// Whether the status allows a body (RFC 9110 §15: not 1xx, 204, 304).
    fn has_body(&self) -> bool {
        !(self.status < 200 || self.status == 204 || self.status == 304)
    }

    /// The head to write: status line and fields (`Date`, then
    /// `Content-Length` unless `streamed` or the status has no body, then
    /// `Connection: close` when `close` or `streamed`, then the response's
    /// own), and the blank line.
    pub fn head(&self, close: bool, streamed: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
        out.extend_from_slice(b"\r\n");
        if self.has_body() && !streamed {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        if close || streamed {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The body to write after the head: none for `HEAD` requests
    /// (`head_only`) and for statuses without a body.
    pub fn body_to_send(&self, head_only: bool) -> &[u8] {
        if self.has_body() && !head_only {
            &self.body
        } else {
            &[]
        }
    }

    /// Head and body in one buffer (small answers: refusals).
    pub fn to_bytes(&self, head_only: bool, close: bool, streamed: bool) -> Vec<u8> {
        let mut out = self.head(close, streamed);
        if !streamed {
            out.extend_from_slice(self.body_to_send(head_only));
        }
        out
    }
}

/// Reason phrases of the statuses this server sends (RFC 9110 §15).
const REASONS: &[(u16, &str)] = &[
    (100, "Continue"),
    (101, "Switching Protocols"),
    (200, "OK"),
    (204, "No Content"),
    (303, "See Other"),
    (304, "Not Modified"),
    (400, "Bad Request"),
    (401, "Unauthorized"),
    (403, "Forbidden"),
    (404, "Not Found"),
    (405, "Method Not Allowed"),
    (408, "Request Timeout"),
    (413, "Content Too Large"),
    (414, "URI Too Long"),
    (415, "Unsupported Media Type"),
    (417, "Expectation Failed"),
    (422, "Unprocessable Content"),
    (426, "Upgrade Required"),
    (429, "Too Many Requests"),
    (431, "Request Header Fields Too Large"),
    (500, "Internal Server Error"),
    (501, "Not Implemented"),
    (503, "Service Unavailable"),
    (505, "HTTP Version Not Supported"),
];

/// The reason phrase of `status` (empty for one not in the table, which
/// RFC 9112 §4 allows).
pub fn reason(status: u16) -> &'static str {
    REASONS
        .iter()
        .find(|(s, _)| *s == status)
        .map_or("", |(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Response, head_only: bool, close: bool, streamed: bool) -> String {
        let bytes = r.to_bytes(head_only, close, streamed);
        let s = String::from_utf8(bytes).unwrap();
        // Date changes every second: check its shape, then leave it out.
        let date = s.lines().nth(1).unwrap();
        assert!(
            date.starts_with("Date: ") && date.ends_with(" GMT"),
            "{date}"
        );
        s.replace(&format!("{date}\r\n"), "")
    }

    #[test]
    fn answers_are_framed_by_length_or_by_close() {
        let ok = Response::new(200, b"hi".to_vec()).header("Content-Type", "text/plain");
        // (response, head_only, close, streamed, bytes without Date)
        let cases: &[(&Response, bool, bool, bool, &str)] = &[
            (&ok, false, false, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nhi"),
            (&ok, true, false, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n"),
            (&ok, false, true, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nhi"),
            (&ok, false, false, true, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n"),
            (&Response::new(304, Vec::new()), false, false, false, "HTTP/1.1 304 Not Modified\r\n\r\n"),
            (&Response::new(599, Vec::new()), false, false, false, "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n"),
        ];
        for (response, head_only, close, streamed, want) in cases {
            assert_eq!(text(response, *head_only, *close, *streamed), *want);
        }
    }

    #[test]
    #[should_panic(expected = "line break")]
    fn header_values_cannot_split_the_head() {
        let _ = Response::new(200, Vec::new()).header("X", "a\r\nSet-Cookie: b");
    }
}
