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
//! get `A / 4` (at least 16, at most 4,096) and views the rest (at most
//! 16,384); one address
//! (an IPv4 address, or an IPv6 /64) may hold a quarter of each (at least 8).
//! With `ulimit -n 1024`: 192 requests (48 per address) and 576 views (144
//! per address).
//!
//! A full request budget makes room, in this order:
//! 1. the connection that has waited longest on its client (idle between
//!    requests, or sending a head or body slowly) is closed for the
//!    newcomer if it has waited at least [`EVICT_AFTER`] (from the same
//!    address when it is that address's share that is full);
//! 2. else, by fairness: the address holding the most request connections,
//!    if it holds at least two more than the newcomer's (so two addresses
//!    never take places back and forth), loses its longest-waiting
//!    connection, however briefly that one has waited (busy clients, that
//!    send a request every few hundred milliseconds, never wait a second);
//!    a connection whose request is being answered is never closed (one
//!    queued for a handler thread still waits: nothing of it has run).
//!
//! Only when neither finds one is the newcomer refused (503). So a few
//! addresses holding every connection, idle, slow or busy, cannot lock
//! anyone out: each new visitor takes a place from the longest idle
//! connection, or from the address that holds the most.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Descriptors kept free for everything but connections.
pub const DESCRIPTORS_RESERVED: u64 = 256;

/// The most views by default, whatever the descriptor limit: a view whose
/// reader stalls holds up to one batch of events (a reset is the whole
/// page, tens of KB) until its write times out, so this bounds that memory.
pub const VIEWS_MAX: usize = 16_384;

/// How many connections of each kind may be open at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Connections that are not (yet) views.
    pub requests: usize,
    /// Of those, from one address.
    pub requests_per_address: usize,
    /// Open views (event streams).
    pub views: usize,
    /// Of those, from one address.
    pub views_per_address: usize,
    /// Addresses held to no per-address share, only to the totals: the
    /// balancers in front (`--trusted-proxy`), whose connections carry
    /// every browser's.
    pub trusted: Vec<IpAddr>,
    /// A view that shows no sign of life this long is closed (a WebSocket
    /// answers the server's pings, sent every third of it; see
    /// websocket.rs); one that showed none for half of it may be displaced
    /// by a newcomer when views are full (`--view-timeout`).
    pub view_timeout: Duration,
}

/// The default of [`Capacity::view_timeout`].
pub const VIEW_TIMEOUT: Duration = Duration::from_secs(45);

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
        let views = max_views.unwrap_or(available.saturating_sub(requests).clamp(16, VIEWS_MAX));
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
                trusted: Vec::new(),
                view_timeout: VIEW_TIMEOUT,
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

/// An address as budgets and rate limits count it: IPv4 addresses one by
/// one, IPv6 by /64 (one host's usual allocation, so that a client cannot
/// escape by rotating addresses within it), IPv4-mapped IPv6 as IPv4.
pub(crate) fn address_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u32::from(v4) as u128,
            None => u128::from(v6) & !((1u128 << 64) - 1),
        },
    }
}

/// A connection waits on its client this long before a newcomer may take
/// its place.
pub const EVICT_AFTER: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Counts {
    requests: usize,
    views: usize,
    /// Request connections closed for a newcomer that have not gone yet.
    evicting: usize,
    /// Views displaced by a newcomer that have not gone yet.
    displacing: usize,
    /// Per address: requests, views, evicting, displacing.
    by_address: HashMap<u128, [usize; 4]>,
    /// What each request connection is doing, by slot id.
    activity: HashMap<u64, Arc<Activity>>,
    /// When each view last showed a sign of life, by slot id.
    alive: HashMap<u64, Arc<Activity>>,
    next_id: u64,
}

/// What a request connection is doing: working (its request is being
/// answered), waiting on its client since some time, or closed for a
/// newcomer. For a view: when it last showed a sign of life, or displaced.
pub struct Activity {
    /// `WORKING`, `EVICTED`, or 1 + the milliseconds since [`epoch`] when
    /// it began waiting on its client (a view: when it last showed life).
    state: AtomicU64,
    evicted: Notify,
    key: u128,
}

const WORKING: u64 = 0;
const EVICTED: u64 = u64::MAX;

/// The time `Activity` counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    1 + epoch().elapsed().as_millis() as u64
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
    /// The connection's activity and id.
    activity: Option<(u64, Arc<Activity>)>,
}

