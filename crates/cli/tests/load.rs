//! No lost click: 50 concurrent clients × 200 clicks of mixed callbacks over
//! real HTTP. The server runs callbacks one at a time under the state lock,
//! so the versions its answers carry are exactly 1..=10,000, and replaying
//! the clicks in that order on a fresh server gives the same state bytes.
//! 50 event streams follow along and all end on the last version.

mod support;

use std::time::{Duration, Instant};

use fastrand::Rng;
use support::server::{App, Client, EventStream};

const CLIENTS: usize = 50;
const CLICKS: usize = 200;

/// A random click of the demo: callback name and JSON arguments.
fn random_click(rng: &mut Rng) -> (&'static str, String) {
    match rng.u64(..10) {
        0 | 1 => ("increment_counter", "[]".into()),
        2 => ("decrement_counter", "[]".into()),
        3 => ("set_step", format!("[{}]", rng.u64(..40) as i64 - 5)),
        4 => (
            "add_step_clamped",
            format!("[{}, {}]", -(rng.u64(..500) as i64), rng.u64(..500)),
        ),
        5 | 6 => ("toggle_cell", format!("[{}]", rng.u64(..260))),
        7 => ("change_number", format!("[{}]", rng.u64(..21) as i64 - 10)),
        8 => ("compute_gcd", format!("[{}]", rng.u64(..1000))),
        _ => {
            let names = [
                "life_step",
                "compute_collatz",
                "compute_fibonacci",
                "life_randomize",
            ];
            (names[rng.u64(..4) as usize], "[]".into())
        }
    }
}

#[test]
fn concurrent_clicks_equal_a_sequential_run_and_every_stream_ends_on_the_last_version() {
    // No rate limit: the 50 clients share one address.
    let app = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let streams = app.open_views(CLIENTS, Duration::from_secs(20));

    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let address = app.address.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::with_seed(c as u64 + 1);
                let mut client = Client::connect(&address);
                (0..CLICKS)
                    .map(|_| {
                        let (name, args) = random_click(&mut rng);
                        (client.execute(name, &args), name, args)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut clicks: Vec<(u64, &str, String)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    clicks.sort_by_key(|c| c.0);
    let versions: Vec<u64> = clicks.iter().map(|c| c.0).collect();
    let total = (CLIENTS * CLICKS) as u64;
    assert_eq!(
        versions,
        (1..=total).collect::<Vec<_>>(),
        "each click made exactly one version"
    );

    let (version, state) = app.state();
    assert_eq!(version, total);
    let replay = App::demo(&["--headless", "--port", "0", "--rate-limit", "0"]);
    let mut client = Client::connect(&replay.address);
    for (_, name, args) in &clicks {
        client.execute(name, args);
    }
    assert_eq!(
        replay.state(),
        (total, state),
        "the same clicks in the server's order give the same state"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while streams.iter().any(|s| s.version() != total) {
        assert!(
            Instant::now() < deadline,
            "streams stuck at {:?}",
            streams.iter().map(EventStream::version).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for s in &streams {
        assert!(
            s.errors.lock().unwrap().is_empty(),
            "{:?}",
            s.errors.lock().unwrap()
        );
    }
}
