//! Who may talk to the server: requests must name this server in `Host` (a
//! page on another site that re-points its DNS name at us, "DNS
//! rebinding", carries its own name), and state-changing requests and event
//! streams must come from our own pages (`Origin`, against cross-site
//! request forgery). `Host` itself was checked to be one valid
//! `host[:port]` by the HTTP layer.

use std::net::IpAddr;

use super::http::Authority;

/// The host names a server bound to `bind` answers to: loopback names, the
/// bind address, and the names the user allowed (`--allow-host`).
pub fn allowed_hosts(bind: IpAddr, extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .map(String::from)
        .to_vec();
    let bind = match bind {
        IpAddr::V6(a) => format!("[{a}]"),
        IpAddr::V4(a) => a.to_string(),
    };
    hosts.push(bind);
    hosts.extend(extra.iter().map(|h| h.to_ascii_lowercase()));
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Checks a request's host, and for `guarded` requests (POST, event
/// streams) its `Origin`: when present it must be this very server as the
/// request names it (`http://` + host). `Err` is the reason for a 403.
pub fn check(
    allowed: &[String],
    host: &Authority,
    origin: Option<&str>,
    guarded: bool,
) -> Result<(), String> {
    if !allowed.contains(&host.name) {
        return Err(format!(
            "Host `{}` is not this server's name; if it is, start the app with --allow-host {}",
            host.text(),
            host.name
        ));
    }
    if let (true, Some(origin)) = (guarded, origin) {
        let own = format!("http://{}", host.text());
        if origin.trim().to_ascii_lowercase() != own {
            return Err(format!(
                "requests from origin `{origin}` are not allowed here"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::http::head::parse_authority;

    #[test]
    fn hosts_and_origins() {
        let allowed = allowed_hosts("0.0.0.0".parse().unwrap(), &["Box.lan".to_string()]);
        assert_eq!(
            allowed,
            ["0.0.0.0", "127.0.0.1", "[::1]", "box.lan", "localhost"]
        );
        // (Host, Origin, guarded, expected)
        type Case<'a> = (&'a str, Option<&'a str>, bool, Result<(), &'a str>);
        let cases: &[Case] = &[
            ("localhost:8080", None, true, Ok(())),
            ("127.0.0.1:8080", Some("http://127.0.0.1:8080"), true, Ok(())),
            ("[::1]:80", Some("http://[::1]:80"), true, Ok(())),
            ("[0::1]:80", Some("http://[::1]:80"), true, Ok(())),
            ("BOX.LAN:9", None, false, Ok(())),
            ("evil.example:8080", None, false, Err("Host `evil.example:8080` is not this server's name; if it is, start the app with --allow-host evil.example")),
            ("localhost:8080", Some("http://evil.example"), true, Err("requests from origin `http://evil.example` are not allowed here")),
            ("localhost:8080", Some("http://localhost:9999"), true, Err("requests from origin `http://localhost:9999` are not allowed here")),
            ("localhost:8080", Some("null"), true, Err("requests from origin `null` are not allowed here")),
            ("localhost:8080", Some("http://evil.example"), false, Ok(())),
        ];
        for (host, origin, guarded, want) in cases {
            let host = parse_authority(host.as_bytes()).unwrap();
            let got = check(&allowed, &host, *origin, *guarded);
            assert_eq!(got, want.map_err(String::from), "{host:?} {origin:?}");
        }
    }
}
