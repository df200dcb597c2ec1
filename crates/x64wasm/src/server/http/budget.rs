//! How many connections the server holds at once, derived from the file
//! descriptors the process may open, in two budgets: requests (every
//! connection until it becomes a view) and views (event streams). A view is
//! never the reason a click is refused, and no one address can take a whole
//! budget.
//!
//! The arithmetic ([`Capacity::plan`]), for a descriptor limit of `D` (the
//! soft `RLIMIT_NOFILE`, first raised to the hard limit): each connection
//! holds one descriptor; [`DESCRIPTORS_RESERVED`] stay free for everything
//! else (the listener, the state file, reading the executable, the desktop
//! window, connections being refused); of the other `A = D - 256`, requests
//! get `A / 4` (at least 16, at most 4,096) and views the rest; one address
//! (an IPv4 address, or an IPv6 /64) may hold a quarter of each (at least 8).
//! With `ulimit -n 1024`: 192 requests (48 per address) and 576 views (144
//! per address).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Descriptors kept free for everything but connections.
pub const DESCRIPTORS_RESERVED: u64 = 256;

/// How many connections of each kind may be open at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Connections that are not (yet) views.
    pub requests: usize,
    /// Of those, from one address.
    pub requests_per_address: usize,
    /// Open views (event streams).
    pub views: usize,
    /// Of those, from one address.
    pub views_per_address: usize,
}

impl Capacity {
    /// The capacity for a process that may open `descriptors` files, unless
    /// the user set the counts (`--max-connections`, `--max-views`). `Err`
    /// when the limit leaves no room; a warning (second field) when the
    /// user's counts need more descriptors than the limit allows, in which
    /// case accepting backs off whenever they run out.
    pub fn plan(
        descriptors: u64,
        max_connections: Option<usize>,
        max_views: Option<usize>,
    ) -> Result<(Capacity, Option<String>), String> {
        let available = descriptors.saturating_sub(DESCRIPTORS_RESERVED) as usize;
        let derived = max_connections.is_none() || max_views.is_none();
        if derived && available < 64 {
            return Err(format!(
                "the descriptor limit is {descriptors} (ulimit -n): too few for a server that \
                 keeps {DESCRIPTORS_RESERVED} free; raise it to at least {}",
                DESCRIPTORS_RESERVED + 64
            ));
        }
        let requests = max_connections.unwrap_or((available / 4).clamp(16, 4096));
        let views = max_views.unwrap_or(available.saturating_sub(requests).max(16));
        let warning = (requests + views > available).then(|| {
            format!(
                "{requests} connections and {views} views need more descriptors than the {available} \
                 this process may use (ulimit -n {descriptors}, {DESCRIPTORS_RESERVED} kept free); \
                 when they run out, accepting waits until some close"
            )
        });
        let share = |n: usize| (n / 4).max(n.min(8));
        Ok((
            Capacity {
                requests,
                requests_per_address: share(requests),
                views,
                views_per_address: share(views),
            },
            warning,
        ))
    }
}

/// Raises the soft descriptor limit to the hard one (capped by the kernel's
/// `nr_open`) and returns the limit in force.
pub fn raise_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    let kernel_max = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    let target = limit.rlim_max.min(kernel_max);
    if limit.rlim_cur < target {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return target;
        }
    }
    limit.rlim_cur
}

/// The two kinds of connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A connection carrying requests.
    Request,
    /// An open view's event stream.
    View,
}

/// An address as budgets count it: IPv4 addresses one by one, IPv6 by /64
/// (one host's usual allocation), IPv4-mapped IPv6 as IPv4.
fn address_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u32::from(v4) as u128,
            None => u128::from(v6) & !((1u128 << 64) - 1),
        },
    }
}

#[derive(Default)]
struct Counts {
    requests: usize,
    views: usize,
    by_address: HashMap<u128, [usize; 2]>,
}

/// The connections open now, against a [`Capacity`].
pub struct Budget {
    capacity: Capacity,
    counts: Mutex<Counts>,
}

/// One open connection's place in a budget, given back when dropped.
pub struct Slot {
    budget: Arc<Budget>,
    key: u128,
    kind: Kind,
}

