//! The access token (README "Who can get in"): when the server listens on
//! an address other machines can reach (or `--token` was given), every
//! request must carry this server's token, as Jupyter's and VS Code's
//! servers ask.
//!
//! A browser brings it once, in the URL the server prints
//! (`http://HOST:P/?token=…`); the page load trades it for a cookie
//! (`HttpOnly; SameSite=Strict`, named after the port: cookies are shared
//! by every port of a host) and is redirected to the same URL without it,
//! so it leaves the address bar and the history. Scripts may send
//! `Authorization: Bearer …`. Tokens are compared in constant time (as
//! SHA-256 digests, so not even the length leaks), and wrong ones are
//! rate-limited per client address.

use std::net::IpAddr;
use std::time::Instant;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::http::{Request, Response};
use super::limits::RateLimiter;

/// The query parameter that carries the token.
pub const TOKEN_PARAMETER: &str = "token";
/// The environment variable that may hold the token (as `--token`).
pub const TOKEN_VARIABLE: &str = "X64WASM_TOKEN";
/// Wrong tokens one client address may try in a burst, then one per
/// [`FAILURE_INTERVAL_SECONDS`].
const FAILURE_BURST: f64 = 10.0;
const FAILURE_INTERVAL_SECONDS: f64 = 6.0;

/// The token a server requires, and its failed attempts.
pub struct Auth {
    /// SHA-256 of the token.
    digest: [u8; 32],
    /// The cookie that carries it (`x64wasm-token-PORT`).
    cookie: String,
    failures: RateLimiter,
}

/// What a request may do.
pub enum Verdict {
    /// It carries the token: answer it.
    Pass,
    /// Answer with this instead (a redirect that sets the cookie, a 401, or
    /// a 429 for an address that tried too many wrong tokens).
    Answer(Response),
}

impl Auth {
    /// Requires `token` on the server listening on `port`.
    pub fn new(token: &str, port: u16) -> Auth {
        Auth {
            digest: Sha256::digest(token.as_bytes()).into(),
            cookie: format!("x64wasm-token-{port}"),
            failures: RateLimiter::with(1.0 / FAILURE_INTERVAL_SECONDS, FAILURE_BURST),
        }
    }

    /// A new random token: 128 bits in hex.
    pub fn random_token() -> String {
        super::views::random_hex()
    }

    fn matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.digest.ct_eq(&digest).into()
    }

    /// Checks `request`, from `client` (the address its budget counts).
    pub fn check(&self, request: &Request, client: IpAddr) -> Verdict {
        let from_query = request.query(TOKEN_PARAMETER);
        // every cookie of the name counts: another service of this host may
        // set one (cookies are not per port), and it must not lock us out
        let presented: Vec<&str> = [from_query, bearer(request)]
            .into_iter()
            .flatten()
            .chain(self.cookie_tokens(request))
            .collect();
        // an address out of attempts may not try even the right token
        if !presented.is_empty() && self.failures.exhausted(client, Instant::now()) {
            return Verdict::Answer(too_many());
        }
        if presented.iter().any(|t| self.matches(t)) {
            // a page load with the token in its URL: the cookie, and the
            // same URL without it
            return match (from_query, request.method.as_str()) {
                (Some(token), "GET" | "HEAD") if self.matches(token) => {
                    Verdict::Answer(self.enter(request, token))
                }
                _ => Verdict::Pass,
            };
        }
        if !presented.is_empty() && self.failures.take(client, Instant::now()).is_err() {
            return Verdict::Answer(too_many());
        }
        Verdict::Answer(refusal(
            401,
            "This x64wasm server needs its access token. Open the URL it printed when it \
             started (http://HOST:PORT/?token=…), or ask whoever runs it for that URL.",
        ))
    }

    /// The values of every cookie of this server's name the request has.
    fn cookie_tokens<'a>(&'a self, request: &'a Request) -> impl Iterator<Item = &'a str> {
        request
            .headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == self.cookie)
            .map(|(_, value)| value)
    }

    /// 303 to the request's URL without the token, setting the cookie.
    fn enter(&self, request: &Request, token: &str) -> Response {
        let rest: Vec<&str> = request
            .query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some(TOKEN_PARAMETER))
            .collect();
        // (a path of `//host/` would be another site's URL: one slash)
        let path = format!("/{}", request.path.trim_start_matches('/'));
        let location = match rest.is_empty() {
            true => path,
            false => format!("{path}?{}", rest.join("&")),
        };
        Response::new(303, Vec::new())
            .header("Location", location)
            .header(
                "Set-Cookie",
                format!("{}={token}; Path=/; HttpOnly; SameSite=Strict", self.cookie),
            )
            .header("Cache-Control", "no-store")
    }
}

