//! Who may talk to the server (DESIGN §6): requests must name this server in
//! `Host` (a page on another site that re-points its DNS name at us, "DNS
//! rebinding", carries its own name), and state-changing requests and event
//! streams must come from our own pages (`Origin`, against cross-site request
//! forgery).

use std::net::IpAddr;

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

/// The host name of a `Host` value or an origin's authority, without port.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(end) = authority.find(']') {
        return authority[..=end].to_string();
    }
    authority.split(':').next().unwrap_or("").to_string()
}

/// Checks a request's `Host`, and for `guarded` requests (POST, event
/// streams) its `Origin`: when present it must be this very server as the
/// request names it (`http://` + Host). `Err` is the reason for a 403.
pub fn check(
    allowed: &[String],
    host: Option<&str>,
    origin: Option<&str>,
    guarded: bool,
) -> Result<(), String> {
    let Some(host) = host else {
        return Err("the request has no Host header".into());
    };
    let name = host_name(host);
    if !allowed.contains(&name) {
        return Err(format!(
            "Host `{host}` is not this server's name; if it is, start the app with --allow-host {name}"
        ));
    }
    if let (true, Some(origin)) = (guarded, origin) {
        let own = format!("http://{}", host.trim().to_ascii_lowercase());
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

    #[test]
    fn hosts_and_origins() {
        let allowed = allowed_hosts("0.0.0.0".parse().unwrap(), &["Box.lan".to_string()]);
        assert_eq!(
            allowed,
            ["0.0.0.0", "127.0.0.1", "[::1]", "box.lan", "localhost"]
        );
        // (Host, Origin, guarded, expected)
        type Case<'a> = (Option<&'a str>, Option<&'a str>, bool, Result<(), &'a str>);
        let cases: &[Case] = &[
            (Some("localhost:8080"), None, true, Ok(())),
            (Some("127.0.0.1:8080"), Some("http://127.0.0.1:8080"), true, Ok(())),
            (Some("[::1]:80"), Some("http://[::1]:80"), true, Ok(())),
            (Some("BOX.LAN:9"), None, false, Ok(())),
            (Some("evil.example:8080"), None, false, Err("Host `evil.example:8080` is not this server's name; if it is, start the app with --allow-host evil.example")),
            (None, None, false, Err("the request has no Host header")),
            (Some("localhost:8080"), Some("http://evil.example"), true, Err("requests from origin `http://evil.example` are not allowed here")),
            (Some("localhost:8080"), Some("http://localhost:9999"), true, Err("requests from origin `http://localhost:9999` are not allowed here")),
            (Some("localhost:8080"), Some("null"), true, Err("requests from origin `null` are not allowed here")),
            (Some("localhost:8080"), Some("http://evil.example"), false, Ok(())),
        ];
        for (host, origin, guarded, want) in cases {
            let got = check(&allowed, *host, *origin, *guarded);
            assert_eq!(got, want.map_err(String::from), "{host:?} {origin:?}");
        }
    }
}
