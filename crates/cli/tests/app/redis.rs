//! `--redis`: instances of the demo sharing one state in a real
//! redis-server (Debian's, started here on a free port with AOF and
//! `appendfsync always`):
//!
//! - concurrent clicks on two instances give exactly the sequential result
//!   in one total order of versions;
//! - Redis stopped and restarted mid-run: clicks during the outage are
//!   refused with 503 and counted, every acknowledged click is in the final
//!   state, and the instances recover on their own;
//! - Redis losing its data (flushed, or restarted without persistence):
//!   the instances write back what they hold, and an instance started then
//!   does not seed the initial state over it;
//! - a stalled Redis (`DEBUG SLEEP`) holds up neither the page nor
//!   `/state`, and refuses clicks quickly once one timed out; a paused one
//!   (SIGSTOP) is noticed without a click;
//! - a message on the channel is only a wake-up: a forged one puts
//!   nothing in any instance;
//! - versions from 10^14 on are exact (Lua's numbers are doubles);
//! - a state another app wrote, or a damaged one, stops start-up with the
//!   reason.

use crate::support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::scale::{free_port, status, Redis};
use support::server::{request, App, Client};

const VERSION_KEY: &str = "x64wasm:x64wasm-demo:version";

fn counter(state: &[u8]) -> i64 {
    i64::from_le_bytes(state[..8].try_into().unwrap())
}

