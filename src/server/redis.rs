//! `--redis URL`: the shared state and its version live in Redis, so that
//! several instances of an app serve one state (docs/redis.md).
//!
//! Keys, for the app id `ID` (`App::id`): `x64wasm:ID:state` (the state's
//! bytes), `x64wasm:ID:version` (decimal digits, no leading zero),
//! `x64wasm:ID:tag` (which history that version belongs to: the token of
//! the click that made it), `x64wasm:ID:history` (the last [`HISTORY`]
//! `VERSION TAG` pairs), `x64wasm:ID:meta` (what wrote them:
//! `x64wasm-state 1 ID SIZE`), `x64wasm:ID:reserved` (see [`COMMIT`]),
//! `x64wasm:ID:clicks` (a hash: the answer to each click id a commit
//! carried) and `x64wasm:ID:click-order` (those ids, newest first: the
//! hash keeps the last [`CLICKS_KEPT`]), and the pub/sub channel
//! `x64wasm:ID:changed`. A message on the channel only
//! wakes the instances: each then reads the keys, so a message, whoever
//! sent it, never puts a state in an instance.
//!
//! A click runs the native callback on the state at the version the
//! instance holds and commits it with [`COMMIT`], a Lua script that writes
//! only if that version is still current (an optimistic compare-and-set);
//! on a conflict the instance takes the newer state and runs the click
//! again, at most [`ATTEMPTS`] times (a click that lost twice reserves the
//! next commit, so an instance that keeps winning cannot starve another).
//! Versions so form one total order across instances, and a click is
//! acknowledged only after Redis acknowledged its commit. A subscriber
//! thread per instance reads and applies every version another instance
//! committed.
//!
//! Versions never go backwards. When Redis lost what it acknowledged (it
//! restarted without persistence, was flushed, or rolled back), every
//! instance that has seen a newer version writes it back with [`RESTORE`]
//! (the highest wins), so no acknowledged click is lost that a running
//! instance still holds; a starting instance first asks the running ones
//! to do so and waits for them, so that it neither seeds the initial state
//! nor starts on an older version while they hold a newer one. The tag
//! tells two states of one version apart: when an instance was away
//! (paused, cut off) while Redis lost data and others went on, its state
//! and Redis's may carry the same version number from two histories. The
//! compare-and-set then fails (its click runs again on Redis's state), the
//! instance takes Redis's state, and says which of its acknowledged
//! versions were lost: Redis is the one history. The same holds when the
//! others went past the away instance's version: it finds that Redis's
//! history lacks its own, and says so.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a Redis command or connection attempt may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a click runs before a conflict is a 503.
pub const ATTEMPTS: usize = 8;

/// Click ids (and their answers) Redis keeps, of all instances' pages: a
/// click sent again within the next this many clicks is answered, not run.
pub const CLICKS_KEPT: usize = 100_000;

/// How long a starting instance waits for running ones to write back what
/// Redis lost: when Redis holds no state while some follow the channel,
/// and when none does (they may be reconnecting to a restarted Redis: they
/// retry every quarter second).
const RESTORE_WAIT: [Duration; 2] = [Duration::from_secs(3), Duration::from_secs(1)];

/// How long a starting instance gives running ones to write back a newer
/// version than Redis holds before it reads.
const LEVEL_WAIT: Duration = Duration::from_millis(300);

/// How many `VERSION TAG` pairs the history keeps (`x64wasm:ID:history`):
/// how far back an instance can tell whether Redis's history holds the
/// version it has seen.
const HISTORY: usize = 64;

/// How long a reservation holds, in milliseconds: a click that reserved
/// and then died holds up the others no longer than this.
pub const RESERVATION_MS: u64 = 100;

/// What every script starts with, in this order (`script`): `keys.lua`
/// names the app's keys (every script is passed all of them, in
/// [`Keys::on`]'s one order), `tag_of.lua` reads a tag the same way
/// everywhere, `write.lua` puts a version in Redis.
const PRELUDE: [&str; 3] = [
    include_str!("redis/keys.lua"),
    include_str!("redis/tag_of.lua"),
    include_str!("redis/write.lua"),
];

