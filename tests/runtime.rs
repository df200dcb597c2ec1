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
fn the_runtime_reads_the_attributes_the_server_writes_by_the_same_names() {
    let script = "const { ATTRIBUTES } = await import('./runtime/attributes.js');\
                  console.log(JSON.stringify(Object.entries(ATTRIBUTES)));";
    let printed = node(&["--input-type=module", "-e", script]);
    let runtime: Vec<(String, String)> = serde_json::from_str(printed.trim()).unwrap();
    let server: Vec<(String, String)> = x64wasm::dom::attributes::ATTRIBUTES
        .iter()
        .map(|(role, name)| (role.to_string(), name.to_string()))
        .collect();
    assert_eq!(runtime, server, "attribute roles and names, in order");
    // and no runtime module reads an attribute by a literal name
    for entry in std::fs::read_dir(ui().join("runtime")).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("attributes.js") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (_, name) in x64wasm::dom::attributes::ATTRIBUTES {
            let dataset = name.trim_start_matches("data-");
            let literal = ["'", "\"", "`", "["]
                .iter()
                .any(|quote| source.contains(&format!("{quote}{name}")));
            assert!(
                !literal && !source.contains(&format!("dataset.{dataset}")),
                "{} names {name} itself: use ATTRIBUTES from attributes.js",
                path.display()
            );
        }
    }
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

#[test]
fn the_runtime_decodes_the_view_modules_patch_bytes_as_the_server_encodes_them() {
    use x64wasm::dom::{el, wire, Node, Patch, PATCH_OPS};
    // one patch per op, text that needs escaping and more than ASCII
    let item: Node = el("li").attr("title", "a\"<é").text("x & y").into();
    let cases = [
        Patch::Text(vec![0, 3], "1 item left ✓".into()),
        Patch::SetAttribute(vec![2], "class".into(), "completed".into()),
        Patch::RemoveAttribute(vec![], "hidden".into()),
        Patch::Replace(vec![1, 0], item.clone()),
        Patch::Insert(vec![1], 7, item),
        Patch::Remove(vec![4, 1]),
        Patch::Move(vec![1], 5, 0),
    ];
    let mut ops: Vec<&str> = cases.iter().map(Patch::op).collect();
    ops.dedup();
    assert_eq!(ops.len(), PATCH_OPS.len(), "a case for every op");
    let hex: String = wire::encode(&cases)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let script = format!(
        "const {{ decodePatches, FIELDS, NUMBER_FIELDS }} = await import('./runtime/patch.js');\
         const bytes = Uint8Array.from('{hex}'.match(/../g).map((h) => parseInt(h, 16)));\
         console.log(JSON.stringify({{ patches: decodePatches(bytes), fields: FIELDS, \
         numbers: NUMBER_FIELDS }}));"
    );
    let printed = node(&["--input-type=module", "-e", &script]);
    let runtime: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    let want: Vec<serde_json::Value> = cases.iter().map(Patch::to_json).collect();
    assert_eq!(runtime["patches"], serde_json::json!(want));
    let fields: serde_json::Map<String, serde_json::Value> = PATCH_OPS
        .iter()
        .map(|(op, fields)| (op.to_string(), serde_json::json!(fields)))
        .collect();
    assert_eq!(
        runtime["fields"],
        serde_json::Value::Object(fields),
        "fields of each op"
    );
    assert_eq!(runtime["numbers"], serde_json::json!(wire::NUMBER_FIELDS));
}

#[test]
fn the_runtime_hashes_a_dom_as_the_server_hashes_its_view() {
    use x64wasm::dom::{el, view_hash, Node, UNCHECKED_ATTRIBUTES};
    // a view with what the DOM may hold otherwise: classes in another
    // order, a user's value, a style the runtime set, CR LF, NUL, non-ASCII
    let view: Node = el("section")
        .class("b a")
        .attr("title", "x\r\ny")
        .child(el("input").attr("value", "typed"))
        .child(el("p").text("crème 東京 🦀\0"))
        .into();
    // the same as a browser's DOM would hold it, written as
    // [tag, [[name, value], …], [child, …]] in DOM order
    let dom = serde_json::json!([[
        "section",
        [["title", "x\ny"], ["class", "a  b"], ["style", "width: 5%"]],
        [
            ["input", [["value", "other text"]], []],
            ["p", [], ["crème 東京 🦀\u{FFFD}"]]
        ]
    ]]);
    let script = format!(
        "const {{ viewHash, UNCHECKED_ATTRIBUTES }} = await import('./runtime/check.js');\
         const make = (n) => typeof n === 'string' ? {{ nodeType: 3, data: n }} : \
           {{ nodeType: 1, localName: n[0], attributes: n[1].map(([name, value]) => ({{ name, value }})), \
              childNodes: n[2].map(make) }};\
         const root = {{ childNodes: {dom}.map(make) }};\
         console.log(JSON.stringify({{ hash: viewHash(root), unchecked: UNCHECKED_ATTRIBUTES }}));"
    );
    let printed = node(&["--input-type=module", "-e", &script]);
    let runtime: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(
        runtime["unchecked"],
        serde_json::json!(UNCHECKED_ATTRIBUTES)
    );
    assert_eq!(runtime["hash"], serde_json::json!(view_hash(&view)));
}
