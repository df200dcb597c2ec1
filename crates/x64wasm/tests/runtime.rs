//! The client runtime (`ui/runtime/`, plain ES modules) against the server:
//! its own unit tests in node, and the tables the two must share.

use std::path::Path;
use std::process::Command;

fn ui() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/ui"))
}

/// Runs `node` with `args` in `ui/`; its standard output, or a panic with
/// everything it printed.
fn node(args: &[&str]) -> String {
    let out = Command::new("node")
        .args(args)
        .current_dir(ui())
        .output()
        .expect("node (make test installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_runtimes_unit_tests_pass_in_node() {
    let report = node(&["--test", "test/"]);
    assert!(report.contains("# fail 0"), "{report}");
}

#[test]
fn the_runtime_applies_every_patch_op_and_reads_every_field_type_the_server_uses() {
    let script = "const [{ OPS }, { TYPES }] = await Promise.all([\
                  import('./runtime/patch.js'), import('./runtime/fields.js')]);\
                  console.log(JSON.stringify({ ops: Object.keys(OPS), \
                  types: Object.entries(TYPES).map(([name, t]) => [name, t.size]) }));";
    let printed = node(&["--input-type=module", "-e", script]);
    let runtime: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    let ops: Vec<&str> = x64wasm::dom::PATCH_OPS.iter().map(|(op, _)| *op).collect();
    assert_eq!(runtime["ops"], serde_json::json!(ops), "patch op codes");
    let mut types: Vec<(String, usize)> = x64wasm_transpile::SCALAR_TYPES
        .iter()
        .map(|(_, name, size)| (name.to_string(), *size))
        .collect();
    let mut theirs: Vec<(String, usize)> =
        serde_json::from_value(runtime["types"].clone()).unwrap();
    types.sort();
    theirs.sort();
    assert_eq!(theirs, types, "field types and sizes");
}

#[test]
fn the_runtime_knows_the_servers_events_and_text_limit() {
    let script = "const [{ EVENTS }, { TEXT_MAX }] = await Promise.all([\
                  import('./runtime/events.js'), import('./runtime/wasm.js')]);\
                  console.log(JSON.stringify({ events: EVENTS, text_max: TEXT_MAX }));";
    let printed = node(&["--input-type=module", "-e", script]);
    let runtime: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(
        runtime["events"],
        serde_json::json!(x64wasm::dom::EVENTS),
        "event names and DOM types"
    );
    assert_eq!(
        runtime["text_max"],
        serde_json::json!(x64wasm::text::TEXT_MAX)
    );
}