/// The token of an `Authorization: Bearer …` field (RFC 6750 §2.1).
fn bearer(request: &Request) -> Option<&str> {
    let value = request.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The answer to an address that tried too many wrong tokens.
fn too_many() -> Response {
    let retry = FAILURE_INTERVAL_SECONDS as u64;
    refusal(
        429,
        "Too many wrong tokens from this address; wait and try again.",
    )
    .header("Retry-After", retry.to_string())
}

/// A short page saying why, for people and scripts alike.
fn refusal(status: u16, message: &str) -> Response {
    let html = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Access token needed</title>\
         <p>{message}</p>\n"
    );
    Response::new(status, html.into_bytes())
        .header("Content-Type", "text/html; charset=utf-8")
        .header("Cache-Control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, query: Option<&str>, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            path: "/".into(),
            query: query.map(str::to_string),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            host: super::super::http::Authority {
                name: "10.0.0.1".into(),
                port: Some(8080),
            },
            body: Vec::new(),
            peer: "10.0.0.2:1234".parse().unwrap(),
        }
    }

    #[test]
    fn requests_pass_only_with_the_token() {
        let auth = Auth::new("s3cret", 8080);
        // (method, query, header fields, status: 0 passes, location)
        #[rustfmt::skip]
        type Case<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)], u16, Option<&'a str>);
        let cases: &[Case] = &[
            ("GET", None, &[], 401, None),
            ("GET", Some("token=s3cret"), &[], 303, Some("/")),
            (
                "GET",
                Some("a=1&token=s3cret&b=2"),
                &[],
                303,
                Some("/?a=1&b=2"),
            ),
            ("POST", Some("token=s3cret"), &[], 0, None),
            ("GET", Some("token=s3cre"), &[], 401, None),
            ("GET", Some("token=s3cret2"), &[], 401, None),
            (
                "GET",
                None,
                &[("cookie", "x64wasm-token-8080=s3cret")],
                0,
                None,
            ),
            (
                "GET",
                None,
                &[("cookie", "a=b; x64wasm-token-8080=s3cret; c=d")],
                0,
                None,
            ),
            (
                "GET",
                None,
                &[("cookie", "a=b"), ("cookie", "x64wasm-token-8080=s3cret")],
                0,
                None,
            ),
            (
                "GET",
                None,
                &[("cookie", "x64wasm-token-9090=s3cret")],
                401,
                None,
            ),
            (
                "GET",
                None,
                &[(
                    "cookie",
                    "x64wasm-token-8080=junk; x64wasm-token-8080=s3cret",
                )],
                0,
                None,
            ),
            (
                "GET",
                None,
                &[("cookie", "x64wasm-token-8080=S3CRET")],
                401,
                None,
            ),
            ("GET", None, &[("authorization", "Bearer s3cret")], 0, None),
            ("GET", None, &[("authorization", "bearer s3cret")], 0, None),
            ("GET", None, &[("authorization", "Basic s3cret")], 401, None),
        ];
        for (method, query, headers, status, location) in cases {
            let got = match auth.check(
                &request(method, *query, headers),
                "10.0.0.2".parse().unwrap(),
            ) {
                Verdict::Pass => (0, None),
                Verdict::Answer(r) => {
                    let location = r
                        .headers
                        .iter()
                        .find(|(n, _)| *n == "Location")
                        .map(|(_, v)| v.clone());
                    if r.status == 303 {
                        let cookie = &r
                            .headers
                            .iter()
                            .find(|(n, _)| *n == "Set-Cookie")
                            .unwrap()
                            .1;
                        assert_eq!(
                            cookie,
                            "x64wasm-token-8080=s3cret; Path=/; HttpOnly; SameSite=Strict"
                        );
                    }
                    (r.status, location)
                }
            };
            assert_eq!(
                got,
                (*status, location.map(str::to_string)),
                "{method} {query:?} {headers:?}"
            );
        }
    }

    #[test]
    fn the_redirect_stays_on_this_server() {
        let auth = Auth::new("s3cret", 8080);
        let mut req = request("GET", Some("token=s3cret"), &[]);
        req.path = "//evil.example/x".into();
        let Verdict::Answer(r) = auth.check(&req, "10.0.0.2".parse().unwrap()) else {
            panic!("no redirect");
        };
        let location = r.headers.iter().find(|(n, _)| *n == "Location").unwrap();
        assert_eq!(location.1, "/evil.example/x");
    }

    #[test]
    fn wrong_tokens_are_limited_per_address() {
        let auth = Auth::new("s3cret", 8080);
        let wrong = request("GET", Some("token=guess"), &[]);
        let status = |client: &str| match auth.check(&wrong, client.parse().unwrap()) {
            Verdict::Pass => 0,
            Verdict::Answer(r) => r.status,
        };
        for _ in 0..10 {
            assert_eq!(status("10.0.0.2"), 401);
        }
        assert_eq!(status("10.0.0.2"), 429);
        assert_eq!(
            status("10.0.0.3"),
            401,
            "another address has its own budget"
        );
        let right = request("GET", None, &[("authorization", "Bearer s3cret")]);
        match auth.check(&right, "10.0.0.2".parse().unwrap()) {
            Verdict::Answer(r) => assert_eq!(r.status, 429, "not even the right token"),
            Verdict::Pass => panic!("an address out of attempts got in"),
        }
        // asking without a token is not a failed attempt
        let bare = request("GET", None, &[]);
        match auth.check(&bare, "10.0.0.2".parse().unwrap()) {
            Verdict::Answer(r) => assert_eq!(r.status, 401),
            Verdict::Pass => panic!("passed without a token"),
        }
    }
}
