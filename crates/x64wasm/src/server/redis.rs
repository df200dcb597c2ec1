//! `--redis URL`: the shared state and its version live in Redis, so that
//! several instances of an app serve one state (README "Many instances").
//!
//! Keys, for the app id `ID` (`App::id`): `x64wasm:ID:state` (the state's
//! bytes), `x64wasm:ID:version` (decimal), `x64wasm:ID:meta` (what wrote
//! them: `x64wasm-state 1 ID SIZE`), and the pub/sub channel
//! `x64wasm:ID:changed`, which carries each new version and state
//! (`VERSION STATE`: the decimal version, a space, the state's bytes), so
//! that instances take it without a read of their own.
//!
//! A click runs the native callback on the state at the version the
//! instance holds and commits it with [`COMMIT`], a Lua script that writes
//! only if that version is still current (an optimistic compare-and-set);
//! on a conflict the instance takes the newer state and runs the click
//! again, at most [`ATTEMPTS`] times (a click that lost twice reserves the
//! next commit, so an instance that keeps winning cannot starve another). Versions so form one total order
//! across instances, and a click is acknowledged only after Redis
//! acknowledged its commit. A subscriber thread per instance applies
//! every version another instance committed, as the channel carries it.
//!
//! Versions never go backwards. When Redis lost what it acknowledged (it
//! restarted without persistence, was flushed, or lost its last writes),
//! every instance that has seen a newer version writes it back with
//! [`RESTORE`] (the highest wins), so no acknowledged click is lost that
//! any instance still holds; a starting instance does not seed a fresh
//! state while other instances follow the channel, but asks them to
//! restore theirs first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long a Redis command or connection attempt may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a click runs before a conflict is a 503.
pub const ATTEMPTS: usize = 8;

/// How long a starting instance waits for running ones to restore a state
/// Redis lost before it seeds the initial state itself.
const RESTORE_WAIT: Duration = Duration::from_secs(3);

/// The compare-and-set: KEYS state, version, channel, reservation; ARGV
/// the version the click ran on, the new state, the new version (computed
/// by the caller: Lua's numbers are doubles, exact only to 2^53 and printed
/// in exponent form from 10^14), the click's token, and `1` if a conflict
/// should reserve the next commit for it. Publishes `VERSION STATE`.
/// Returns `{1, new version, ""}`; on a conflict `{0, current version,
/// current state}` (empty when missing); `{2, "", ""}` while another
/// click holds the reservation.
///
/// The reservation is what keeps a click from starving: the instance that
/// just committed runs its next click on the state it already has, and so
/// wins every race against one that must first hear of that state. A click
/// that lost twice reserves the next commit (for at most
/// [`RESERVATION_MS`]); other clicks wait for it.
const COMMIT: &str = r#"
local holder = redis.call('GET', KEYS[4])
if holder and holder ~= ARGV[4] then
  return {2, '', ''}
end
local current = redis.call('GET', KEYS[2])
if current ~= ARGV[1] then
  if ARGV[5] == '1' then
    redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[6])
  end
  return {0, current or '', redis.call('GET', KEYS[1]) or ''}
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[3], ARGV[3] .. ' ' .. ARGV[2])
if holder then
  redis.call('DEL', KEYS[4])
end
return {1, ARGV[3], ''}
"#;

/// How long a reservation holds, in milliseconds: a click that reserved
/// and then died holds up the others no longer than this.
pub const RESERVATION_MS: u64 = 100;

/// Writes back a state Redis lost: KEYS state, version, meta, channel;
/// ARGV the version, the state and the meta this instance holds. Writes
/// only when the meta is this app's (or missing) and Redis holds no state
/// or an older version (decimal strings without leading zeros compare by
/// length, then bytes). Returns 1 when it wrote.
const RESTORE: &str = r#"
local meta = redis.call('GET', KEYS[3])
if meta and meta ~= ARGV[3] then
  return 0
