//! The demo in Debian's headless Chromium: clicks run the callbacks' wasm in
//! the page (the server confirms each prediction), the server runs them
//! natively, and the page shows the server's state.

mod support;

use support::server::{node, screenshot_dir, App};
use x64wasm::server::base64;

/// One Game of Life step on the 16×16 torus, written independently of the demo.
fn life_step(cells: &[u8]) -> Vec<u8> {
    (0..256)
        .map(|i| {
            let (r, c) = (i / 16, i % 16);
            let mut n = 0;
            for dr in [15, 0, 1] {
                for dc in [15, 0, 1] {
                    if (dr, dc) != (0, 0) {
                        n += cells[(r + dr) % 16 * 16 + (c + dc) % 16];
                    }
                }
            }
            (n == 3 || (cells[i] == 1 && n == 2)) as u8
        })
        .collect()
}

/// Offset of the cells in `DemoState` (8+4+4+8+8+8+8+8).
const CELLS: usize = 56;

#[test]
fn clicks_in_chromium_run_wasm_and_the_page_shows_the_servers_state() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let shot = screenshot_dir().join("browser.png");
    let page = node("demo.mjs", &[&app.url, shot.to_str().unwrap()], &[]);

    let (version, state) = app.state();
    assert_eq!(version, 10, "3 + 1 + 5 + 1 clicks");
    assert_eq!(
        i64::from_le_bytes(state[..8].try_into().unwrap()),
        2,
        "counter after +3 -1"
    );
    assert_eq!(page["counter"], "2");
    assert_eq!(page["version"], 10);
    assert_eq!(
        base64::decode(page["state"].as_str().unwrap()).unwrap(),
        state,
        "the page holds the server's state bytes"
    );

    let mut glider = vec![0u8; 256];
    for i in [1, 18, 32, 33, 34] {
        glider[i] = 1;
    }
    let expected = life_step(&glider);
    assert_eq!(
        &state[CELLS..CELLS + 256],
        &expected[..],
        "server board after one step"
    );
    let alive: Vec<u64> = (0..256)
        .filter(|&i| expected[i] == 1)
        .map(|i| i as u64)
        .collect();
    let shown: Vec<u64> = page["alive"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(shown, alive, "the page draws the server's board");

    // Every click ran the transpiled wasm in the page, and the server found
    // the predicted state equal to its own result.
    assert_eq!(page["stats"]["wasmRuns"], 10, "{page}");
    assert_eq!(page["stats"]["serverOnly"], 0, "{page}");
    let stats = app.stats();
    for (name, clicks) in [
        ("increment_counter", 3),
        ("decrement_counter", 1),
        ("toggle_cell", 5),
        ("life_step", 1),
    ] {
        let s = &stats["callbacks"][name];
        assert_eq!(s["executed"], clicks, "{name}: {stats}");
        assert_eq!(s["predicted"], clicks, "{name}: {stats}");
        assert_eq!(s["agreed"], clicks, "{name}: {stats}");
        assert_eq!(s["disagreed"], 0, "{name}: {stats}");
    }
    let console = page["console"].to_string();
    assert!(!console.contains("pageerror"), "{console}");
}
