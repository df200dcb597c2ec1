//! Beyond one machine (docs/redis.md): three instances of the
//! demo share one state through a real redis-server, behind a real haproxy
//! (`deploy/haproxy.cfg`), all on free ports. Chromium pages on different
//! instances see each other's clicks; 3 × 8 concurrent clickers through the
//! balancer give exactly the sequential result while one instance is killed
//! with SIGKILL mid-run; its views reconnect through the balancer to another
//! and catch up; nothing acknowledged is lost. Then Redis stops: clicks get
//! 503 and every page shows "reconnecting…"; it starts again from its AOF
//! and the pages reconnect and click on without a reload.

use crate::support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::scale::{free_port, request_status, Haproxy, Redis};
use support::server::{App, NodeScript};

/// The pages' report after they clicked: each on `version` with the
/// counter at `counter`, never reloaded, every click predicted in wasm,
/// no page error.
fn every_page_shows(result: &serde_json::Value, version: u64, counter: u64) {
    assert!(result["error"].is_null(), "{result}");
    assert_eq!(result["final"], version, "{result}");
    for k in 0..3 {
        assert_eq!(result["versions"][k], version, "{result}");
        assert_eq!(result["counters"][k], counter.to_string(), "{result}");
        assert_eq!(result["notReloaded"][k], true, "{result}");
        assert_eq!(result["stats"][k]["serverOnly"], 0, "{result}");
    }
    assert!(
        !result["console"].to_string().contains("pageerror"),
        "{result}"
    );
}

