//! Content codings (RFC 9110 §8.4.1): a body goes out gzipped to a client
//! whose `Accept-Encoding` takes gzip, each coding with its own strong
//! ETag (§8.8.3), so that the page, the runtime and the modules cost the
//! wire a fraction of their size, and a page that has them gets a 304.

use std::sync::{Arc, OnceLock};

use super::http::{Request, Response};

/// A body as it is served: its bytes, gzipped once when first asked for,
/// and its strong ETag (quoted), if it has one.
pub(crate) struct Encoded {
    /// The body itself (the identity coding).
    pub identity: Arc<[u8]>,
    /// The body gzipped, made the first time a client accepts it.
    gzip: OnceLock<Vec<u8>>,
    /// The identity body's strong ETag; the gzip one adds `-gzip`.
    etag: Option<String>,
    /// The `Content-Type`.
    content_type: &'static str,
}

impl Encoded {
    /// `identity` as `content_type`, with `etag` (quoted) if the body may
    /// be validated (a body that changes with every request has none).
    pub fn new(identity: Arc<[u8]>, content_type: &'static str, etag: Option<String>) -> Encoded {
        Encoded {
            identity,
            gzip: OnceLock::new(),
            etag,
            content_type,
        }
    }

    /// A body whose ETag is the first 16 bytes of its SHA-256, in hex.
    pub fn hashed(identity: Arc<[u8]>, content_type: &'static str) -> Encoded {
        let etag = format!("\"{}\"", &super::bytes_hash(&identity)[..32]);
        Encoded::new(identity, content_type, Some(etag))
    }

    /// The answer to `request`: gzipped when it accepts gzip, 304 when
    /// its `If-None-Match` names this coding's ETag. `Vary:
    /// Accept-Encoding`, so that caches keep the codings apart.
    pub fn reply(&self, request: &Request) -> Response {
        let gzipped = accepts_gzip(request.header_list("accept-encoding").as_deref());
        let etag = self.etag.as_ref().map(|etag| match gzipped {
            true => format!("{}-gzip\"", etag.trim_end_matches('"')),
            false => etag.clone(),
        });
        let validated = etag.as_ref().is_some_and(|etag| {
            request
                .header_list("if-none-match")
                .is_some_and(|v| etag_matches(&v, etag))
        });
        let mut response = if validated {
            Response::new(304, Vec::new())
        } else if gzipped {
            let body = self.gzip.get_or_init(|| gzip(&self.identity));
            Response::new(200, body.clone())
                .header("Content-Type", self.content_type)
                .header("Content-Encoding", "gzip")
        } else {
            Response::new(200, self.identity.to_vec()).header("Content-Type", self.content_type)
        };
        if let Some(etag) = etag {
            response = response.header("ETag", etag);
        }
        response.header("Vary", "Accept-Encoding")
    }
}

/// `bytes` gzipped (RFC 1952), at flate2's default level.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// Whether an `Accept-Encoding` value accepts gzip (RFC 9110 §12.5.3:
/// `gzip` or `*` with a weight above 0; a weight that is no qvalue, `0` to
/// `1` with at most three decimals, refuses it: the body goes uncompressed).
fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    let mut gzip = None;
    let mut any = None;
    for item in value.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .or_else(|| p.strip_prefix("Q="))
                .is_some_and(|q| !is_qvalue(q) || q.parse::<f32>() == Ok(0.0))
        });
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(!refused),
            "*" => any = Some(!refused),
            _ => {}
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Whether an `If-None-Match` value names `etag` (RFC 9110 §13.1.2: `*`
/// matches any, and the comparison is weak: `W/"x"` matches `"x"`).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.trim() == "*"
        || if_none_match
            .split(',')
            .map(|t| t.trim())
            .any(|t| t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// RFC 9110's `qvalue`: `0` or `1`, then optionally `.` and up to three
/// digits (only zeros after a `1`).
fn is_qvalue(q: &str) -> bool {
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    let digits = fraction.len() <= 3 && fraction.bytes().all(|b| b.is_ascii_digit());
    match whole {
        "0" => digits,
        "1" => digits && fraction.bytes().all(|b| b == b'0'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_sent_where_accept_encoding_takes_it() {
        let cases: &[(Option<&str>, bool)] = &[
            (None, false),
            (Some(""), false),
            (Some("gzip"), true),
            (Some("gzip, deflate, br, zstd"), true),
            (Some("GZIP;q=0.5"), true),
            (Some("br;q=1.0, gzip;q=0"), false),
            (Some("gzip;q=0.000"), false),
            (Some("*"), true),
            (Some("*;q=0"), false),
            (Some("gzip;q=0, *"), false),
            (Some("identity"), false),
            (Some("x-gzip"), true),
            (Some("gzip;q=abc"), false),
            (Some("gzip;q=-1"), false),
            (Some("gzip;q=1.0001"), false),
            (Some("gzip;q=1.000"), true),
            (Some("gzip;q=0.001"), true),
            // two lines of the header, read as one list
            (Some("br, gzip"), true),
        ];
        for (value, gzip) in cases {
            assert_eq!(accepts_gzip(*value), *gzip, "{value:?}");
        }
    }

    #[test]
    fn etags_match_weakly_and_by_star() {
        let etag = "\"ab\"";
        for (value, want) in [
            ("\"ab\"", true),
            ("W/\"ab\"", true),
            ("*", true),
            ("\"x\", W/\"ab\"", true),
            ("\"x\"", false),
            ("ab", false),
        ] {
            assert_eq!(etag_matches(value, etag), want, "{value}");
        }
    }
}