/// Waits until every instance is on `version` or later.
fn wait_version(apps: &[&App], version: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for app in apps {
        while app.state().0 < version {
            assert!(
                Instant::now() < deadline,
                "never reached version {version}: {}",
                app.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Clicks `callback` on `app` until it is answered 200 (Redis came back)
/// or 10 s went by; the last answer.
fn click_until_served(app: &App, callback: &str) -> support::server::Reply {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app.post(&format!("/execute/{callback}"), "{}");
        if reply.status == 200 || Instant::now() > deadline {
            return reply;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Clients clicking Increment on several instances until stopped, each
/// click on a connection of its own, counting how each click ended.
struct Clickers {
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Tally {
    /// 200: committed.
    acked: AtomicU64,
    /// 503 saying nothing changed (Redis refused the connection, or was
    /// already known down).
    refused: AtomicU64,
    /// 503 for a commit Redis never answered: it may be in the state.
    unknown: AtomicU64,
}

impl Clickers {
    fn start(addresses: &[&str], per_instance: usize) -> Clickers {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let threads = addresses
            .iter()
            .flat_map(|a| std::iter::repeat_n(a.to_string(), per_instance))
            .map(|address| {
                let (stop, tally) = (stop.clone(), tally.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let reply = request(
                            &address,
                            "POST",
                            "/execute/increment_counter",
                            &[("Content-Type", "application/json")],
                            b"{}",
                        );
                        let text = reply.text();
                        let count = match reply.status {
                            200 => &tally.acked,
                            503 if text.contains("nothing changed") => &tally.refused,
                            503 if text.contains("may or may not") => &tally.unknown,
                            _ => panic!("unexpected answer {}: {text}", reply.status),
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        if reply.status == 503 {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                })
            })
            .collect();
        Clickers {
            stop,
            tally,
            threads,
        }
    }

    /// Waits until `count` of the tally reaches `n`.
    fn wait(&self, count: impl Fn(&Tally) -> &AtomicU64, n: u64, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while count(&self.tally).load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the clients: (acknowledged, refused, unknown).
    fn stop(self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        let t = &self.tally;
        (
            t.acked.load(Ordering::SeqCst),
            t.refused.load(Ordering::SeqCst),
            t.unknown.load(Ordering::SeqCst),
        )
    }
}

#[test]
fn instances_share_one_state_through_redis_and_survive_its_restart() {
    let dir = std::env::temp_dir().join(format!("x64wasm-redis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let redis = Redis::start(&dir, port);
    let url = redis.url();
    let a = redis.demo();
    let b = redis.demo();
    assert!(
        a.output().contains("the shared state is in Redis"),
        "{}",
        a.output()
    );

    // 2 instances x 4 clients click Increment at once: every acknowledged
    // click is in the state, each once, and both instances end on it
    let clients: Vec<_> = (0..8)
        .map(|k| {
            let address = if k % 2 == 0 { &a.address } else { &b.address }.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&address);
                (0..25)
                    .map(|_| client.execute("increment_counter", "[]"))
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut versions: Vec<u64> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(
        versions.len(),
        200,
        "every click its own version: one total order"
    );
    wait_version(&[&a, &b], 200);
    for app in [&a, &b] {
        let (version, state) = app.state();
        assert_eq!((version, counter(&state)), (200, 200), "{}", app.output());
    }
    assert_eq!(redis.cli(&["GET", VERSION_KEY]), "200");

    // Redis stops mid-run, with 2 x 3 clients clicking: clicks are refused
    // with 503 and a reason, new event streams too; Redis comes back (same
    // port, its AOF) and the instances recover on their own
    let clickers = Clickers::start(&[&a.address, &b.address], 3);
    clickers.wait(|t| &t.acked, 100, "no clicks acknowledged before the stop");
    let dir = redis.stop();
    clickers.wait(|t| &t.refused, 50, "no clicks refused while Redis is down");
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&a.address, "/events") != 503 {
        assert!(
            Instant::now() < deadline,
            "streams still accepted with Redis down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = a.post("/execute/increment_counter", "{}");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.text().contains("Redis at"), "{}", refused.text());
    assert_eq!(refused.header("Retry-After"), Some("1"));
    let acked_in_outage = clickers.tally.acked.load(Ordering::SeqCst);
    let redis = Redis::start(&dir, port);
    clickers.wait(
        |t| &t.acked,
        acked_in_outage + 100,
        "the instances never recovered",
    );
    let (acked, refused, unknown) = clickers.stop();
    let version: u64 = redis.cli(&["GET", VERSION_KEY]).parse().unwrap();
    wait_version(&[&a, &b], version);
    let (_, state) = a.state();
    assert_eq!(counter(&state) as u64, version, "one increment per version");
    assert!(
        200 + acked <= version && version <= 200 + acked + unknown,
        "every acknowledged click is in the state: {acked} acknowledged, {refused} refused, \
         {unknown} unknown, version {version}"
    );
    assert_eq!(status(&a.address, "/events?since=0"), 200, "streams again");

    // Keys no instance wrote stop start-up with the reason, each in turn
    // (the instances are gone: nothing writes back)
    drop((a, b));
    let start_up = || {
        let out = Command::new(env!("CARGO_BIN_EXE_x64wasm"))
            .args(["--headless", "--port", "0", "--redis", &url])
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let good_version = redis.cli(&["GET", VERSION_KEY]);
    // (command, what start-up says)
    let cases: &[(&[&str], &str)] = &[
        (&["SET", VERSION_KEY, "05"], "holds `05`, not a version"),
        (
            &["SET", VERSION_KEY, "18446744073709551615"],
            "holds `18446744073709551615`, not a version",
        ),
        (&["DEL", VERSION_KEY], "a state but no version"),
        (
            &["RPUSH", VERSION_KEY, "1"],
            "is a Redis list, not a string",
        ),
        (&["DEL", VERSION_KEY], ""),
        (&["SET", VERSION_KEY, &good_version], ""),
        (
            &["SET", "x64wasm:x64wasm-demo:state", "abc"],
            "x64wasm:x64wasm-demo:state is 3 bytes, not",
        ),
        (
            &[
                "SET",
                "x64wasm:x64wasm-demo:meta",
                "x64wasm-state 1 another-app 8",
            ],
            "written by another app",
        ),
    ];
    for (command, says) in cases {
        redis.cli(command);
        if !says.is_empty() {
            let err = start_up();
            assert!(err.contains(says), "{command:?}: {err}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_losing_data_or_stalling_loses_no_acknowledged_click() {
    let dir = std::env::temp_dir().join(format!("x64wasm-redis-lost-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = Redis::start(&dir, free_port());
    let a = redis.demo();
    let b = redis.demo();
    for _ in 0..30 {
        assert_eq!(a.post("/execute/increment_counter", "{}").status, 200);
    }
    wait_version(&[&a, &b], 30);

    // Redis loses everything (FLUSHALL, as a restart without persistence
    // would): the next click finds no state and is refused, and the
    // instances write back version 30 from memory
    redis.cli(&["FLUSHALL"]);
    let refused = b.post("/execute/increment_counter", "{}");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(
        refused
            .text()
            .contains("holds neither a version nor a state"),
        "{}",
        refused.text()
    );
    let reply = click_until_served(&b, "increment_counter");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["version"], 31, "{}", b.output());
    assert!(
        (a.output() + &b.output()).contains("wrote back version 30"),
        "{}",
        b.output()
    );

    // lost again, and an instance starts before any click: it asks the
    // running ones to write back, and starts on their version, not on 0
    redis.cli(&["FLUSHALL"]);
    let c = redis.demo();
    assert!(c.output().contains("(version 31)"), "{}", c.output());
    assert_eq!(c.post("/execute/increment_counter", "{}").status, 200);
    wait_version(&[&a, &b, &c], 32);
    assert_eq!(counter(&a.state().1), 32);

    // Redis rolls back (a snapshot of version 3 is loaded while every
    // instance has seen 32), and an instance starts then: the running ones
    // write back 32 before it reads, so it starts on 32, not on 3
    let state3 = {
        let mut s = a.state().1;
        s[..8].copy_from_slice(&3i64.to_le_bytes());
        s
    };
    redis.set_bytes("x64wasm:x64wasm-demo:state", &state3);
    redis.cli(&["SET", VERSION_KEY, "3"]);
    let d = redis.demo();
    assert!(d.output().contains("(version 32)"), "{}", d.output());
    let reply = d.post("/execute/increment_counter", "{}");
    assert_eq!(reply.json()["version"], 33, "{}", reply.text());
    wait_version(&[&a, &b, &c, &d], 33);
    for app in [&a, &b, &c, &d] {
        assert_eq!(counter(&app.state().1), 33, "{}", app.output());
    }

    // a message is only a wake-up: a forged one, even with a state of the
    // right size after the version, puts nothing in any instance
    let mut forged = b"1000000 ".to_vec();
    forged.extend_from_slice(&state3);
    redis.publish_bytes("x64wasm:x64wasm-demo:changed", &forged);
    redis.cli(&[
        "PUBLISH",
        "x64wasm:x64wasm-demo:changed",
        "18446744073709551615",
    ]);
    assert_eq!(
        a.post("/execute/increment_counter", "{}").json()["version"],
        34
    );
    wait_version(&[&a, &b, &c, &d], 34);
    for app in [&a, &b, &c, &d] {
        assert_eq!(app.state().0, 34, "{}", app.output());
    }

    // the state alone is lost: an instance starting then waits for the
    // running ones to write it back and starts on it
    redis.cli(&["DEL", "x64wasm:x64wasm-demo:state"]);
    let e = redis.demo();
    assert!(e.output().contains("(version 34)"), "{}", e.output());
    assert_eq!(counter(&e.state().1), 34);
    drop((c, d, e));

    // Redis restarts empty (no persistence) and an instance starts at
    // once, while the running ones are still reconnecting: it waits for
    // them to write back, and starts on their version, not on 0
    let port = redis.port();
    redis.stop();
    let redis = Redis::start(&dir.join("empty"), port);
    let f = redis.demo();
    assert!(f.output().contains("(version 34)"), "{}", f.output());
    drop(f);

    // a stray reservation (no expiry: not one of ours), and tags no commit
    // wrote (long, of another type, not text), hold up nothing
    redis.cli(&["SET", "x64wasm:x64wasm-demo:reserved", "someone"]);
    let reply = a.post("/execute/increment_counter", "{}");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let tag = "x64wasm:x64wasm-demo:tag";
    let long = "x".repeat(65);
    let damaged: [&dyn Fn(); 3] = [
        &|| {
            redis.cli(&["SET", tag, &long]);
        },
        &|| {
            redis.cli(&["DEL", tag]);
            redis.cli(&["HSET", tag, "a", "b"]);
        },
        &|| redis.set_bytes(tag, b"\xff\xfe"),
    ];
    for damage in damaged {
        damage();
        let reply = a.post("/execute/increment_counter", "{}");
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    wait_version(&[&a, &b], 38);

    // another app's meta while running: clicks are refused with that
    // reason, and go on once it is this app's again
    let meta = redis.cli(&["GET", "x64wasm:x64wasm-demo:meta"]);
    redis.cli(&[
        "SET",
        "x64wasm:x64wasm-demo:meta",
        "x64wasm-state 1 other 8",
    ]);
    let refused = a.post("/execute/increment_counter", "{}");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.text().contains("another app"), "{}", refused.text());
    redis.cli(&["SET", "x64wasm:x64wasm-demo:meta", &meta]);
    assert_eq!(click_until_served(&a, "increment_counter").status, 200);
    assert_eq!(
        b.post("/execute/decrement_counter", "{}").json()["version"],
        40
    );
    wait_version(&[&a, &b], 40);

    // b is away (paused) while a acknowledges 41; Redis then restarts
    // empty and a is away in turn: b writes back 40 and acknowledges its
    // own 41 (a decrement). When a is back, it finds 41 of another history
    // in Redis: it takes Redis's and says its own 41 is lost, and the two
    // never serve different states under one version
    let signal = |app: &App, signal: &str| {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &app.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    signal(&b, "STOP");
    assert_eq!(
        a.post("/execute/increment_counter", "{}").json()["version"],
        41
    );
    let port = redis.port();
    redis.stop();
    let redis = Redis::start(&dir.join("empty-again"), port);
    signal(&a, "STOP");
    signal(&b, "CONT");
    let reply = click_until_served(&b, "decrement_counter");
    assert_eq!(reply.json()["version"], 41, "{}", reply.text());
    signal(&a, "CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.state() != b.state() {
        assert!(
            Instant::now() < deadline,
            "a kept its own 41: {}",
            a.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        counter(&a.state().1),
        37,
        "b's history: 38, then a decrement"
    );
    assert!(
        a.output().contains("from another history"),
        "{}",
        a.output()
    );
    assert_eq!(
        a.post("/execute/increment_counter", "{}").json()["version"],
        42
    );
    wait_version(&[&a, &b], 42);
    assert_eq!((counter(&a.state().1), counter(&b.state().1)), (38, 38));

    // the same, but the others go past the away instance's version: it
    // takes Redis's newer state and says that Redis's history lacks its own
    signal(&b, "STOP");
    for version in [43, 44] {
        let reply = a.post("/execute/increment_counter", "{}");
        assert_eq!(reply.json()["version"], version, "{}", reply.text());
    }
    signal(&a, "STOP");
    redis.cli(&["FLUSHALL"]);
    signal(&b, "CONT");
    assert_eq!(
        click_until_served(&b, "increment_counter").json()["version"],
        43
    );
    for version in [44, 45] {
        let reply = b.post("/execute/increment_counter", "{}");
        assert_eq!(reply.json()["version"], version, "{}", reply.text());
    }
    signal(&a, "CONT");
    wait_version(&[&a], 45);
    assert_eq!(a.state(), b.state());
    assert_eq!(counter(&a.state().1), 41);
    assert!(
        a.output().contains("history does not hold version 44"),
        "{}",
        a.output()
    );

    // Redis stalls: a click waits for it, but the page and /state answer
    // meanwhile; once that click timed out, clicks are refused at once;
    // the instance recovers by itself when Redis wakes
    let stall = {
        let port = redis.port().to_string();
        std::thread::spawn(move || {
            Command::new("redis-cli")
                .args(["-p", &port, "DEBUG", "SLEEP", "6"])
                .output()
                .unwrap()
        })
    };
    // (Redis sleeping, not just asked to: on a loaded machine the DEBUG
    // SLEEP came after a click once, which then went in)
    wait_until_asleep(redis.port());
    // 24 clicks at once: one waits for Redis, the others for their turn
    let clicks: Vec<_> = (0..24)
        .map(|_| {
            let address = a.address.clone();
            std::thread::spawn(move || {
                request(
                    &address,
                    "POST",
                    "/execute/increment_counter",
                    &[("Content-Type", "application/json")],
                    b"{}",
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.get("/").status, 200);
    assert_eq!(a.state().0, 45);
    assert!(
        !stall.is_finished() && clicks.iter().all(|c| !c.is_finished()),
        "the page and /state answered while Redis slept and every click waited"
    );
    let answers: Vec<_> = clicks.into_iter().map(|c| c.join().unwrap()).collect();
    // the click that waited for Redis may be in; the others changed nothing
    let unknown = answers
        .iter()
        .filter(|r| r.status == 503 && r.json()["outcome"] == "unknown")
        .filter(|r| r.text().contains("may or may not"))
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status == 503 && r.text().contains("nothing changed"))
        .count();
    assert_eq!((unknown, refused), (1, 23), "{answers:?}");
    let quick = a.post("/execute/increment_counter", "{}");
    assert_eq!(quick.status, 503, "{}", quick.text());
    assert!(
        !stall.is_finished(),
        "a click after the timeout was refused at once, while Redis still slept"
    );
    stall.join().unwrap();
    let reply = click_until_served(&a, "increment_counter");
    assert_eq!(reply.status, 200, "{}", reply.text());
    // the stalled click ran when Redis woke (it may or may not have been in)
    let version = reply.json()["version"].as_u64().unwrap();
    assert!(version == 46 || version == 47, "{version}");

    // Redis stops answering while nobody clicks: the subscriber pings it
    // each quiet second, so new streams get 503 (open ones end); when it
    // goes on, so do they
    redis.signal("STOP");
    let deadline = Instant::now() + Duration::from_secs(15);
    while status(&a.address, "/events") != 503 {
        assert!(Instant::now() < deadline, "a paused Redis went unnoticed");
        std::thread::sleep(Duration::from_millis(100));
    }
    redis.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(15);
    while status(&a.address, "/events?since=0") != 200 {
        assert!(Instant::now() < deadline, "streams never came back");
        std::thread::sleep(Duration::from_millis(100));
    }

    // versions from 10^14 on stay exact
    redis.cli(&["SET", VERSION_KEY, "99999999999999"]);
    redis.cli(&["PUBLISH", "x64wasm:x64wasm-demo:changed", "99999999999999"]);
    wait_version(&[&a], 99_999_999_999_999);
    let reply = a.post("/execute/increment_counter", "{}");
    assert_eq!(reply.json()["version"], 100_000_000_000_000u64);
    assert_eq!(redis.cli(&["GET", VERSION_KEY]), "100000000000000");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The view id in a page of an app with view state.
fn view_of(page: &str) -> String {
    page.split("data-view=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page names its view")
        .to_string()
}

#[test]
fn an_app_with_view_state_shares_its_state_and_keeps_each_view_on_its_instance() {
    let dir = std::env::temp_dir().join(format!("x64wasm-redis-views-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = Redis::start(&dir, free_port());
    let url = redis.url();
    let todomvc = support::server::example_binary("todomvc");
    let start = || {
        App::start(
            &todomvc,
            &["--headless", "--port", "0", "--redis", &url],
            &[],
        )
    };
    let (a, b) = (start(), start());
    let (view_a, view_b) = (view_of(&a.get("/").text()), view_of(&b.get("/").text()));
    let todos = |app: &App| u32::from_le_bytes(app.state().1[..4].try_into().unwrap());
    // a todo added in a view on A is in B's shared state; a view-only
    // change (the draft) is not shared
    let body = |args: &str, view: &str| format!(r#"{{"args":{args},"view":"{view}"}}"#);
    let reply = a.post("/execute/add_todo", &body(r#"["first"]"#, &view_a));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = a.post("/execute/set_draft", &body(r#"["typed"]"#, &view_a));
    assert_eq!(reply.status, 200, "{}", reply.text());
    wait_version(&[&a, &b], 1);
    assert_eq!((b.state().0, todos(&b)), (1, 1));
    assert!(b.get("/").text().contains("first"));
    // each view belongs to the instance that made it
    let reply = b.post("/execute/set_draft", &body(r#"["x"]"#, &view_a));
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(reply.text().contains("no view"), "{}", reply.text());
    let reply = b.post("/execute/add_todo", &body(r#"["second"]"#, &view_b));
    assert_eq!(reply.status, 200, "{}", reply.text());
    wait_version(&[&a, &b], 2);
    assert_eq!((todos(&a), todos(&b)), (2, 2));
    assert_eq!(a.state(), b.state());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_click_id_runs_once_across_instances_and_their_restarts() {
    let dir = std::env::temp_dir().join(format!("x64wasm-redis-ids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = Redis::start(&dir, free_port());
    let a = redis.demo();
    let b = redis.demo();
    let click = |app: &App, id: &str| {
        let body = format!(r#"{{"args":[],"id":"{id}"}}"#);
        let reply = app.post("/execute/increment_counter", &body);
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    };
    // the same click on both instances, at once, ten times: once each
    for seq in 1..=10 {
        let id = format!("twinpage:{seq}");
        let (first, second) = std::thread::scope(|s| {
            let x = s.spawn(|| click(&a, &id));
            let y = s.spawn(|| click(&b, &id));
            (x.join().unwrap(), y.join().unwrap())
        });
        assert_eq!(first["version"], seq, "{first} {second}");
        assert_eq!(second["version"], seq, "{first} {second}");
        let again = [&first, &second]
            .iter()
            .filter(|r| r["again"] == true)
            .count();
        assert_eq!(again, 1, "{first} {second}");
    }
    wait_version(&[&a, &b], 10);
    // an instance started afresh knows them too (they are in Redis)
    drop(a);
    let c = redis.demo();
    let answer = click(&c, "twinpage:10");
    assert_eq!(
        (answer["version"].clone(), answer["again"].clone()),
        (10.into(), true.into())
    );
    assert_eq!(redis.cli(&["GET", VERSION_KEY]), "10");
    assert_eq!(redis.cli(&["HLEN", "x64wasm:x64wasm-demo:clicks"]), "10");

    // the click keys damaged (the answers not a hash, their order not a
    // list): the commit clears them before it writes, so a click is
    // answered as it ran, and once (a damaged order once made the commit
    // write, then fail, and answer "nothing changed")
    // (key, a string or a hash there)
    let damaged = [
        ("x64wasm:x64wasm-demo:click-order", "string"),
        ("x64wasm:x64wasm-demo:click-order", "hash"),
        ("x64wasm:x64wasm-demo:clicks", "string"),
    ];
    for (n, (key, kind)) in damaged.into_iter().enumerate() {
        redis.cli(&["DEL", key]);
        match kind {
            "string" => redis.cli(&["SET", key, "zzz"]),
            _ => redis.cli(&["HSET", key, "a", "b"]),
        };
        let id = format!("damagedpage:{}", n + 1);
        let answer = click(&c, &id);
        assert_eq!(answer["version"], 11 + n as u64, "{key} a {kind}: {answer}");
        let again = click(&c, &id);
        assert_eq!(
            (again["version"].clone(), again["again"].clone()),
            (answer["version"].clone(), true.into()),
            "{key} a {kind}"
        );
    }

    // an answer in the hash that no commit wrote (damage) is neither run
    // again nor passed on as the click's: a precise 503, nothing changed
    let version = redis.cli(&["GET", VERSION_KEY]);
    redis.cli(&[
        "HSET",
        "x64wasm:x64wasm-demo:clicks",
        "forgedpage:1",
        "notjson",
    ]);
    let reply = c.post(
        "/execute/increment_counter",
        r#"{"args":[],"id":"forgedpage:1"}"#,
    );
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(reply.text().contains("is damaged"), "{}", reply.text());
    assert_eq!(redis.cli(&["GET", VERSION_KEY]), version);
    drop((b, c));
    let _ = std::fs::remove_dir_all(redis.stop());
}

/// Waits until the Redis on `port` answers nothing (a DEBUG SLEEP under
/// way): a PING gets no answer within 150 ms. At most 5 s.
fn wait_until_asleep(port: u16) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let mut redis = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        redis
            .set_read_timeout(Some(Duration::from_millis(150)))
            .unwrap();
        redis.write_all(b"PING\r\n").unwrap();
        let mut answer = [0u8; 16];
        if redis.read(&mut answer).is_err() {
            return; // no answer: asleep
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("Redis did not start its DEBUG SLEEP within 5 s");
}
