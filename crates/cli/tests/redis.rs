//! `--redis`: instances of the demo sharing one state in a real
//! redis-server (Debian's, started here on a free port with AOF and
//! `appendfsync always`): concurrent clicks on two instances give exactly
//! the sequential result in one total order of versions; with Redis stopped
//! clicks are refused with 503 and nothing acknowledged is lost; when Redis
//! is back the instances recover on their own; a state another app wrote,
//! or a damaged one, stops start-up with the reason.

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::scale::{free_port, status, Redis};
use support::server::Client;

fn counter(state: &[u8]) -> i64 {
    i64::from_le_bytes(state[..8].try_into().unwrap())
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
    let acked = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..8)
        .map(|k| {
            let address = if k % 2 == 0 { &a.address } else { &b.address }.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&address);
                let mut versions = Vec::new();
                for _ in 0..25 {
                    versions.push(client.execute("increment_counter", "[]"));
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                versions
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.state().0 < 200 || a.state().0 < 200 {
        assert!(Instant::now() < deadline, "instances never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
    for app in [&a, &b] {
        let (version, state) = app.state();
        assert_eq!((version, counter(&state)), (200, 200), "{}", app.output());
    }
    assert_eq!(redis.cli(&["GET", "x64wasm:x64wasm-demo:version"]), "200");

    // Redis stops: clicks are refused with 503 and a reason, new event
    // streams too; nothing changes
    let dir = redis.stop();
    let refused = a.post("/execute/increment_counter", "{}");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.text().contains("Redis at"), "{}", refused.text());
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&a.address, "/events") != 503 {
        assert!(
            Instant::now() < deadline,
            "streams still accepted with Redis down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Redis is back (same port, its AOF): the instances recover on their own
    let redis = Redis::start(&dir, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let version = loop {
        let reply = b.post("/execute/increment_counter", "{}");
        if reply.status == 200 {
            break reply.json()["version"].as_u64().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "never recovered: {}",
            reply.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(version, 201, "the acknowledged clicks survived the restart");
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.state().0 < 201 {
        assert!(Instant::now() < deadline, "instance a never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(counter(&a.state().1), 201);
    assert_eq!(status(&a.address, "/events?since=0"), 200, "streams again");

    // Another app's state, or a damaged one, stops start-up with the reason
    redis.cli(&["SET", "x64wasm:x64wasm-demo:state", "abc"]);
    let out = Command::new(env!("CARGO_BIN_EXE_x64wasm"))
        .args(["--headless", "--port", "0", "--redis", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("x64wasm:x64wasm-demo:state") && err.contains("damaged"),
        "{err}"
    );
    redis.cli(&[
        "SET",
        "x64wasm:x64wasm-demo:meta",
        "x64wasm-state 1 another-app 8",
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_x64wasm"))
        .args(["--headless", "--port", "0", "--redis", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("written by another app"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
