//! The desktop window under Xvfb: `x64wasm` (not headless) opens a tao/wry
//! window on its own server; a click in the window runs the callback's wasm
//! in WebKit and on the server; a headless Chromium page on the same server
//! follows without reloading, and a click there reaches the window. Closing
//! the window (as a window manager does) ends the process cleanly.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::server::{node, screenshot_dir, App};

/// An Xvfb server on a display number of its own choosing.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        // -displayfd 1: Xvfb picks a free display and prints its number.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (`make test` installs the xvfb package)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let number: u32 = line.trim().parse().expect("Xvfb display number");
        Xvfb {
            child,
            display: format!(":{number}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a window titled `title` and returns its id.
fn find_window(display: &str, title: &str) -> String {
    let out = Command::new("timeout")
        .args([
            "60",
            "xdotool",
            "search",
            "--sync",
            "--onlyvisible",
            "--name",
            title,
        ])
        .env("DISPLAY", display)
        .output()
        .expect("xdotool (`make test` installs it)");
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(!id.is_empty(), "no window titled {title:?} appeared");
    id
}

#[test]
fn window_and_browser_stay_in_sync_and_closing_the_window_exits() {
    let x = Xvfb::start();
    let mut app = App::start(
        Path::new(env!("CARGO_BIN_EXE_x64wasm")),
        &["--port", "0"],
        &[("DISPLAY", &x.display)],
    );
    assert!(
        app.wait_for_output("desktop window open", Duration::from_secs(60)),
        "{}",
        app.output()
    );
    let window = find_window(&x.display, "x64wasm demo");
    // The webview loads the page after the window maps; its runtime then
    // opens the event stream, which the server counts as a view.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while app.stats()["views"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the window's page never connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let shot = screenshot_dir().join("desktop.png");
    let page = node(
        "desktop.mjs",
        &[&app.url, &window, shot.to_str().unwrap()],
        &[("DISPLAY", &x.display)],
    );
    assert_eq!(page["afterWindowClick"], "1", "{page}");
    assert_eq!(page["final"], "3", "{page}");
    assert_eq!(
        page["notReloaded"], true,
        "the page followed without reloading"
    );

    let (version, state) = app.state();
    assert_eq!(version, 3);
    assert_eq!(i64::from_le_bytes(state[..8].try_into().unwrap()), 3);
    // All three clicks (window, page, window) ran the wasm in their view and
    // predicted the server's result on the version the server ran them on:
    // so the window's second click was made on top of the page's click.
    let s = &app.stats()["callbacks"]["increment_counter"];
    assert_eq!(s["executed"], 3, "{s}");
    assert_eq!(s["predicted"], 3, "{s}");
    assert_eq!(s["agreed"], 3, "{s}");
    assert_eq!(s["stale"], 0, "{s}");
    assert!(std::fs::metadata(&shot)
        .map(|m| m.len() > 10_000)
        .unwrap_or(false));

    let closed = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/desktop/close_window.py"))
        .arg(&window)
        .env("DISPLAY", &x.display)
        .status()
        .unwrap();
    assert!(closed.success());
    let status = app
        .wait_exit(Duration::from_secs(20))
        .expect("exits when the window closes");
    assert!(status.success(), "{status}: {}", app.output());
    assert!(app.output().contains("window closed"));
}