/// The compare-and-set (`redis/commit.lua`): ARGV the version the click
/// ran on, the new state, the new version (computed by the caller: Lua's
/// numbers are doubles, exact only to 2^53 and printed in exponent form
/// from 10^14), the click's token (the new tag), `1` if a conflict should
/// reserve the next commit for it, [`RESERVATION_MS`], the state's size,
/// the tag of the version the click ran on, this app's meta, [`HISTORY`],
/// the click's id and answer (or two empty strings) and [`CLICKS_KEPT`].
/// Publishes the new version and adds it to the history (the last
/// [`HISTORY`] `VERSION TAG` pairs, newest first). Returns `{1, new
/// version, "", ""}`; on a conflict `{0, current version, current state,
/// current tag}` (each empty unless of a sane size: a huge value is never
/// sent back); `{2, "", "", ""}` while another click holds the
/// reservation; `{3, "", "", ""}` when the meta is another app's; `{4, "",
/// answer, ""}` when a commit carried the click id before.
///
/// The reservation is what keeps a click from starving: the instance that
/// just committed runs its next click on the state it already has, and so
/// wins every race against one that must first hear of that state. A click
/// that lost twice reserves the next commit (for at most
/// [`RESERVATION_MS`]); other clicks wait for it. A reservation that is
/// not a string expiring within that time is not one of ours, and goes.
const COMMIT: &str = include_str!("redis/commit.lua");

/// What Redis holds (`redis/read.lua`): ARGV the state's size and a
/// `VERSION TAG` to look for in the history. Returns [`ReadAnswer`]'s
/// fields in order: the version only when at most 20 bytes long, the state
/// only when it has the right size, the tag only when it is one commits
/// write, the meta only when at most 256 bytes long (a huge value is never
/// sent back).
const READ: &str = include_str!("redis/read.lua");

/// The first start (`redis/seed.lua`): ARGV the initial state and the
/// meta. Writes them only when neither state nor version exists (a version
/// without a state, or the reverse, is damage to report, not a first
/// start). Returns 1 when it wrote.
const SEED: &str = include_str!("redis/seed.lua");

/// Writes back a state Redis lost (`redis/restore.lua`): ARGV the
/// version, the state, the meta and the tag this instance holds, and
/// [`HISTORY`]. Writes only when the meta is this app's (or missing) and
/// Redis holds no state or an older version (decimal strings without
/// leading zeros compare by length, then bytes). Publishes the version.
/// Returns 1 when it wrote.
const RESTORE: &str = include_str!("redis/restore.lua");

/// `body` as a script: the [`PRELUDE`], then `body`.
fn script(body: &str) -> redis::Script {
    redis::Script::new(&[&PRELUDE[..], &[body]].concat().concat())
}

/// The app's keys and channel, for the app id `ID` (the module's notes say
/// what each holds), in the one order every script is passed them.
struct Keys {
    state: String,
    version: String,
    tag: String,
    meta: String,
    history: String,
    channel: String,
    reservation: String,
    clicks: String,
    click_order: String,
}

impl Keys {
    fn new(id: &str) -> Keys {
        let key = |name: &str| format!("x64wasm:{id}:{name}");
        Keys {
            state: key("state"),
            version: key("version"),
            tag: key("tag"),
            meta: key("meta"),
            history: key("history"),
            channel: key("changed"),
            reservation: key("reserved"),
            clicks: key("clicks"),
            click_order: key("click-order"),
        }
    }

    /// `script` with every key, in the order `redis/keys.lua` names them.
    fn on<'a>(&'a self, script: &'a redis::Script) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        for key in [
            &self.state,
            &self.version,
            &self.tag,
            &self.meta,
            &self.history,
            &self.channel,
            &self.reservation,
            &self.clicks,
            &self.click_order,
        ] {
            invocation.key(key);
        }
        invocation
    }
}

/// What a click whose commit was sent and never answered is told.
const MAYBE: &str =
    "this click may or may not be in the state: the views show it once Redis is back";

/// A version as the keys hold it: decimal digits without a leading zero
/// (the compare-and-set compares the text), below `u64::MAX` (so that it
/// has a next).
fn parse_version(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    let version: u64 = text.parse().ok().filter(|_| canonical)?;
    (version < u64::MAX).then_some(version)
}

/// A click's answer as Redis holds it, if it has the shape
/// `click_answer` writes: a JSON object of a `version` and a `ret`.
fn stored_answer(bytes: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let fields = answer.as_object()?;
    let sane = fields.len() == 2 && fields.get("version")?.is_u64() && fields.contains_key("ret");
    sane.then(|| String::from_utf8_lossy(bytes).into_owned())
}

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

