//! `--state-file`: a change is on disk before its click is acknowledged, so
//! a server killed mid-run (SIGKILL, no chance to flush anything) and
//! started again resumes with every acknowledged click; open views recover
//! without reloading; a damaged state file stops start-up and is left as is.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::server::{App, Client, NodeScript};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("x64wasm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start(file: &Path, port: &str) -> App {
    App::demo(&[
        "--headless",
        "--port",
        port,
        "--state-file",
        file.to_str().unwrap(),
        "--rate-limit",
        "0", // eight clients click as fast as they can
    ])
}

/// Kills `app` with SIGKILL: no chance to flush anything.
fn kill_hard(app: App) {
    let status = Command::new("kill")
        .args(["-KILL", &app.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(app);
}

fn counter(state: &[u8]) -> i64 {
    i64::from_le_bytes(state[..8].try_into().unwrap())
}

#[test]
fn a_killed_server_resumes_every_acknowledged_click_and_views_recover() {
    let dir = temp_dir("state-file");
    let file = dir.join("demo.state");
    let first = start(&file, "0");
    assert!(file.exists(), "created at start");
    let port = first.address.rsplit(':').next().unwrap().to_string();

    // Eight clients click Increment until the server dies under them.
    let acked = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (address, acked) = (first.address.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut client = Client::connect(&address);
                while let Ok(reply) =
                    client.try_request("POST", "/execute/increment_counter", b"{}")
                {
                    if reply.status != 200 {
                        break;
                    }
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.load(Ordering::SeqCst) < 200 {
        assert!(Instant::now() < deadline, "clicks too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(first); // SIGKILL, mid-run
    for c in clients {
        let _ = c.join();
    }
    let acked = acked.load(Ordering::SeqCst);

    let second = start(&file, &port);
    assert!(
        second.output().contains("resumed version"),
        "{}",
        second.output()
    );
    let (version, state) = second.state();
    assert!(
        version >= acked,
        "acknowledged {acked}, resumed at {version}"
    );
    assert!(
        version <= acked + 8,
        "at most one unacknowledged click per client"
    );
    assert_eq!(
        counter(&state) as u64,
        version,
        "every saved version is one increment"
    );

    // A page lives through another restart, during which the server moves on.
    let mut page = NodeScript::start("restart.mjs", &[&second.url], &[]);
    let first_step = page.next();
    let before = first_step["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("{first_step}"));
    assert_eq!(before, version + 1);
    drop(second);
    let third = start(&file, &port);
    assert_eq!(third.state().0, before, "the page's click was saved");
    Client::connect(&third.address).execute("increment_counter", "[]");
    page.go();
    let result = page.next();
    assert!(result["error"].is_null(), "{result}");
    assert_eq!(result["afterRestart"], (before + 1).to_string(), "{result}");
    assert_eq!(result["counter"], (before + 2).to_string(), "{result}");
    assert_eq!(result["notReloaded"], true);
    let (version, state) = third.state();
    assert_eq!((version, counter(&state) as u64), (before + 2, before + 2));
    let stats = third.stats();
    assert_eq!(
        stats["callbacks"]["increment_counter"]["agreed"], 1,
        "the page predicted on the resumed state: {stats}"
    );
    drop(third);

    // Damaged files stop start-up with the reason and are never rewritten.
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() - 40] ^= 0x40; // a state byte
    for (bytes, why) in [
        (good[..good.len() - 7].to_vec(), "is truncated"),
        (flipped, "is corrupt"),
        (b"hello".to_vec(), "is not an x64wasm state file"),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_x64wasm"))
            .args([
                "--headless",
                "--port",
                "0",
                "--state-file",
                file.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(why) && stderr.contains("left untouched"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "not overwritten");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_change_that_cannot_be_saved_is_undone_and_refused() {
    let dir = temp_dir("state-file-lost");
    let file = dir.join("demo.state");
    let app = start(&file, "0");
    assert_eq!(app.post("/execute/increment_counter", "{}").status, 200);
    // The directory disappears (as root, permissions would not stop us).
    std::fs::remove_dir_all(&dir).unwrap();
    let refused = app.post("/execute/increment_counter", "{}");
    assert_eq!(refused.status, 500, "{}", refused.text());
    let error = refused.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("saving") && error.contains("the change was undone"),
        "{error}"
    );
    let (version, state) = app.state();
    assert_eq!(
        (version, counter(&state)),
        (1, 1),
        "nothing unsaved is visible"
    );
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(app.post("/execute/increment_counter", "{}").status, 200);
    assert_eq!(app.state().0, 2);
    let state_size = app.state().1.len();
    assert_eq!(
        x64wasm::state_file::StateFile::new(&file, "x64wasm-demo", state_size)
            .load()
            .unwrap()
            .map(|saved| saved.version),
        Some(2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_click_sent_again_runs_once_whether_at_once_from_two_connections_or_after_a_restart() {
    let dir = temp_dir("clicks");
    let file = dir.join("state.bin");
    let port = support::scale::free_port().to_string();
    let app = start(&file, &port);
    let click = |app: &App, id: &str| {
        let body = format!(r#"{{"args":[],"id":"{id}"}}"#);
        app.post("/execute/increment_counter", &body).json()
    };
    // The same click from two connections at once, 20 times: each runs
    // once, and both get its answer.
    for seq in 1..=20 {
        let id = format!("twinpage:{seq}");
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| click(&app, &id));
            let b = s.spawn(|| click(&app, &id));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(a["version"], seq, "{a} {b}");
        assert_eq!(b["version"], seq, "{a} {b}");
        assert_eq!(a["ret"], b["ret"]);
        let again = [&a, &b].iter().filter(|r| r["again"] == true).count();
        assert_eq!(again, 1, "one ran, one was answered again: {a} {b}");
    }
    assert_eq!(app.state().0, 20);
    // A queue: in order, a bad call answered on its own, the rest run.
    let queue = r#"{"calls":[
        {"call":"increment_counter","id":"queuepage:1"},
        {"call":"add_step_clamped","args":["x",1],"id":"queuepage:2"},
        {"call":"no_such_callback","id":"queuepage:3"},
        {"call":"increment_counter","id":"queuepage:4"}]}"#;
    let answers = app.post("/execute", queue).json();
    let statuses: Vec<_> = answers["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 400, 404, 200], "{answers}");
    assert_eq!(app.state().0, 22);
    // The same queue again: nothing runs; the same answers, marked
    let again = app.post("/execute", queue).json();
    for (first, second) in answers["answers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(again["answers"].as_array().unwrap())
    {
        if first["status"] == 404 {
            continue; // (a callback that does not exist has no answer kept)
        }
        assert_eq!(second["status"], first["status"], "{again}");
        assert_eq!(second["body"]["again"], true, "{again}");
    }
    assert_eq!(app.state().0, 22, "{again}");
    // Killed and started again on the same state file: the clicks it
    // answered are still answered, not run again.
    kill_hard(app);
    let app = start(&file, &port);
    // (the file keeps which clicks ran, not their answers: the answer is
    // the current version)
    let answer = click(&app, "twinpage:20");
    assert_eq!(
        (answer["version"].clone(), answer["again"].clone()),
        (22.into(), true.into())
    );
    let answer = click(&app, "queuepage:4");
    assert_eq!(answer["again"], true, "{answer}");
    assert_eq!(app.state().0, 22);
    let answer = click(&app, "twinpage:21");
    assert_eq!(
        (answer["version"].clone(), answer.get("again")),
        (23.into(), None)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_click_sent_again_by_a_page_the_server_forgot_is_never_run_twice() {
    // The server keeps the clicks of the 4,096 pages that clicked most
    // recently (docs/protocol.md): a page past that whose click may have
    // run is told so (410) rather than having it run a second time.
    const PAGES_KEPT: usize = 4_096;
    let dir = temp_dir("forgotten-clicks");
    let file = dir.join("state.bin");
    let port = support::scale::free_port().to_string();
    let app = start(&file, &port);
    let click = |app: &App, id: &str, resent: bool| {
        let body = format!(r#"{{"args":[],"id":"{id}","resent":{resent}}}"#);
        app.post("/execute/increment_counter", &body)
    };
    assert_eq!(click(&app, "lostpage:1", false).json()["version"], 1);
    // its answer is lost; 4,096 other pages click, 64 to a request
    for batch in 0..PAGES_KEPT / 64 {
        let calls: Vec<String> = (0..64)
            .map(|k| {
                format!(
                    r#"{{"call":"increment_counter","id":"page{:06}:1"}}"#,
                    batch * 64 + k
                )
            })
            .collect();
        let reply = app.post("/execute", &format!(r#"{{"calls":[{}]}}"#, calls.join(",")));
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let version = 1 + PAGES_KEPT as u64;
    assert_eq!(app.state().0, version);
    let last = format!("page{:06}:1", PAGES_KEPT - 1);
    // (server, click, sent before, status, the version after)
    let cases = [
        ("lostpage:1", true, 410, version),       // it ran: not again
        ("lostpage:2", true, 410, version),       // whether it ran can't be told
        (last.as_str(), true, 200, version),      // remembered: answered again
        ("freshpage:1", false, 200, version + 1), // sent once: it never ran
        ("lostpage:2", false, 200, version + 2),
    ];
    let check = |app: &App, cases: &[(&str, bool, u16, u64)]| {
        for &(id, resent, status, after) in cases {
            let reply = click(app, id, resent);
            assert_eq!(
                reply.status,
                status,
                "{id} resent {resent}: {}",
                reply.text()
            );
            if status == 410 {
                assert_eq!(reply.json()["outcome"], "unknown", "{}", reply.text());
                assert!(
                    reply.text().contains("no longer remembers"),
                    "{}",
                    reply.text()
                );
            }
            assert_eq!(app.state().0, after, "{id} resent {resent}");
        }
    };
    check(&app, &cases);
    // killed and started again: the table read back was full, so a page it
    // does not hold may have been forgotten
    kill_hard(app);
    let app = start(&file, &port);
    let version = version + 2;
    check(
        &app,
        &[
            ("otherpage:5", true, 410, version),
            ("otherpage:5", false, 200, version + 1),
            ("lostpage:2", true, 200, version + 1), // answered again
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
