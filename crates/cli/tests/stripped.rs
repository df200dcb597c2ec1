//! Stripped binaries. The demo exports its callbacks to the dynamic symbol
//! table (build.rs), which `strip` keeps: they still run as wasm. An app
//! without that (the example) loses its callbacks' names: it says so at start,
//! naming the fix, and every click still works through the server.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::server::{example_binary, App};

/// A stripped copy of `binary` in a fresh temporary directory.
fn stripped_copy(binary: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "x64wasm-stripped-{}-{}",
        std::process::id(),
        binary.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(binary.file_name().unwrap());
    std::fs::copy(binary, &copy).unwrap();
    let status = Command::new("strip")
        .arg(&copy)
        .status()
        .expect("strip (binutils)");
    assert!(status.success());
    let symtab = Command::new("readelf")
        .args(["-S", "-W"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&symtab.stdout).contains(".symtab"),
        "stripped"
    );
    copy
}

#[test]
fn the_demo_keeps_its_callbacks_through_the_dynamic_symbol_table() {
    let demo = stripped_copy(Path::new(env!("CARGO_BIN_EXE_x64wasm")));
    let app = App::start(&demo, &["--headless", "--port", "0"], &[]);
    let output = app.output();
    assert!(
        output.contains("13 callback(s), 13 transpiled to wasm"),
        "{output}"
    );
    assert!(!output.contains("warning"), "{output}");
    for name in ["increment_counter", "life_step", "compute_gcd"] {
        let reply = app.get(&format!("/wasm/{name}"));
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
    }
    let _ = std::fs::remove_dir_all(demo.parent().unwrap());
}

#[test]
fn an_app_without_symbols_says_how_to_fix_it_and_runs_through_the_server() {
    let stripped = stripped_copy(&example_binary("scoreboard"));
    let app = App::start(&stripped, &["--headless", "--port", "0"], &[]);
    let output = app.output();
    assert!(
        output.contains("warning: callback `add_points` runs on the server only: the binary has no symbol for it (stripped?)")
            && output.contains("strip = false")
            && output.contains("--export-dynamic-symbol=NAME"),
        "{output}"
    );
    assert!(
        output.contains("4 callback(s), 0 transpiled to wasm"),
        "{output}"
    );
    let refused = app.get("/wasm/add_points");
    assert_eq!(refused.status, 422);
    assert!(refused.json()["error"]
        .as_str()
        .unwrap()
        .contains("stripped"));
    let ok = app.post("/execute/add_points", r#"{"args":[0,2]}"#);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let (version, state) = app.state();
    assert_eq!(
        (version, u32::from_le_bytes(state[..4].try_into().unwrap())),
        (1, 2)
    );
    let _ = std::fs::remove_dir_all(stripped.parent().unwrap());
}