/// A version of the state, as Redis or an instance holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The version.
    pub version: u64,
    /// Which history it belongs to (the token of the click that made it;
    /// empty when Redis has none).
    pub tag: String,
    /// The state's bytes.
    pub state: Vec<u8>,
}

/// Why a commit did not happen.
pub enum Refused {
    /// Another instance committed first (or Redis holds the same version
    /// from another history): what Redis holds.
    Conflict(Versioned),
    /// Another click reserved the next commit: try again shortly.
    Reserved,
    /// Redis could not be reached, answered an error, or holds what
    /// cannot be used: nothing changed.
    Down(String),
    /// The commit was sent and never answered: the click may or may not
    /// be in the state (sent again with its id, it is answered or runs).
    Unknown(String),
    /// A commit carried this click id before (an instance ran it): its
    /// answer, and nothing written.
    Again(String),
}

/// [`READ`]'s answer.
struct ReadAnswer {
    /// The version key's Redis type, and its value (see [`READ`]).
    version_type: String,
    version: Vec<u8>,
    /// The state key's Redis type, its length (-1 when not a string) and
    /// its bytes.
    state_type: String,
    state_length: i64,
    state: Vec<u8>,
    tag: String,
    meta: Vec<u8>,
    /// Whether the history holds the `VERSION TAG` asked for.
    known: bool,
    /// The history's oldest `VERSION TAG`, or empty.
    oldest: String,
}

impl redis::FromRedisValue for ReadAnswer {
    fn from_redis_value(v: redis::Value) -> Result<Self, redis::ParsingError> {
        let (version_type, version, state_type, state_length, state, tag, meta, known, oldest) =
            redis::FromRedisValue::from_redis_value(v)?;
        let known: i64 = known;
        Ok(ReadAnswer {
            version_type,
            version,
            state_type,
            state_length,
            state,
            tag,
            meta,
            known: known == 1,
            oldest,
        })
    }
}

/// Whether Redis's history holds a version this instance has seen.
enum Lineage {
    /// It does: Redis went on from it.
    Holds,
    /// It does not, though it reaches back that far: Redis lost it.
    Lacks,
    /// It reaches back less far, or nothing was asked.
    CannotTell,
}