end
local current = redis.call('GET', KEYS[2])
if current and redis.call('EXISTS', KEYS[1]) == 1 then
  if #current > #ARGV[1] or (#current == #ARGV[1] and current >= ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('PUBLISH', KEYS[4], ARGV[1] .. ' ' .. ARGV[2])
return 1
"#;

/// `url` as messages show it: without a user name or password (error
/// answers reach browsers, and logs are read by others).
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let hidden = if rest.contains('@') { "…@" } else { "" };
            format!("{scheme}://{hidden}{host}")
        }
        None => url.to_string(),
    }
}

/// Why a commit did not happen.
pub enum Refused {
    /// Another instance committed first: its version and state.
    Conflict(u64, Vec<u8>),
    /// Another click reserved the next commit: try again shortly.
    Reserved,
    /// Redis could not be reached or answered an error.
    Down(String),
}

/// The app's state in Redis.
pub struct RedisStore {
    /// The URL as messages show it ([`redacted`]).
    url: String,
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
    state_key: String,
    version_key: String,
    meta_key: String,
    /// Holds the token of the click the next commit is reserved for.
    reservation_key: String,
    /// This instance among all (process id and start time), for tokens.
    instance: String,
    /// Clicks this instance committed or tried to, for tokens.
    clicks: std::sync::atomic::AtomicU64,
    /// The channel new versions are published on.
    pub channel: String,
    meta: String,
    size: usize,
    commit: redis::Script,
    restore: redis::Script,
    /// True while Redis cannot be reached or holds less than this instance
    /// has seen: clicks get 503 at once, views are told to reconnect, and
    /// new streams get 503, until the subscriber finds it usable again.
    pub down: AtomicBool,
    /// Why it is down (the 503's message).
    reason: Mutex<String>,
}

impl RedisStore {
    /// Connects to `url` for the app `id` with states of `size` bytes;
    /// when Redis holds no state for it yet, stores `initial` at version
    /// 0. Returns the store and the version and state Redis holds. A state
    /// written by another app, or damaged, is an error naming the key.
    pub fn open(
        url: &str,
        id: &str,
        size: usize,
        initial: &[u8],
    ) -> Result<(RedisStore, u64, Vec<u8>), String> {
        let shown = redacted(url);
        let client = redis::Client::open(url).map_err(|e| format!("--redis {shown}: {e}"))?;
        let prefix = format!("x64wasm:{id}");
        let store = RedisStore {
            url: shown.clone(),
            client,
            connection: Mutex::new(None),
            state_key: format!("{prefix}:state"),
            version_key: format!("{prefix}:version"),
            meta_key: format!("{prefix}:meta"),
            reservation_key: format!("{prefix}:reserved"),
            instance: format!(
                "{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
            clicks: std::sync::atomic::AtomicU64::new(0),
            channel: format!("{prefix}:changed"),
            meta: format!("x64wasm-state 1 {id} {size}"),
            size,
            commit: redis::Script::new(COMMIT),
            restore: redis::Script::new(RESTORE),
            down: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
        };
        store
            .await_restore()
            .map_err(|e| format!("--redis {shown}: {e}"))?;
        let (version, state) = store
            .with(|c| {
                // first start: meta, state and version, each only if absent
                let _: () = redis::pipe()
                    .cmd("SET")
                    .arg(&store.meta_key)
                    .arg(&store.meta)
                    .arg("NX")
                    .ignore()
                    .cmd("SET")
                    .arg(&store.state_key)
                    .arg(initial)
                    .arg("NX")
                    .ignore()
                    .cmd("SET")
                    .arg(&store.version_key)
                    .arg("0")
                    .arg("NX")
                    .ignore()
                    .query(c)?;
                let meta: Option<String> = redis::cmd("GET").arg(&store.meta_key).query(c)?;
                Ok((meta, store.read(c)?))
            })
            .map_err(|e| format!("--redis {shown}: {e}"))
            .and_then(|(meta, read)| {
                if meta.as_deref() != Some(store.meta.as_str()) {
                    return Err(format!(
                        "the state in Redis at {} was written by another app or layout \
                         ({}), not by this one ({}): use another App::id or clear the keys",
                        store.meta_key,
                        meta.as_deref().unwrap_or("no meta"),
                        store.meta
                    ));
                }
                read.map_err(|why| format!("the state in Redis at {}: {why}", store.state_key))
            })?;
        Ok((store, version, state))
    }

    /// The version and state Redis holds, or why they are unusable.
    fn read(
        &self,
        c: &mut redis::Connection,
    ) -> redis::RedisResult<Result<(u64, Vec<u8>), String>> {
        let (version, state): (Option<String>, Option<Vec<u8>>) = redis::cmd("MGET")
            .arg(&self.version_key)
            .arg(&self.state_key)
            .query(c)?;
        Ok(self.check(version, state))
    }

    fn check(
        &self,
        version: Option<String>,
        state: Option<Vec<u8>>,
    ) -> Result<(u64, Vec<u8>), String> {
        let version = version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("the version is missing or damaged ({version:?})"))?;
        match state {
            Some(state) if state.len() == self.size => Ok((version, state)),
            Some(state) => Err(format!(
                "the state is {} bytes, not {} (damaged)",
                state.len(),
                self.size
            )),
            None => Err("the state is missing".into()),
        }
    }

