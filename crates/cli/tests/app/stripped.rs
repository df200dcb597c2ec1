//! Stripped binaries: `strip` removes the symbol table, but the app knows
//! where each callback's code is (its function pointer), so it names them
//! in the image itself, says so once at start, and serves them as wasm.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::server::{example_binary, node, App};

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
fn a_stripped_app_finds_its_callbacks_by_address_and_serves_them_as_wasm() {
    for (binary, callbacks, transpiled) in [
        // Describe and Busiest rows read constant data (format strings,
        // allocator tables) no symbol bounds once stripped: server only
        (PathBuf::from(env!("CARGO_BIN_EXE_x64wasm")), 16, 13),
        (example_binary("scoreboard"), 4, 3), // toss_coin reads the clock
    ] {
        let stripped = stripped_copy(&binary);
        let app = App::start(&stripped, &["--headless", "--port", "0"], &[]);
        // (warnings are on stderr, read on a thread of their own)
        app.wait_for_output(
            "found by their addresses",
            std::time::Duration::from_secs(10),
        );
        let output = app.output();
        assert!(
            output.contains(&format!(
                "{callbacks} callback(s), {transpiled} transpiled to wasm"
            )),
            "{output}"
        );
        assert!(
            output.contains("warning: the binary is stripped: ")
                && output.contains("found by their addresses"),
            "{output}"
        );
        let name = if callbacks == 16 {
            "life_step"
        } else {
            "add_points"
        };
        let reply = app.get(&format!("/wasm/{name}"));
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        if callbacks == 16 {
            for name in ["describe_counter", "find_busiest_rows"] {
                assert!(
                    output.contains(&format!("callback `{name}` runs on the server only")),
                    "{output}"
                );
            }
        }
        if callbacks == 4 {
            // The scoreboard in Chromium: its prediction agrees with the server.
            let page = node("example.mjs", &[&app.url], &[]);
            assert_eq!(page["stats"]["wasmRuns"], 1, "{page}");
            assert_eq!(app.stats()["callbacks"]["add_points"]["agreed"], 1);
        }
        let _ = std::fs::remove_dir_all(stripped.parent().unwrap());
    }
}
