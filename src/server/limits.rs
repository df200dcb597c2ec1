//! Per-client rate limit on clicks (`POST /execute`): a token bucket per
//! client address. A person clicks a few times a second; a script hammering
//! the server gets 429 and does not starve the others of the state lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets by client address.
pub struct RateLimiter {
    /// Tokens added per second (clicks per second sustained).
    rate: f64,
    /// Bucket size (clicks in a burst).
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Buckets kept before full (idle) ones are forgotten.
const MAX_CLIENTS: usize = 4096;

impl RateLimiter {
    /// `rate` clicks per second per client, in bursts of up to twice that.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter {
            rate: rate as f64,
            burst: (2 * rate).max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client` at time `now`; `Err` holds the seconds
    /// until the next token.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), f64> {
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
    }
}