    /// When Redis holds no state for this app but other instances follow
    /// its channel, Redis lost a running state: asks them (any message
    /// makes them read) to write theirs back, and waits up to
    /// [`RESTORE_WAIT`] for it, so that this instance does not seed the
    /// initial state over theirs.
    fn await_restore(&self) -> redis::RedisResult<()> {
        let deadline = std::time::Instant::now() + RESTORE_WAIT;
        let mut asked = false;
        loop {
            let (exists, followers): (bool, (String, u64)) = self.with(|c| {
                redis::pipe()
                    .cmd("EXISTS")
                    .arg(&self.version_key)
                    .cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(&self.channel)
                    .query(c)
            })?;
            if exists || followers.1 == 0 || std::time::Instant::now() > deadline {
                if !exists && followers.1 > 0 {
                    eprintln!(
                        "x64wasm: Redis holds no state at {} although {} instance(s) follow it, \
                         and none wrote theirs back within {} s: starting from the initial state",
                        self.version_key,
                        followers.1,
                        RESTORE_WAIT.as_secs()
                    );
                }
                return Ok(());
            }
            if !asked {
                let _: () = self.with(|c| {
                    redis::cmd("PUBLISH")
                        .arg(&self.channel)
                        .arg("restore")
                        .query(c)
                })?;
                asked = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A token naming one click among every instance's (for
    /// [`RedisStore::commit`]'s reservation).
    pub fn token(&self) -> String {
        let n = self.clicks.fetch_add(1, Ordering::Relaxed);
        format!("{}:{n}", self.instance)
    }

    /// Commits `state`, made from the state at `base`, as version
    /// `base + 1`, if `base` is still the current version; `token` names
    /// the click, and `reserve` asks a conflict to reserve the next commit
    /// for it ([`COMMIT`]). Marks the store down when Redis cannot take it
    /// (see [`RedisStore::down`]).
    pub fn commit(
        &self,
        base: u64,
        state: &[u8],
        token: &str,
        reserve: bool,
    ) -> Result<u64, Refused> {
        let next = base + 1;
        let answer: Result<(i64, String, Vec<u8>), _> = self.with(|c| {
            self.commit
                .key(&self.state_key)
                .key(&self.version_key)
                .key(&self.channel)
                .key(&self.reservation_key)
                .arg(base.to_string())
                .arg(state)
                .arg(next.to_string())
                .arg(token)
                .arg(if reserve { "1" } else { "0" })
                .arg(RESERVATION_MS)
                .invoke(c)
        });
        const NOTHING: &str = "nothing changed, try again when it is back";
        let (reason, consequence) = match answer {
            Ok((1, _, _)) => return Ok(next),
            Ok((2, _, _)) => return Err(Refused::Reserved),
            Ok((_, version, _)) if version.is_empty() => (
                format!(
                    "Redis at {} holds no state for this app (it restarted without \
                     persistence, or was flushed); the instances write theirs back",
                    self.url
                ),
                NOTHING,
            ),
            Ok((_, version, current)) => match self.check(Some(version), Some(current)) {
                Ok((version, current)) if version > base => {
                    return Err(Refused::Conflict(version, current))
                }
                Ok((version, _)) => (
                    format!(
                        "Redis at {} holds version {version}, older than version {base} \
                         this instance has seen (it lost writes); the instances write \
                         theirs back",
                        self.url
                    ),
                    NOTHING,
                ),
                Err(why) => (
                    format!("the state in Redis at {}: {why}", self.state_key),
                    NOTHING,
                ),
            },
            Err(e) if e.is_connection_refusal() => (
                format!("Redis at {} is unreachable ({e})", self.url),
                NOTHING,
            ),
            Err(e) => (
                format!("Redis at {} did not answer ({e})", self.url),
                "this click may or may not be in the state: the views show it once Redis \
                 is back",
            ),
        };
        self.mark_down(&reason);
        Err(Refused::Down(format!("{reason}; {consequence}")))
    }

    /// A message's `VERSION STATE`, if it is one of this app's size.
    fn parse(&self, payload: &[u8]) -> Option<(u64, Vec<u8>)> {
        let space = payload.iter().position(|&b| b == b' ')?;
        let version = std::str::from_utf8(&payload[..space]).ok()?.parse().ok()?;
        let state = &payload[space + 1..];
        (state.len() == self.size).then(|| (version, state.to_vec()))
    }

    /// Why clicks are refused now, if they are (a click refused for it
    /// changed nothing).
    pub fn down_reason(&self) -> Option<String> {
        self.down.load(Ordering::SeqCst).then(|| {
            self.reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }

    /// Marks the store down for `why`, logging it when it was up.
    fn mark_down(&self, why: &str) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = why.to_string();
        if !self.down.swap(true, Ordering::SeqCst) {
            eprintln!("x64wasm: {why}; clicks get 503 until Redis is usable again");
        }
    }

    /// Brings this instance and Redis level: hands Redis's version and
    /// state to `apply`, or, when Redis holds no state for this app or an
    /// older version than this instance holds (`held`), writes this
    /// instance's back first ([`RESTORE`]; another instance may have
    /// written a newer one, which is then what `apply` gets).
    fn catch_up(
        &self,
        held: &dyn Fn() -> (u64, Vec<u8>),
        apply: &dyn Fn(u64, Vec<u8>),
    ) -> Result<(), String> {
        let unreachable =
            |e: redis::RedisError| format!("Redis at {} is unreachable: {e}", self.url);
        let (version, state): (Option<String>, Option<Vec<u8>>) = self
            .with(|c| {
                redis::cmd("MGET")
                    .arg(&self.version_key)
                    .arg(&self.state_key)
                    .query(c)
            })
            .map_err(unreachable)?;
        let (mine, bytes) = held();
        let lost = match (&version, &state) {
            (None, _) | (_, None) => Some("holds no state for this app".to_string()),
            (Some(v), Some(_)) => match v.parse::<u64>() {
                Ok(v) if v < mine => Some(format!("holds version {v}, older than {mine}")),
                _ => None,
            },
        };
        let (version, state) = match lost {
            None => self.check(version, state),
            Some(what) => {
                let wrote: i64 = self
                    .with(|c| {
                        self.restore
                            .key(&self.state_key)
                            .key(&self.version_key)
                            .key(&self.meta_key)
                            .key(&self.channel)
                            .arg(mine.to_string())
                            .arg(&bytes)
                            .arg(&self.meta)
                            .invoke(c)
                    })
                    .map_err(unreachable)?;
                if wrote == 1 {
                    eprintln!(
                        "x64wasm: Redis at {} {what} (it lost writes: restarted without \
                         persistence, flushed, or rolled back); wrote back version {mine} \
                         from this instance",
                        self.url
                    );
                }
                self.with(|c| self.read(c)).map_err(unreachable)?
            }
        }
        .map_err(|why| format!("the state in Redis at {}: {why}", self.state_key))?;
        apply(version, state);
        Ok(())
    }

    /// Runs `f` on the command connection, connecting first if needed; a
    /// failed connection is dropped so the next call connects again.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let mut slot = self.lock();
        if slot.is_none() {
            let c = self.client.get_connection_with_timeout(TIMEOUT)?;
            c.set_read_timeout(Some(TIMEOUT))?;
            c.set_write_timeout(Some(TIMEOUT))?;
            *slot = Some(c);
        }
        let result = f(slot.as_mut().expect("connected"));
        if let Err(e) = &result {
            if e.is_io_error()
                || e.is_connection_dropped()
                || e.is_timeout()
                || e.is_connection_refusal()
            {
                *slot = None;
            }
        }
        result
    }

    fn lock(&self) -> MutexGuard<'_, Option<redis::Connection>> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the channel for ever: hands each published version and state
    /// to `apply`; after each (re)subscription, any other message, and each
    /// second while the store is down, brings this instance and Redis level ([`RedisStore::catch_up`], with `held` the
    /// version and state this instance holds and `apply` taking a newer
    /// one); marks the store down (and calls `changed`) while Redis cannot
    /// be reached or its state is unusable, and up again when it is.
    pub fn follow(
        &self,
        held: impl Fn() -> (u64, Vec<u8>),
        apply: impl Fn(u64, Vec<u8>),
        changed: impl Fn(),
    ) {
        loop {
            let mut failed = None;
            let subscribed = self
                .client
                .get_connection_with_timeout(TIMEOUT)
                .and_then(|mut c| {
                    c.set_read_timeout(Some(Duration::from_secs(1)))?;
                    let mut pubsub = c.as_pubsub();
                    pubsub.subscribe(&self.channel)?;
                    // caught up after subscribing: nothing committed since is missed
                    let mut level = true;
                    loop {
                        if level {
                            if let Err(why) = self.catch_up(&held, &apply) {
                                failed = Some(why);
                                return Ok(());
                            }
                            if self.down.swap(false, Ordering::SeqCst) {
                                eprintln!("x64wasm: Redis at {} is usable again", self.url);
                                changed();
                            }
                        }
                        level = match pubsub.get_message() {
                            // a commit's version and state: taken as they are
                            Ok(message) => match self.parse(message.get_payload_bytes()) {
                                Some((version, state)) => {
                                    apply(version, state);
                                    self.down.load(Ordering::SeqCst)
                                }
                                // anything else (a starting instance asking
                                // for a write-back): read what Redis holds
                                None => true,
                            },
                            // a quiet second: check Redis if a click found it unusable
                            Err(e) if e.is_timeout() => self.down.load(Ordering::SeqCst),
                            Err(e) => return Err(e),
                        };
                    }
                });
            let why = match (failed, subscribed) {
                (Some(why), _) => why,
                (None, Err(e)) => format!("Redis at {} is unreachable: {e}", self.url),
                (None, Ok(())) => format!("Redis at {} is unreachable", self.url),
            };
            if !self.down.load(Ordering::SeqCst) {
                self.mark_down(&why);
                changed();
            } else {
                *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = why;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_shown_without_credentials() {
        // (URL, as shown)
        let cases = [
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
            (
                "redis://:s3cret@127.0.0.1:6379/",
                "redis://…@127.0.0.1:6379/",
            ),
            ("rediss://user:p@ss@host:1/0", "rediss://…@host:1/0"),
        ];
        for (url, shown) in cases {
            assert_eq!(super::redacted(url), shown);
        }
    }
}