impl Slot {
    /// The connection now waits on its client (from now, unless it already
    /// did): a newcomer may take its place after [`EVICT_AFTER`].
    pub fn waiting(&self) {
        if let (Kind::Request, Some((_, a))) = (self.kind, &self.activity) {
            let _ =
                a.state
                    .compare_exchange(WORKING, now_ms(), Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// What the thread that answers the connection's request marks it
    /// working with ([`Ticket::working`]), at the moment the answer starts:
    /// a request queued for a thread or for a place among the writes is
    /// still waiting, so a burst of queued requests cannot make every place
    /// unevictable (a newcomer from another address could only be refused).
    pub fn ticket(&self) -> Ticket {
        match (self.kind, &self.activity) {
            (Kind::Request, Some((_, a))) => Ticket(Some(a.clone())),
            _ => Ticket(None),
        }
    }

    /// The view showed a sign of life now (it answered a ping): it is not
    /// displaced for a while.
    pub fn alive(&self) {
        if let (Kind::View, Some((_, a))) = (self.kind, &self.activity) {
            let mut current = a.state.load(Ordering::Acquire);
            while current != EVICTED {
                match a.state.compare_exchange(
                    current,
                    now_ms(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(now) => current = now,
                }
            }
        }
    }

    /// Whether the connection was closed for a newcomer.
    pub fn is_evicted(&self) -> bool {
        self.activity
            .as_ref()
            .is_some_and(|(_, a)| a.state.load(Ordering::Acquire) == EVICTED)
    }

    /// How long the view has shown no sign of life.
    pub fn silent_for(&self) -> Duration {
        match &self.activity {
            Some((_, a)) => match a.state.load(Ordering::Acquire) {
                EVICTED => Duration::MAX,
                since => Duration::from_millis(now_ms().saturating_sub(since)),
            },
            None => Duration::ZERO,
        }
    }

    /// Resolves when the connection is closed for a newcomer (a view:
    /// displaced by one).
    pub async fn evicted(&self) {
        match &self.activity {
            Some((_, a)) => a.evicted.notified().await,
            None => std::future::pending().await,
        }
    }
}

/// Marks a request connection working from the thread that answers it
/// ([`Slot::ticket`]).
pub struct Ticket(Option<Arc<Activity>>);

impl Ticket {
    /// The connection's request is being answered: it is not closed for a
    /// newcomer until it waits again. `false` when it was already closed for
    /// one (the request must not run: its answer could not be written).
    pub fn working(&self) -> bool {
        let Some(a) = &self.0 else {
            return true;
        };
        let mut current = a.state.load(Ordering::Acquire);
        loop {
            if current == EVICTED {
                return false;
            }
            match a
                .state
                .compare_exchange(current, WORKING, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }
}

impl Budget {
    /// An empty budget.
    pub fn new(capacity: Capacity) -> Arc<Budget> {
        Arc::new(Budget {
            capacity,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Takes a place for a connection of `kind` from `ip`, closing the
    /// longest-waiting request connection when the request budget is full;
    /// `Err` says which limit is full, for the 503.
    pub fn admit(self: &Arc<Self>, kind: Kind, ip: IpAddr) -> Result<Slot, &'static str> {
        let key = address_key(ip);
        let shares = !self.capacity.trusted.iter().any(|&t| address_key(t) == key);
        let mut guard = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let counts = &mut *guard;
        let mine = counts.by_address.get(&key).copied().unwrap_or_default();
        match kind {
            Kind::Request => {
                let total_full = counts.requests - counts.evicting >= self.capacity.requests;
                let mine_full = shares && mine[0] - mine[2] >= self.capacity.requests_per_address;
                if total_full || mine_full {
                    let evicted = evict_longest_waiting(&counts.activity, mine_full.then_some(key))
                        .or_else(|| match mine_full {
                            false => evict_for_fairness(counts, key),
                            true => None,
                        })
                        .ok_or(if mine_full {
                            "too many open connections from your address"
                        } else {
                            "too many open connections"
                        })?;
                    counts.evicting += 1;
                    counts.by_address.entry(evicted).or_default()[2] += 1;
                }
                counts.requests += 1;
                counts.by_address.entry(key).or_default()[0] += 1;
            }
            Kind::View => {
                let total_full = counts.views - counts.displacing >= self.capacity.views;
                let mine_full = shares && mine[1] - mine[3] >= self.capacity.views_per_address;
                if total_full || mine_full {
                    let stalled = self.capacity.view_timeout / 2;
                    let displaced =
                        displace_stalled(counts, key, mine_full, stalled).ok_or(if mine_full {
                            "too many open views from your address"
                        } else {
                            "too many open views"
                        })?;
                    counts.displacing += 1;
                    counts.by_address.entry(displaced).or_default()[3] += 1;
                }
                counts.views += 1;
                counts.by_address.entry(key).or_default()[1] += 1;
            }
        }
        // a request waits on its client for a head from now, even before
        // its task first runs (a burst can keep the workers from it for a
        // while); a view is alive from now
        let id = counts.next_id;
        counts.next_id += 1;
        let activity = Arc::new(Activity {
            state: AtomicU64::new(now_ms()),
            evicted: Notify::new(),
            key,
        });
        match kind {
            Kind::Request => counts.activity.insert(id, activity.clone()),
            Kind::View => counts.alive.insert(id, activity.clone()),
        };
        Ok(Slot {
            budget: self.clone(),
            key,
            kind,
            activity: Some((id, activity)),
        })
    }

    /// How long a view may show no sign of life ([`Capacity::view_timeout`]).
    pub fn view_timeout(&self) -> Duration {
        self.capacity.view_timeout
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

/// Closes the request connection that has waited longest on its client (at
/// least [`EVICT_AFTER`]), of address `only` if given; returns its address.
fn evict_longest_waiting(
    activity: &HashMap<u64, Arc<Activity>>,
    only: Option<u128>,
) -> Option<u128> {
    close_longest_waiting(activity, only, EVICT_AFTER)
}

/// Closes, for a newcomer from `newcomer`, the longest-waiting request
/// connection of the address holding the most (net of those already
/// closing), if it holds at least two more than the newcomer's; returns
/// that address.
fn evict_for_fairness(counts: &Counts, newcomer: u128) -> Option<u128> {
    from_the_fullest(counts, newcomer, Kind::Request, Duration::ZERO)
}

/// Displaces, for a newcomer's view from `newcomer`, the view that has shown
/// no sign of life longest (at least `stalled`): of the newcomer's own
/// address when its share is full (`own`), else of the address holding the
/// most views if it holds at least two more than the newcomer's; returns
/// that address.
fn displace_stalled(counts: &Counts, newcomer: u128, own: bool, stalled: Duration) -> Option<u128> {
    if own {
        return close_longest_waiting(&counts.alive, Some(newcomer), stalled);
    }
    from_the_fullest(counts, newcomer, Kind::View, stalled)
}

/// Closes the longest-waiting connection of `kind` (at least `least`) of
/// the address holding the most of that kind, net of those already
/// leaving, if it holds at least two more than `newcomer` (so that two
/// addresses never take places back and forth); the next fullest when that
/// one has none to give (all its requests are being answered). Returns
/// that address.
fn from_the_fullest(counts: &Counts, newcomer: u128, kind: Kind, least: Duration) -> Option<u128> {
    let (held, leaving, activity) = match kind {
        Kind::Request => (0, 2, &counts.activity),
        Kind::View => (1, 3, &counts.alive),
    };
    let net = |mine: &[usize; 4]| mine[held] - mine[leaving];
    let mine = counts.by_address.get(&newcomer).map_or(0, net);
    let mut holders: Vec<(usize, u128)> = counts
        .by_address
        .iter()
        .map(|(&key, counts)| (net(counts), key))
        .filter(|&(n, _)| n > mine + 1)
        .collect();
    holders.sort_unstable_by(|a, b| b.cmp(a));
    holders
        .into_iter()
        .find_map(|(_, key)| close_longest_waiting(activity, Some(key), least))
}

/// Closes the connection that has waited longest (a view: shown no sign of
/// life longest), at least `least`, of address `only` if given; returns its
/// address.
fn close_longest_waiting(
    activity: &HashMap<u64, Arc<Activity>>,
    only: Option<u128>,
    least: Duration,
) -> Option<u128> {
    let now = now_ms();
    let waited = |since: u64| {
        since != WORKING
            && since != EVICTED
            && now.saturating_sub(since) >= least.as_millis() as u64
    };
    let (since, oldest) = activity
        .values()
        .filter(|a| only.is_none_or(|key| a.key == key))
        .map(|a| (a.state.load(Ordering::Acquire), a))
        .filter(|&(since, _)| waited(since))
        .min_by_key(|&(since, _)| since)?;
    // It may have started working meanwhile: then it is not closed.
    oldest
        .state
        .compare_exchange(since, EVICTED, Ordering::AcqRel, Ordering::Acquire)
        .ok()?;
    oldest.evicted.notify_one();
    Some(oldest.key)
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.budget.counts.lock().unwrap_or_else(|e| e.into_inner());
        let evicted = match &self.activity {
            Some((id, a)) => {
                match self.kind {
                    Kind::Request => counts.activity.remove(id),
                    Kind::View => counts.alive.remove(id),
                };
                a.state.load(Ordering::Acquire) == EVICTED
            }
            None => false,
        };
        match self.kind {
            Kind::Request => counts.requests -= 1,
            Kind::View => counts.views -= 1,
        }
        match (self.kind, evicted) {
            (Kind::Request, true) => counts.evicting -= 1,
            (Kind::View, true) => counts.displacing -= 1,
            (_, false) => {}
        }
        if let Some(mine) = counts.by_address.get_mut(&self.key) {
            let (held, leaving) = match self.kind {
                Kind::Request => (0, 2),
                Kind::View => (1, 3),
            };
            mine[held] -= 1;
            if evicted {
                mine[leaving] -= 1;
            }
            if *mine == [0; 4] {
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
            (1 << 20, None, None, [4096, 1024, 16_384, 4096], false),
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
            trusted: Vec::new(),
            view_timeout: VIEW_TIMEOUT,
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
    fn a_trusted_proxy_is_held_to_the_totals_only() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let budget = Budget::new(Capacity {
            requests: 4,
            requests_per_address: 1,
            views: 3,
            views_per_address: 1,
            // as IPv4-mapped IPv6, the same address
            trusted: vec!["::ffff:10.0.0.9".parse().unwrap()],
            view_timeout: VIEW_TIMEOUT,
        });
        let held: Vec<Slot> = (0..3)
            .map(|_| budget.admit(Kind::View, proxy).unwrap())
            .collect();
        assert_eq!(
            budget.admit(Kind::View, proxy).err(),
            Some("too many open views")
        );
        let _r: Vec<Slot> = (0..4)
            .map(|_| budget.admit(Kind::Request, proxy).unwrap())
            .collect();
        drop(held);
        let other: IpAddr = "10.0.0.8".parse().unwrap();
        let _o = budget.admit(Kind::View, other).unwrap();
        assert_eq!(
            budget.admit(Kind::View, other).err(),
            Some("too many open views from your address")
        );
    }

    #[test]
    fn a_full_budget_closes_the_longest_waiting_or_one_of_the_address_holding_most() {
        let budget = Budget::new(Capacity {
            requests: 3,
            requests_per_address: 2,
            views: 1,
            views_per_address: 1,
            trusted: Vec::new(),
            view_timeout: VIEW_TIMEOUT,
        });
        let [a, b, c, d, e]: [IpAddr; 5] = [2, 3, 4, 5, 6].map(|n| IpAddr::from([127, 0, 0, n]));
        // A connection waits on its client from its admission (its task
        // may not have run yet: nothing of it has).
        let a1 = budget.admit(Kind::Request, a).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20)); // (times are in ms)
        let a2 = budget.admit(Kind::Request, a).unwrap();
        let b1 = budget.admit(Kind::Request, b).unwrap();
        // Nobody has waited a second, but `a` holds two more than `c`: its
        // longest waiting makes room at once, and cannot start working.
        let c1 = budget.admit(Kind::Request, c).unwrap();
        assert!(!a1.ticket().working(), "a1 was closed for c1");
        assert!(a2.ticket().working(), "a2 was not");
        assert!(c1.ticket().working(), "c1's answer started");
        std::thread::sleep(std::time::Duration::from_millis(20)); // (times are in ms)
        a2.waiting();
        // Now each holds one: nobody holds two more than `d`, nobody has
        // waited a second: refused.
        assert_eq!(
            budget.admit(Kind::Request, d).err(),
            Some("too many open connections")
        );
        std::thread::sleep(EVICT_AFTER);
        // The longest waiting (b1: c1 is working) makes room for `d`.
        let d1 = budget.admit(Kind::Request, d).unwrap();
        assert!(!b1.ticket().working(), "b1 was closed for d1");
        // A connection being answered is never closed: with every other
        // one working, the next is refused.
        assert!(a2.ticket().working() && c1.ticket().working() && d1.ticket().working());
        assert_eq!(
            budget.admit(Kind::Request, e).err(),
            Some("too many open connections")
        );
        drop((a1, b1));
        assert_eq!(budget.open(Kind::Request), 3, "a2, c1, d1");
        // An address at its share makes room from its own, after a second.
        let budget = Budget::new(Capacity {
            requests: 8,
            requests_per_address: 2,
            views: 1,
            views_per_address: 1,
            trusted: Vec::new(),
            view_timeout: VIEW_TIMEOUT,
        });
        let a1 = budget.admit(Kind::Request, a).unwrap();
        let a2 = budget.admit(Kind::Request, a).unwrap();
        assert!(a2.ticket().working(), "a2's answer started");
        assert_eq!(
            budget.admit(Kind::Request, a).err(),
            Some("too many open connections from your address")
        );
        std::thread::sleep(EVICT_AFTER);
        let a3 = budget.admit(Kind::Request, a).unwrap();
        assert!(!a1.ticket().working() && a2.ticket().working());
        drop((a1, a2, a3, c1, d1));
        assert_eq!(budget.open(Kind::Request), 0);
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
