//! An app in a crate of its own, outside this workspace, depending on the
//! library by path as a user's crate would (no `[patch]`, no build script):
//! it builds, runs headless, and its callbacks run as wasm in Chromium.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::server::{node, App};

/// The workspace's root directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn a_crate_outside_the_workspace_builds_and_runs_an_app() {
    let root = workspace();
    let dir = std::env::temp_dir().join(format!("x64wasm-userapp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        r#"[package]
name = "userapp"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
x64wasm = {{ path = "{}" }}
bytemuck = {{ version = "1", features = ["derive"] }}

[workspace]

# The x64wasm workspace's settings, so that the dependencies it compiled
# (in the target directory this test shares) are reused.
[profile.dev]
opt-level = 1

[profile.dev.package."*"]
opt-level = 2
"#,
        root.join("crates/x64wasm").display()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The scoreboard example, as a user's main.rs (as a new user tried it).
    std::fs::copy(
        root.join("crates/x64wasm/examples/scoreboard.rs"),
        dir.join("src/main.rs"),
    )
    .unwrap();
    // The workspace's versions, already downloaded and compiled.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let target = root.join("target");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("running cargo");
    assert!(
        build.status.success(),
        "the user's crate does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let app = App::start(
        &target.join("debug/userapp"),
        &["--headless", "--port", "0"],
        &[],
    );
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