/// What Redis holds for the app.
enum Held {
    /// A version and a state of the right size.
    State(Versioned),
    /// No version, or no state, or neither (Redis lost them): what is
    /// missing.
    Missing(&'static str),
    /// Something no instance wrote: why it cannot be used.
    Damaged(String),
}

/// The app's state in Redis.
pub struct RedisStore {
    /// The URL as messages show it ([`redacted`]).
    url: String,
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
    keys: Keys,
    /// This instance among all (process id and start time), for tokens.
    instance: String,
    /// Clicks this instance committed or tried to, for tokens.
    clicks: AtomicU64,
    meta: String,
    size: usize,
    /// [`COMMIT`], [`READ`], [`SEED`] and [`RESTORE`], each after the
    /// [`PRELUDE`].
    commit: redis::Script,
    read: redis::Script,
    seed: redis::Script,
    restore: redis::Script,
    /// True while Redis cannot be reached or holds less than this instance
    /// has seen: clicks get 503 at once, views are told to reconnect, and
    /// new streams get 503, until the subscriber finds it usable again.
    pub down: AtomicBool,
    /// Why it is down (the 503's message).
    reason: Mutex<String>,
}

impl RedisStore {
    /// Connects to `url` for the app `id` with states of `size` bytes.
    /// First asks the running instances, if any, to write back a newer
    /// version than Redis holds, and waits for them (see the module's
    /// notes); when Redis then holds no state for the app, stores
    /// `initial` at version 0. Returns the store and the version and state
    /// Redis holds. A state written by another app, or damaged, is an
    /// error naming the key.
    pub fn open(
        url: &str,
        id: &str,
        size: usize,
        initial: &[u8],
    ) -> Result<(RedisStore, Versioned), String> {
        let shown = redacted(url);
        let client = redis::Client::open(url).map_err(|e| format!("--redis {shown}: {e}"))?;
        let store = RedisStore {
            url: shown.clone(),
            client,
            connection: Mutex::new(None),
            keys: Keys::new(id),
            instance: format!(
                "{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
            clicks: AtomicU64::new(0),
            meta: format!("x64wasm-state 1 {id} {size}"),
            size,
            commit: script(COMMIT),
            read: script(READ),
            seed: script(SEED),
            restore: script(RESTORE),
            down: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
        };
        let fail = |e: redis::RedisError| format!("--redis {shown}: {e}");
        store.level_with_running().map_err(fail)?;
        let (meta, held) = store
            .with(|c| {
                let _: i64 = store
                    .keys
                    .on(&store.seed)
                    .arg(initial)
                    .arg(&store.meta)
                    .invoke(c)?;
                Ok((store.meta_held(c)?, store.held(c, None)?.0))
            })
            .map_err(fail)?;
        if meta.as_deref() != Some(store.meta.as_str()) {
            return Err(format!(
                "the state in Redis at {} was written by another app or layout ({}), not by \
                 this one ({}): use another App::id or clear the keys",
                store.keys.meta,
                meta.as_deref().unwrap_or("no meta"),
                store.meta
            ));
        }
        match held {
            Held::State(held) => Ok((store, held)),
            Held::Missing(what) => Err(format!(
                "Redis holds {what} for this app: one without the other is damage \
                 (clear the keys, or write both)"
            )),
            Held::Damaged(why) => Err(why),
        }
    }

    /// The meta key's value as start-up shows it: `None` when missing, a
    /// description when it is not a short string.
    fn meta_held(&self, c: &mut redis::Connection) -> redis::RedisResult<Option<String>> {
        let (kind, length): (String, i64) = redis::pipe()
            .cmd("TYPE")
            .arg(&self.keys.meta)
            .cmd("STRLEN")
            .arg(&self.keys.meta)
            .query(c)
            .or_else(|_| Ok::<_, redis::RedisError>(("other".into(), 0)))?;
        Ok(match kind.as_str() {
            "none" => None,
            "string" if length <= 256 => {
                let meta: Vec<u8> = redis::cmd("GET").arg(&self.keys.meta).query(c)?;
                Some(String::from_utf8_lossy(&meta).escape_debug().to_string())
            }
            "string" => Some(format!("a string of {length} bytes")),
            _ => Some(format!("a Redis {kind}")),
        })
    }

    /// What Redis holds for the app ([`READ`]), and whether its history
    /// holds `mine` (a version this instance has seen).
    fn held(
        &self,
        c: &mut redis::Connection,
        mine: Option<&Versioned>,
    ) -> redis::RedisResult<(Held, Lineage)> {
        let pair = mine.map_or(String::new(), |m| format!("{} {}", m.version, m.tag));
        let answer: ReadAnswer = self
            .keys
            .on(&self.read)
            .arg(self.size)
            .arg(&pair)
            .invoke(c)?;
        let oldest = answer.oldest.split(' ').next().and_then(parse_version);
        let lineage = match (answer.known, mine, oldest) {
            (true, _, _) => Lineage::Holds,
            (_, Some(mine), Some(oldest)) if oldest <= mine.version => Lineage::Lacks,
            _ => Lineage::CannotTell,
        };
        Ok((self.held_of(answer), lineage))
    }

    /// [`RedisStore::held`]'s reading of what [`READ`] returned.
    fn held_of(&self, answer: ReadAnswer) -> Held {
        let ReadAnswer {
            version_type,
            version,
            state_type,
            state_length: length,
            state,
            tag,
            meta,
            ..
        } = answer;
        let version = String::from_utf8_lossy(&version);
        if !meta.is_empty() && meta != self.meta.as_bytes() {
            return Held::Damaged(format!(
                "{} says another app or layout wrote the keys ({}), not this one ({})",
                self.keys.meta,
                String::from_utf8_lossy(&meta).escape_debug(),
                self.meta
            ));
        }
        match (version_type.as_str(), state_type.as_str()) {
            ("none", "none") => Held::Missing("neither a version nor a state"),
            ("none", _) => Held::Missing("a state but no version"),
            (_, "none") => Held::Missing("a version but no state"),
            ("string", "string") => match parse_version(&version) {
                None => Held::Damaged(format!(
                    "{} holds `{}`, not a version (decimal digits without a leading zero, \
                     below 2^64 - 1)",
                    self.keys.version,
                    version.escape_debug()
                )),
                Some(_) if length != self.size as i64 => Held::Damaged(format!(
                    "{} is {length} bytes, not {} (damaged)",
                    self.keys.state, self.size
                )),
                Some(version) => Held::State(Versioned {
                    version,
                    tag,
                    state,
                }),
            },
            ("string", other) => Held::Damaged(format!(
                "{} is a Redis {other}, not a string of the state's bytes (damaged)",
                self.keys.state
            )),
            (other, _) => Held::Damaged(format!(
                "{} is a Redis {other}, not a string holding a version (damaged)",
                self.keys.version
            )),
        }
    }

    /// Before a start: when other instances follow the channel, asks them
    /// to write back what they hold if it is newer than what Redis holds
    /// (any message makes them read), and gives them [`LEVEL_WAIT`]; when
    /// none does, waits the shorter [`RESTORE_WAIT`] for any that is
    /// reconnecting to a restarted Redis, asking each as it subscribes;
    /// when Redis holds no version, waits up to [`RESTORE_WAIT`] for one
    /// to appear.
    fn level_with_running(&self) -> redis::RedisResult<()> {
        let start = Instant::now();
        let mut asked = (0, start);
        loop {
            let (exists, (_, followers)): (bool, (String, u64)) = self.with(|c| {
                redis::pipe()
                    .cmd("EXISTS")
                    .arg(&self.keys.version)
                    .cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(&self.keys.channel)
                    .query(c)
            })?;
            if followers > asked.0 {
                let _: () = self.with(|c| {
                    redis::cmd("PUBLISH")
                        .arg(&self.keys.channel)
                        .arg("level")
                        .query(c)
                })?;
                asked = (followers, Instant::now());
            }
            let waited = start.elapsed();
            let done = match (exists, asked.0) {
                // the instances asked have had their time to write back
                (true, 1..) => asked.1.elapsed() >= LEVEL_WAIT,
                // none follows: any reconnecting to a restarted Redis
                // does within the shorter wait
                (true, 0) => waited >= RESTORE_WAIT[1],
                (false, _) => {
                    let patience = RESTORE_WAIT[usize::from(followers == 0)];
                    if waited > patience && followers > 0 {
                        eprintln!(
                            "x64wasm: Redis holds no state at {} although {followers} \
                             instance(s) follow it, and none wrote theirs back within {} s: \
                             starting from the initial state",
                            self.keys.version,
                            patience.as_secs()
                        );
                    }
                    waited > patience
                }
            };
            if done {
                return Ok(());
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

    /// Commits `state`, made from the state at version `base` of history
    /// `base_tag`, as version `base + 1` tagged `token` (which names the
    /// click), if that is still what Redis holds; `reserve` asks a conflict
    /// to reserve the next commit for the click ([`COMMIT`]). Marks the
    /// store down when Redis cannot take it (see [`RedisStore::down`]).
    ///
    /// `click`: the click's id and its answer should this commit succeed
    /// (kept in Redis with the state, atomically); a click id Redis holds
    /// already is [`Refused::Again`] with its answer.
    pub fn commit(
        &self,
        (base, base_tag): (u64, &str),
        state: &[u8],
        token: &str,
        reserve: bool,
        click: Option<(&str, &str)>,
    ) -> Result<u64, Refused> {
        const NOTHING: &str = "nothing changed, try again when it is back";
        let Some(next) = base.checked_add(1).filter(|&n| n < u64::MAX) else {
            let reason = format!("version {base} has no next version");
            self.mark_down(&reason);
            return Err(Refused::Down(format!("{reason}; {NOTHING}")));
        };
        let answer: Result<(i64, String, Vec<u8>, String), _> = self.with(|c| {
            self.keys
                .on(&self.commit)
                .arg(base.to_string())
                .arg(state)
                .arg(next.to_string())
                .arg(token)
                .arg(if reserve { "1" } else { "0" })
                .arg(RESERVATION_MS)
                .arg(self.size)
                .arg(base_tag)
                .arg(&self.meta)
                .arg(HISTORY)
                .arg(click.map_or("", |(id, _)| id))
                .arg(click.map_or("", |(_, answer)| answer))
                .arg(CLICKS_KEPT)
                .invoke(c)
        });
        let (reason, consequence) = match answer {
            Ok((1, _, _, _)) => return Ok(next),
            Ok((2, _, _, _)) => return Err(Refused::Reserved),
            Ok((4, _, answer, _)) => {
                // what `click_answer` wrote, or damage: a damaged answer is
                // neither run again nor passed on as the click's
                return Err(match stored_answer(&answer) {
                    Some(answer) => Refused::Again(answer),
                    None => Refused::Down(format!(
                        "the answer {} holds for click {} is damaged ({}): the click is not \
                         run again; delete that entry to send it again",
                        self.keys.clicks,
                        click.map_or("", |(id, _)| id),
                        String::from_utf8_lossy(&answer[..answer.len().min(64)]).escape_debug(),
                    )),
                });
            }
            Ok((3, _, _, _)) => (self.unusable(), NOTHING),
            Ok((_, version, current, tag)) => match parse_version(&version) {
                Some(version)
                    if (version > base || (version == base && tag != base_tag))
                        && current.len() == self.size =>
                {
                    return Err(Refused::Conflict(Versioned {
                        version,
                        tag,
                        state: current,
                    }))
                }
                Some(version) if version < base && current.len() == self.size => (
                    format!(
                        "Redis at {} holds version {version}, older than version {base} \
                         this instance has seen (it lost writes); the instances write \
                         theirs back",
                        self.url
                    ),
                    NOTHING,
                ),
                // missing or damaged: the precise reason from a full read
                _ => (self.unusable(), NOTHING),
            },
            Err(e) => self.failed(&e),
        };
        self.mark_down(&reason);
        let why = format!("{reason}; {consequence}");
        Err(match consequence == MAYBE {
            true => Refused::Unknown(why),
            false => Refused::Down(why),
        })
    }

    /// Why what Redis holds cannot take a commit.
    fn unusable(&self) -> String {
        match self.with(|c| self.held(c, None)).map(|(held, _)| held) {
            Ok(Held::Missing(what)) => format!(
                "Redis at {} holds {what} for this app (it restarted without persistence, or \
                 was flushed); the instances write theirs back",
                self.url
            ),
            Ok(Held::Damaged(why)) => format!("the state in Redis at {}: {why}", self.url),
            Ok(Held::State(held)) => format!(
                "Redis at {} moved to version {} during the commit",
                self.url, held.version
            ),
            Err(e) => self.failed(&e).0,
        }
    }

    /// Why a command failed, and what that means for a click it carried:
    /// refused connections and error answers changed nothing, but a
    /// command sent and never answered may have run.
    fn failed(&self, e: &redis::RedisError) -> (String, &'static str) {
        if e.is_connection_refusal() {
            (
                format!("Redis at {} is unreachable ({e})", self.url),
                "nothing changed, try again when it is back",
            )
        } else if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
            (format!("Redis at {} did not answer ({e})", self.url), MAYBE)
        } else {
            (
                format!("Redis at {} answered an error ({e})", self.url),
                "nothing changed, try again when it is back",
            )
        }
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
        held: &dyn Fn() -> Versioned,
        apply: &dyn Fn(Versioned),
    ) -> Result<(), String> {
        let mine = held();
        let read = |store: &RedisStore| {
            store
                .with(|c| store.held(c, Some(&mine)))
                .map_err(|e| store.failed(&e).0)
        };
        let lost = match read(self)? {
            (Held::State(theirs), lineage) if theirs.version >= mine.version => {
                if theirs.version > mine.version && matches!(lineage, Lineage::Lacks) {
                    eprintln!(
                        "x64wasm: Redis's history does not hold version {} as this instance \
                         saw it (Redis lost data while this instance was away, and others \
                         went on to {}): what this instance acknowledged up to {} and Redis \
                         did not keep is lost",
                        mine.version, theirs.version, mine.version
                    );
                }
                apply(theirs);
                return Ok(());
            }
            (Held::State(theirs), _) => format!(
                "holds version {}, older than {}",
                theirs.version, mine.version
            ),
            (Held::Missing(what), _) => format!("holds {what} for this app"),
            (Held::Damaged(why), _) => {
                return Err(format!("the state in Redis at {}: {why}", self.url))
            }
        };
        let wrote: i64 = self
            .with(|c| {
                self.keys
                    .on(&self.restore)
                    .arg(mine.version.to_string())
                    .arg(&mine.state)
                    .arg(&self.meta)
                    .arg(&mine.tag)
                    .arg(HISTORY)
                    .invoke(c)
            })
            .map_err(|e| self.failed(&e).0)?;
        if wrote == 1 {
            eprintln!(
                "x64wasm: Redis at {} {lost} (it lost writes: restarted without persistence, \
                 flushed, or rolled back); wrote back version {} from this instance",
                self.url, mine.version
            );
        }
        match read(self)?.0 {
            Held::State(theirs) => {
                apply(theirs);
                Ok(())
            }
            Held::Missing(what) => Err(format!("Redis at {} holds {what} for this app", self.url)),
            Held::Damaged(why) => Err(format!("the state in Redis at {}: {why}", self.url)),
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
    /// message, brings this instance and Redis level
    /// ([`RedisStore::catch_up`], with `held` the version and state this
    /// instance holds and `apply` taking a newer one); in a quiet second,
    /// checks that Redis answers (`PING`), and levels again if a click
    /// found it unusable. Marks the store down (and calls `changed`) while
    /// Redis cannot be reached or its state is unusable, and up again when
    /// it is.
    pub fn follow(
        &self,
        held: impl Fn() -> Versioned,
        apply: impl Fn(Versioned),
        changed: impl Fn(),
    ) {
        let mut resubscribed: Option<Instant> = None;
        loop {
            let mut failed = None;
            let subscribed = self
                .client
                .get_connection_with_timeout(TIMEOUT)
                .and_then(|mut c| {
                    c.set_read_timeout(Some(Duration::from_secs(1)))?;
                    let mut pubsub = c.as_pubsub();
                    pubsub.subscribe(&self.keys.channel)?;
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
                            // a message is only a wake-up: what changed is read
                            Ok(_) => true,
                            Err(e) if e.is_timeout() => {
                                // a write that also puts back a deleted meta
                                let ping: redis::RedisResult<()> = self.with(|c| {
                                    redis::cmd("SET")
                                        .arg(&self.keys.meta)
                                        .arg(&self.meta)
                                        .arg("NX")
                                        .query(c)
                                });
                                if let Err(e) = ping {
                                    failed = Some(self.failed(&e).0);
                                    return Ok(());
                                }
                                self.down.load(Ordering::SeqCst)
                            }
                            Err(e) => return Err(e),
                        };
                    }
                });
            let why = match (failed, subscribed) {
                (Some(why), _) => why,
                (None, outcome) => {
                    // only the subscription broke (its connection was
                    // killed, or this process was paused): if Redis
                    // answers, subscribe again at once, catching up, and
                    // refuse nothing meanwhile (once a second at most, or
                    // a subscription that keeps failing is the reason)
                    let ping: redis::RedisResult<String> =
                        self.with(|c| redis::cmd("PING").query(c));
                    let again = resubscribed.is_none_or(|at| at.elapsed() > Duration::from_secs(1));
                    match ping {
                        Ok(_) if again => {
                            resubscribed = Some(Instant::now());
                            continue;
                        }
                        Ok(_) => match outcome {
                            Err(e) => format!("Redis at {} refuses a subscription ({e})", self.url),
                            Ok(()) => format!("Redis at {} ends every subscription", self.url),
                        },
                        Err(e) => self.failed(&e).0,
                    }
                }
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
    fn only_answers_of_the_shape_commits_write_are_passed_on() {
        // (what Redis holds, passed on)
        let cases: [(&[u8], bool); 7] = [
            (br#"{"version":7,"ret":null}"#, true),
            (br#"{"ret":"-3","version":0}"#, true),
            (b"notjson", false),
            (br#"{"status":500}"#, false),
            (br#"{"version":-1,"ret":null}"#, false),
            (br#"{"version":7,"ret":null,"status":500}"#, false),
            (br#"[7,null]"#, false),
        ];
        for (held, passed) in cases {
            let got = super::stored_answer(held);
            assert_eq!(got.is_some(), passed, "{}", String::from_utf8_lossy(held));
        }
        // and what a commit writes has that shape
        let written = super::super::click_answer(7, &serde_json::Value::Null);
        assert_eq!(super::stored_answer(written.as_bytes()), Some(written));
    }

    #[test]
    fn versions_are_canonical_decimals_with_a_next() {
        // (text, version)
        let cases = [
            ("0", Some(0)),
            ("7", Some(7)),
            ("100000000000000", Some(100_000_000_000_000)),
            ("18446744073709551614", Some(u64::MAX - 1)),
            ("18446744073709551615", None),
            ("18446744073709551616", None),
            ("05", None),
            ("+7", None),
            ("-1", None),
            (" 7", None),
            ("", None),
            ("1e3", None),
        ];
        for (text, want) in cases {
            assert_eq!(super::parse_version(text), want, "{text:?}");
        }
    }

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
