//! An app in a crate of its own, outside this workspace, depending on the
//! library by path as a user's crate would (no `[patch]`, no build script):
//! it builds, runs headless, and its callbacks run as wasm in Chromium.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::server::{node, App, NodeScript};

/// The workspace's root directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The manifest of a user's crate `name` depending on the library by path.
fn user_manifest(root: &Path, name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
x64wasm = {{ path = "{}" }}
bytemuck = {{ version = "1", features = ["derive", "min_const_generics"] }}

[workspace]

# The x64wasm workspace's settings, so that the dependencies it compiled
# (in the target directory this test shares) are reused.
[profile.dev]
opt-level = 1
debug = "line-tables-only"

[profile.dev.package."*"]
opt-level = 2
"#,
        root.display()
    )
}

/// Builds the crate `name` in `dir` with `main` as its `main.rs`, into the
/// workspace's target directory with the workspace's versions (already
/// downloaded and compiled); the binary's path.
fn build_user_crate(root: &Path, dir: &Path, name: &str, main: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), user_manifest(root, name)).unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let target = root.join("target");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("running cargo");
    assert!(
        build.status.success(),
        "the user's crate does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    target.join("debug").join(name)
}

#[test]
fn a_crate_outside_the_workspace_builds_and_runs_an_app() {
    let root = workspace();
    let dir = std::env::temp_dir().join(format!("x64wasm-userapp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // The scoreboard example, as a user's main.rs (as a new user tried it),
    // with a list of 50 in plain data (the README's bytemuck line must
    // make any length Pod, not only those up to 32 and powers of two).
    let scoreboard = std::fs::read_to_string(root.join("examples/scoreboard.rs")).unwrap();
    let fifty = "\n#[repr(C)]\n#[derive(Clone, Copy, Pod, Zeroable)]\n\
                 pub struct Fifty {\n    pub items: [u32; 50],\n}\n\n\
                 const _: fn(&Fifty) -> &[u8] = bytemuck::bytes_of::<Fifty>;\n";
    let binary = build_user_crate(&root, &dir, "userapp", &(scoreboard + fifty));
    let app = App::start(&binary, &["--headless", "--port", "0"], &[]);
    assert!(
        app.output().contains("4 callback(s), 3 transpiled to wasm"),
        "{}",
        app.output()
    );
    let page = node("example.mjs", &[&app.url], &[]);
    assert_eq!(page["home"], "3", "{page}");
    assert_eq!(page["stats"]["wasmRuns"], 1, "{page}");
    let stats = app.stats();
    assert_eq!(stats["callbacks"]["add_points"]["agreed"], 1, "{stats}");
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn clicks_queued_for_a_build_that_is_gone_are_sent_where_they_still_fit() {
    // The scoreboard as a user's crate, built, then rebuilt with
    // `next_period` renamed `advance_period` (the same app id and state):
    // clicks queued while the first build was down go to the second where
    // their callback is still there; the renamed one's are named and dropped.
    let root = workspace();
    let dir = std::env::temp_dir().join(format!("x64wasm-rebuilt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let source = std::fs::read_to_string(root.join("examples/scoreboard.rs")).unwrap();
    // (its own name: the test above builds `userapp` into the same target
    // directory meanwhile); each build copied away before the next
    let build = |name: &str, main: &str| -> PathBuf {
        let built = build_user_crate(&root, &dir, "rebuiltapp", main);
        let copy = dir.join(name);
        std::fs::copy(built, &copy).unwrap();
        copy
    };
    let first = build("first", &source);
    let second = build("second", &source.replace("next_period", "advance_period"));
    let file = dir.join("state.bin");
    let port = support::scale::free_port().to_string();
    let args = [
        "--headless",
        "--port",
        &port,
        "--state-file",
        file.to_str().unwrap(),
    ];
    let mut app = Some(App::start(&first, &args, &[]));
    let url = app.as_ref().unwrap().url.clone();
    let mut script = NodeScript::start("rebuilt.mjs", &[&url], &[]);
    let result = loop {
        let message = script.next();
        match message["need"].as_str() {
            Some("kill") => {
                let pid = app.as_ref().unwrap().pid().to_string();
                assert!(Command::new("kill")
                    .args(["-KILL", &pid])
                    .status()
                    .unwrap()
                    .success());
                app = None;
            }
            Some("restart") => app = Some(App::start(&second, &args, &[])),
            _ => break message,
        }
        script.go();
    };
    assert!(result["error"].is_null(), "{result}");
    assert_eq!(result["home"], "6", "both +3 went in: {result}");
    let notice = result["notice"].as_str().unwrap();
    assert!(notice.contains("next_period"), "{result}");
    let (version, state) = app.unwrap().state();
    assert_eq!(version, 2, "{result}");
    // (home, away, period, coin): the period was not advanced
    assert_eq!(&state[..12], &[6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    let _ = std::fs::remove_dir_all(&dir);
}
