//! `--redis URL`: the shared state and its version live in Redis, so that
//! several instances of an app serve one state (README "Many instances").
//!
//! Keys, for the app id `ID` (`App::id`): `x64wasm:ID:state` (the state's
//! bytes), `x64wasm:ID:version` (decimal), `x64wasm:ID:meta` (what wrote
//! them: `x64wasm-state 1 ID SIZE`), and the pub/sub channel
//! `x64wasm:ID:changed`, which carries each new version.
//!
//! A click runs the native callback on the state at the version the
//! instance holds and commits it with [`COMMIT`], a Lua script that writes
//! only if that version is still current (an optimistic compare-and-set);
//! on a conflict the instance takes the newer state and runs the click
//! again, at most [`ATTEMPTS`] times. Versions so form one total order
//! across instances, and a click is acknowledged only after Redis
//! acknowledged its commit. A subscriber thread per instance applies
//! every version another instance committed, reading the newest state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long a Redis command or connection attempt may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a click runs before a conflict is a 503.
pub const ATTEMPTS: usize = 8;

/// The compare-and-set: KEYS state, version, channel; ARGV the version
/// the click ran on and the new state. Returns `{1, new version, ""}`, or
/// on a conflict `{0, current version, current state}`.
const COMMIT: &str = r#"
local current = redis.call('GET', KEYS[2])
if current ~= ARGV[1] then
  return {0, current or '', redis.call('GET', KEYS[1]) or ''}
end
local next = tostring(tonumber(ARGV[1]) + 1)
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], next)
redis.call('PUBLISH', KEYS[3], next)
return {1, next, ''}
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
    /// The channel new versions are published on.
    pub channel: String,
    meta: String,
    size: usize,
    script: redis::Script,
    /// True while the subscriber cannot reach Redis (views are told to
    /// reconnect, and new streams get 503).
    pub down: AtomicBool,
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
            channel: format!("{prefix}:changed"),
            meta: format!("x64wasm-state 1 {id} {size}"),
            size,
            script: redis::Script::new(COMMIT),
            down: AtomicBool::new(false),
        };
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

    /// The newest version and state (the subscriber's catch-up).
    pub fn latest(&self) -> Result<(u64, Vec<u8>), String> {
        self.with(|c| self.read(c))
            .map_err(|e| format!("Redis at {}: {e}", self.url))?
    }

    /// Commits `state`, made from the state at `base`, as version
    /// `base + 1`, if `base` is still the current version.
    pub fn commit(&self, base: u64, state: &[u8]) -> Result<u64, Refused> {
        let answer: Result<(i64, String, Vec<u8>), _> = self.with(|c| {
            self.script
                .key(&self.state_key)
                .key(&self.version_key)
                .key(&self.channel)
                .arg(base.to_string())
                .arg(state)
                .invoke(c)
        });
        match answer {
            Ok((1, version, _)) => version
                .parse()
                .map_err(|_| Refused::Down(format!("Redis answered version {version:?}"))),
            Ok((_, version, current)) => match self.check(Some(version), Some(current)) {
                Ok((version, current)) => Err(Refused::Conflict(version, current)),
                Err(why) => Err(Refused::Down(format!(
                    "the state in Redis at {}: {why}",
                    self.state_key
                ))),
            },
            Err(e) => Err(Refused::Down(format!(
                "Redis at {} is unreachable: {e}",
                self.url
            ))),
        }
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

    /// Follows the channel for ever: after each (re)subscription and each
    /// message, hands the newest version and state to `apply`; marks the
    /// store down (and calls `changed`) while Redis cannot be reached, and
    /// up again when it can.
    pub fn follow(&self, apply: impl Fn(u64, Vec<u8>), changed: impl Fn()) {
        loop {
            let subscribed = self
                .client
                .get_connection_with_timeout(TIMEOUT)
                .and_then(|mut c| {
                    c.set_read_timeout(Some(Duration::from_secs(1)))?;
                    let mut pubsub = c.as_pubsub();
                    pubsub.subscribe(&self.channel)?;
                    // caught up after subscribing: nothing committed since is missed
                    match self.latest() {
                        Ok((version, state)) => apply(version, state),
                        Err(why) => {
                            eprintln!("x64wasm: {why}");
                            return Ok(());
                        }
                    }
                    if self.down.swap(false, Ordering::SeqCst) {
                        eprintln!("x64wasm: Redis at {} is reachable again", self.url);
                        changed();
                    }
                    loop {
                        match pubsub.get_message() {
                            Ok(_) => match self.latest() {
                                Ok((version, state)) => apply(version, state),
                                Err(why) => {
                                    eprintln!("x64wasm: {why}");
                                    return Ok(());
                                }
                            },
                            Err(e) if e.is_timeout() => continue,
                            Err(e) => return Err(e),
                        }
                    }
                });
            if !self.down.swap(true, Ordering::SeqCst) {
                let why = subscribed
                    .err()
                    .map_or_else(String::new, |e| format!(": {e}"));
                eprintln!(
                    "x64wasm: Redis at {} is unreachable{why}; clicks get 503 until it is back",
                    self.url
                );
                changed();
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