#[test]
fn three_instances_behind_haproxy_share_one_state_and_survive_a_kill() {
    let dir = std::env::temp_dir().join(format!("x64wasm-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = Redis::start(&dir, free_port());
    let instances: Vec<App> = (0..3).map(|_| redis.demo()).collect();
    let addresses: Vec<&str> = instances.iter().map(|a| a.address.as_str()).collect();
    let balancer = Haproxy::start([addresses[0], addresses[1], addresses[2]]);
    let lb = balancer.address();

    let mut page = NodeScript::start("scale.mjs", &[&format!("http://{lb}/")], &[]);
    let opened = page.next();
    assert_eq!(opened["opened"], 3, "{opened}");
    // the three pages' streams are spread over the instances
    let views: Vec<u64> = instances
        .iter()
        .map(|a| a.stats()["views"].as_u64().unwrap_or(0))
        .collect();
    assert!(
        views.iter().filter(|&&n| n > 0).count() >= 2,
        "views per instance: {views:?}"
    );

    // 3 × 8 clickers through the balancer; instance 0 dies half way
    let acked = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let clickers: Vec<_> = (0..24)
        .map(|_| {
            let (lb, acked, failed) = (lb.clone(), acked.clone(), failed.clone());
            std::thread::spawn(move || {
                for _ in 0..40 {
                    match request_status(&lb, "POST", "/execute/increment_counter") {
                        200 => acked.fetch_add(1, Ordering::SeqCst),
                        _ => failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    while acked.load(Ordering::SeqCst) < 400 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut instances = instances.into_iter();
    drop(instances.next()); // SIGKILL
    let survivors: Vec<App> = instances.collect();
    for c in clickers {
        c.join().unwrap();
    }
    let (acked, failed) = (acked.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    // Redis's version is the truth; the survivors reach it (their
    // subscribers read each version a moment after its commit)
    let version: u64 = redis
        .cli(&["GET", "x64wasm:x64wasm-demo:version"])
        .parse()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while survivors.iter().any(|app| app.state().0 < version) {
        assert!(
            std::time::Instant::now() < deadline,
            "survivors never reached {version}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (at, state) = survivors[0].state();
    assert_eq!(at, version);
    let counter = i64::from_le_bytes(state[..8].try_into().unwrap()) as u64;
    assert_eq!(counter, version, "one increment per version");
    assert!(
        counter >= acked && counter <= acked + failed,
        "acknowledged {acked}, failed {failed}, counter {counter}"
    );
    assert_eq!(
        redis.cli(&["GET", "x64wasm:x64wasm-demo:version"]),
        version.to_string()
    );

    // every page (those on the killed instance through another) catches up
    // without reloading, then clicks once each
    page.go();
    let final_version = version + 3;
    every_page_shows(&page.next(), final_version, counter + 3);
    for app in &survivors {
        let (v, s) = app.state();
        assert_eq!(
            (v, s),
            (final_version, survivors[0].state().1),
            "{}",
            app.output()
        );
    }

    // Redis stops: clicks through the balancer are refused with 503, every
    // page shows "reconnecting…", and a click in a page waits in its queue
    // (its prediction shown, the page offline); Redis starts again (its
    // AOF): the pages reconnect on their own, the waiting click goes in,
    // and clicks go on from where they were
    let port = redis.port();
    let dir = redis.stop();
    for _ in 0..10 {
        assert_eq!(
            request_status(&lb, "POST", "/execute/increment_counter"),
            503
        );
    }
    page.go();
    let down = page.next();
    assert_eq!(down["reconnecting"], 3, "{down}");
    assert_eq!(
        down["status"], "Offline: 1 change waiting, sent when the server is back",
        "{down}"
    );
    assert_eq!(down["waiting"], 1, "{down}");
    let before: i64 = down["counterBefore"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        down["counterAfter"],
        (before + 1).to_string(),
        "the prediction stays: {down}"
    );
    let redis = Redis::start(&dir, port);
    page.go();
    let recovered = final_version + 4;
    every_page_shows(&page.next(), recovered, counter + 7);
    assert_eq!(
        redis.cli(&["GET", "x64wasm:x64wasm-demo:version"]),
        recovered.to_string()
    );
    drop(balancer);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_thousand_clicks_go_in_once_while_redis_restarts_and_an_instance_dies() {
    // 4 pages through haproxy, 500 clicks each, while one instance of three
    // is killed (SIGKILL) and Redis is stopped and started again (its AOF):
    // each click waits in its page until answered, and runs once.
    let dir = std::env::temp_dir().join(format!("x64wasm-scale-ids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = Redis::start(&dir, free_port());
    let instances: Vec<App> = (0..3).map(|_| redis.demo()).collect();
    let addresses: Vec<&str> = instances.iter().map(|a| a.address.as_str()).collect();
    let balancer = Haproxy::start([addresses[0], addresses[1], addresses[2]]);
    let url = format!("http://{}/", balancer.address());
    let mut script = NodeScript::start("dropping.mjs", &[&url, "4", "500"], &[]);
    let ready = script.next();
    assert_eq!(ready["need"], "drop", "{ready}");
    // the pages click now; meanwhile, the faults
    let mut instances = instances.into_iter();
    let killed = instances.next().unwrap();
    let survivors: Vec<App> = instances.collect();
    let port = redis.port();
    let faults = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(killed); // SIGKILL
        std::thread::sleep(Duration::from_millis(300));
        let dir = redis.stop();
        std::thread::sleep(Duration::from_secs(2));
        Redis::start(&dir, port)
    });
    script.go();
    let result = script.next();
    let redis = faults.join().unwrap();
    assert!(result["error"].is_null(), "{result}");
    let retries: u64 = result["stats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["retries"].as_u64().unwrap())
        .sum();
    assert!(retries > 0, "the faults met no click: {result}");
    assert_eq!(
        redis.cli(&["GET", "x64wasm:x64wasm-demo:version"]),
        "2000",
        "{result}"
    );
    for app in &survivors {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while app.state().0 < 2000 {
            assert!(std::time::Instant::now() < deadline, "{}", app.output());
            std::thread::sleep(Duration::from_millis(20));
        }
        let (version, state) = app.state();
        assert_eq!(version, 2000);
        assert_eq!(i64::from_le_bytes(state[..8].try_into().unwrap()), 2000);
    }
    drop(survivors);
    drop(balancer);
    let _ = std::fs::remove_dir_all(redis.stop());
}
