//! Rate limits: on clicks (`POST /execute`), a token bucket per client
//! address (IPv6 by /64, as budgets count addresses; a person clicks a few times a second; a script hammering the
//! server gets 429 and does not starve the others of the state lock); and
//! on the log lines clients can cause, so that the log is no client's
//! megaphone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use super::http::address_key;

/// Token buckets by client address.
pub struct RateLimiter {
    /// Tokens added per second (clicks per second sustained).
    rate: f64,
    /// Bucket size (clicks in a burst).
    burst: f64,
    /// By [`address_key`].
    buckets: Mutex<HashMap<u128, (f64, Instant)>>,
}

/// Buckets kept before full (idle) ones are forgotten.
const MAX_CLIENTS: usize = 4096;

impl RateLimiter {
    /// `rate` clicks per second per client, in bursts of up to twice that.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter::with(rate as f64, (2 * rate).max(1) as f64)
    }

    /// `rate` tokens per second per client (a fraction for fewer), in
    /// bursts of up to `burst`.
    pub fn with(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `client` has no token left at `now` (takes none).
    pub fn exhausted(&self, client: IpAddr, now: Instant) -> bool {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .get(&address_key(client))
            .is_some_and(|(tokens, at)| {
                tokens + now.duration_since(*at).as_secs_f64() * self.rate < 1.0
            })
    }

    /// Takes one token for `client` at time `now`; `Err` holds the seconds
    /// until the next token.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), f64> {
        let client = address_key(client);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.rate)
        }
    }
}

/// Longest log line a client can cause, in bytes (longer ones are cut).
pub const LOG_LINE_MAX: usize = 1024;
/// Log lines clients can cause in a burst, and then per second.
const LOG_BURST: f64 = 10.0;
const LOG_RATE: f64 = 1.0;

/// Log lines that clients can cause (a disagreeing prediction, a failed
/// save): each cut to [`LOG_LINE_MAX`] bytes, at most 10 at once and one a
/// second after that; the next line written says how many were dropped.
pub struct LogLimiter {
    /// Tokens, when they were counted, lines dropped since the last one.
    bucket: Mutex<(f64, Instant, u64)>,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new()
    }
}

impl LogLimiter {
    /// A full bucket.
    pub fn new() -> LogLimiter {
        LogLimiter {
            bucket: Mutex::new((LOG_BURST, Instant::now(), 0)),
        }
    }

    /// Writes `text` to standard error as one `x64wasm: ` line, if the rate
    /// allows.
    pub fn line(&self, text: &str) {
        if let Some(line) = self.admit(text, Instant::now()) {
            eprintln!("{line}");
        }
    }

    /// The line to write at `now`, or `None` when it is dropped.
    pub fn admit(&self, text: &str, now: Instant) -> Option<String> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at, dropped) = &mut *bucket;
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * LOG_RATE).min(LOG_BURST);
        *at = now;
        if *tokens < 1.0 {
            *dropped += 1;
            return None;
        }
        *tokens -= 1.0;
        let mut line = String::from("x64wasm: ");
        if *dropped > 0 {
            line.push_str(&format!("({dropped} similar lines dropped) "));
            *dropped = 0;
        }
        let mut cut = text.len().min(LOG_LINE_MAX);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        line.push_str(&text[..cut]);
        if cut < text.len() {
            line.push_str(&format!("… ({} more bytes)", text.len() - cut));
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_the_rate_per_client() {
        let limiter = RateLimiter::new(10);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(limiter.take(a, t0), Ok(()));
        }
        let wait = limiter.take(a, t0).unwrap_err();
        assert!((wait - 0.1).abs() < 1e-9, "{wait}");
        assert_eq!(
            limiter.take(b, t0),
            Ok(()),
            "another client has its own bucket"
        );
        assert_eq!(limiter.take(a, t0 + Duration::from_millis(100)), Ok(()));
        assert!(limiter.take(a, t0 + Duration::from_millis(100)).is_err());
        assert_eq!(
            limiter.take(a, t0 + Duration::from_secs(60)),
            Ok(()),
            "refilled"
        );
        // one client's forms of its address share its bucket: IPv4-mapped
        // IPv6 is IPv4, and IPv6 counts by /64
        let c: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..20 {
            assert_eq!(limiter.take(c, t0), Ok(()));
        }
        for same in ["2001:db8::2", "2001:db8:0:0:ffff::9"] {
            assert!(limiter.take(same.parse().unwrap(), t0).is_err(), "{same}");
        }
        assert_eq!(limiter.take("2001:db8:0:1::1".parse().unwrap(), t0), Ok(()));
        let t1 = t0 + Duration::from_secs(120);
        for _ in 0..20 {
            assert_eq!(limiter.take(a, t1), Ok(()));
        }
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(limiter.take(mapped, t1).is_err(), "a's bucket");
    }

    #[test]
    fn client_caused_log_lines_are_cut_and_rate_limited() {
        let log = LogLimiter::new();
        let t0 = Instant::now();
        let long = "é".repeat(LOG_LINE_MAX); // 2 bytes each: cut mid-way
        let first = log.admit(&long, t0).unwrap();
        assert!(first.len() < LOG_LINE_MAX + 40, "{}", first.len());
        assert!(first.ends_with(&format!("… ({} more bytes)", LOG_LINE_MAX)));
        for _ in 1..10 {
            assert!(log.admit("x", t0).is_some());
        }
        assert_eq!(log.admit("x", t0), None, "the burst is spent");
        assert_eq!(log.admit("x", t0), None);
        assert_eq!(
            log.admit("y", t0 + Duration::from_secs(1)).as_deref(),
            Some("x64wasm: (2 similar lines dropped) y")
        );
    }
}