impl Budget {
    /// An empty budget.
    pub fn new(capacity: Capacity) -> Arc<Budget> {
        Arc::new(Budget {
            capacity,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Takes a place for a connection of `kind` from `ip`; `Err` says which
    /// limit is full, for the 503.
    pub fn admit(self: &Arc<Self>, kind: Kind, ip: IpAddr) -> Result<Slot, &'static str> {
        let key = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (total, limit, per_address, index) = match kind {
            Kind::Request => (
                counts.requests,
                self.capacity.requests,
                self.capacity.requests_per_address,
                0,
            ),
            Kind::View => (
                counts.views,
                self.capacity.views,
                self.capacity.views_per_address,
                1,
            ),
        };
        if total >= limit {
            return Err(match kind {
                Kind::Request => "too many open connections",
                Kind::View => "too many open views",
            });
        }
        let mine = counts.by_address.entry(key).or_default();
        if mine[index] >= per_address {
            return Err(match kind {
                Kind::Request => "too many open connections from your address",
                Kind::View => "too many open views from your address",
            });
        }
        mine[index] += 1;
        match kind {
            Kind::Request => counts.requests += 1,
            Kind::View => counts.views += 1,
        }
        Ok(Slot {
            budget: self.clone(),
            key,
            kind,
        })
    }

    /// Connections of `kind` open now.
    #[cfg(test)]
    pub fn open(&self, kind: Kind) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match kind {
            Kind::Request => counts.requests,
            Kind::View => counts.views,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.budget.counts.lock().unwrap_or_else(|e| e.into_inner());
        let index = match self.kind {
            Kind::Request => {
                counts.requests -= 1;
                0
            }
            Kind::View => {
                counts.views -= 1;
                1
            }
        };
        if let Some(mine) = counts.by_address.get_mut(&self.key) {
            mine[index] -= 1;
            if *mine == [0, 0] {
                counts.by_address.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_follows_the_descriptor_limit() {
        // (descriptors, --max-connections, --max-views, requests, per address, views, per address, warns)
        type Case = (u64, Option<usize>, Option<usize>, [usize; 4], bool);
        let cases: &[Case] = &[
            (1024, None, None, [192, 48, 576, 144], false),
            (20_000, None, None, [4096, 1024, 15_648, 3912], false),
            (400, None, None, [36, 9, 108, 27], false),
            (1024, Some(3), None, [3, 3, 765, 191], false),
            (1024, Some(20), Some(10), [20, 8, 10, 8], false),
            (128, Some(500), Some(500), [500, 125, 500, 125], true),
        ];
        for &(descriptors, connections, views, want, warns) in cases {
            let (c, warning) = Capacity::plan(descriptors, connections, views).unwrap();
            assert_eq!(
                [
                    c.requests,
                    c.requests_per_address,
                    c.views,
                    c.views_per_address
                ],
                want,
                "{descriptors} {connections:?} {views:?}"
            );
            assert_eq!(warning.is_some(), warns, "{warning:?}");
        }
        let err = Capacity::plan(200, None, None).unwrap_err();
        assert!(err.contains("raise it to at least 320"), "{err}");
    }

    #[test]
    fn budgets_count_per_kind_and_per_address() {
        let budget = Budget::new(Capacity {
            requests: 3,
            requests_per_address: 2,
            views: 2,
            views_per_address: 2,
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let a1 = budget.admit(Kind::Request, a).unwrap();
        let _a2 = budget.admit(Kind::Request, a).unwrap();
        assert_eq!(
            budget.admit(Kind::Request, a).err(),
            Some("too many open connections from your address")
        );
        let _b1 = budget.admit(Kind::Request, b).unwrap();
        assert_eq!(
            budget.admit(Kind::Request, b).err(),
            Some("too many open connections")
        );
        // Views have their own budget.
        let v1 = budget.admit(Kind::View, a).unwrap();
        let _v2 = budget.admit(Kind::View, b).unwrap();
        assert_eq!(
            budget.admit(Kind::View, b).err(),
            Some("too many open views")
        );
        drop(a1);
        drop(v1);
        assert!(budget.admit(Kind::Request, b).is_ok(), "a place came free");
        assert_eq!(budget.open(Kind::View), 1);
    }

    #[test]
    fn ipv6_hosts_are_counted_by_their_64() {
        let same = ["2001:db8::1", "2001:db8::ffff:1", "2001:db8:0:0:1::"];
        let keys: Vec<u128> = same
            .iter()
            .map(|a| address_key(a.parse().unwrap()))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
        assert_ne!(
            address_key("2001:db8:0:1::1".parse().unwrap()),
            keys[0],
            "another /64"
        );
        assert_eq!(
            address_key("::ffff:127.0.0.1".parse().unwrap()),
            address_key("127.0.0.1".parse().unwrap())
        );
    }
}
