//! The engines that run the modules (node's V8, Chromium's V8, WebKitGTK's
//! JavaScriptCore) on what stresses call stacks: tail jumps a million deep,
//! plain recursion as deep as native code goes with an 8 MiB stack (a
//! recursion group keeps its frames on the x86 stack in linear memory, not
//! on the engine's own stack, which browsers keep near 1 MB), a 1 MB stack
//! frame, and an x86 stack overflow, which must trap rather than write over
//! the program's data.
//!
//! Each engine runs `engines/driver.js` on the same module; the expected
//! values come from the same functions run natively.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::Wasm;
use x64wasm_corpus::{mix_down_to, parity_to, stack_array_hash};
use x64wasm_transpile::{transpile, Image, Signature};

/// The exports of the module under test.
const EXPORTS: &[&str] = &[
    "parity_to(u32)->u32",
    "mix_down_to(u32)->u64",
    "stack_array_hash(u8)->u64",
    "stack_array_too_big(u8)->u64",
];

/// A recursion depth the expected values are computed at (node died at
/// 2,800 when each level was a wasm call).
const DEPTH: u32 = 3_000;

fn module() -> Vec<u8> {
    // keep the export the test never calls natively in the binary
    std::hint::black_box(x64wasm_corpus::stack_array_too_big as *const ());
    let image = Image::from_file(Path::new("/proc/self/exe")).expect("read the test binary");
    let exports: Vec<Signature> = EXPORTS
        .iter()
        .map(|s| Signature::parse(s).unwrap())
        .collect();
    transpile(&image, &exports).expect("transpiles").wasm
}

/// Runs `f` on a thread with a stack of `bytes`.
fn on_stack<T: Send + 'static>(bytes: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(bytes)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// The driver's spec, and the values the calls must return (`None`: a trap).
fn spec(wasm: &[u8]) -> (Value, Vec<Option<String>>) {
    let array_hash = on_stack(16 << 20, || stack_array_hash(7));
    let deep = on_stack(16 << 20, || mix_down_to(DEPTH));
    let calls = [
        ("parity_to", 1_000_000, Some(parity_to(1_000_000) as u64)),
        ("parity_to", 999_999, Some(parity_to(999_999) as u64)),
        ("mix_down_to", DEPTH, Some(deep)),
        ("stack_array_hash", 7, Some(array_hash)),
        ("stack_array_too_big", 1, None),
    ];
    let spec = json!({
        "wasm": wasm,
        "calls": calls.iter().map(|(name, arg, _)| json!({"name": name, "args": [arg]})).collect::<Vec<_>>(),
        "depth": {"name": "mix_down_to", "limit": 1 << 22},
    });
    // as JavaScript sees an i64: signed
    let expected = calls
        .iter()
        .map(|(_, _, v)| v.map(|v| (v as i64).to_string()))
        .collect();
    (spec, expected)
}

fn driver() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/driver.js"))
        .unwrap()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("x64wasm-engines-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The JSON `command` printed (its last line), or a panic with its output.
fn json_of(mut command: Command, engine: &str) -> Value {
    let out = command.output().unwrap_or_else(|e| panic!("{engine}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{engine} failed:\n{stdout}\n{stderr}");
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{engine} printed no result ({e}):\n{stdout}\n{stderr}"))
}

fn run_node(spec: &Value) -> Value {
    let dir = scratch_dir("node");
    let script = dir.join("run.js");
    std::fs::write(
        &script,
        format!("{}\nconsole.log(run({spec}));\n", driver()),
    )
    .unwrap();
    let mut command = Command::new("node");
    command.arg(&script);
    json_of(command, "node")
}

fn run_chromium(spec: &Value) -> Value {
    let dir = scratch_dir("chromium");
    let page = dir.join("run.html");
    // the result replaces the page's body; --dump-dom prints it once loaded
    std::fs::write(
        &page,
        format!(
            "<!doctype html><body><script>{}\ndocument.body.textContent = run({spec});</script>",
            driver()
        ),
    )
    .unwrap();
    let mut command = Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        &format!("--user-data-dir={}", dir.join("profile").display()),
        "--dump-dom",
    ]);
    command.arg(format!("file://{}", page.display()));
    let mut v = json_of_dom(command);
    v["engine"] = json!("chromium");
    v
}

/// Chromium's `--dump-dom` output: the body's text is the JSON.
fn json_of_dom(mut command: Command) -> Value {
    let out = command.output().expect("chromium runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = stdout
        .split("<body>")
        .nth(1)
        .and_then(|b| b.split("</body>").next())
        .unwrap_or_default();
    let text = text.replace("&quot;", "\"").replace("&amp;", "&");
    let start = text.find('{').unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| {
        panic!(
            "chromium printed no result ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// WebKitGTK's JavaScriptCore through its GObject API (the engine the
/// desktop window runs), from Debian's Python.
fn run_javascriptcore(spec: &Value) -> Value {
    let dir = scratch_dir("jsc");
    let script = dir.join("run.js");
    std::fs::write(&script, format!("{}\nrun({spec});\n", driver())).unwrap();
    let mut command = Command::new("/usr/bin/python3");
    command.args([
        "-c",
        "import sys, gi\n\
         gi.require_version('JavaScriptCore', '4.1')\n\
         from gi.repository import JavaScriptCore\n\
         context = JavaScriptCore.Context()\n\
         value = context.evaluate(open(sys.argv[1]).read(), -1)\n\
         exception = context.get_exception()\n\
         print(exception.report() if exception else value.to_string())\n",
    ]);
    command.arg(&script);
    json_of(command, "javascriptcore")
}

/// The depth the module's own x86 stack reaches, in wasmi (whose call
/// stack is only memory): the depth native code reaches with 8 MiB, since
/// the frames are the program's own.
fn x86_stack_depth(wasm: &[u8]) -> u32 {
    let mut engine = Wasm::new_with_call_depth(wasm, 1 << 21);
    let (mut ok, mut bad) = (0u32, 1u32 << 21);
    while bad - ok > 1 {
        let mid = (ok + bad) / 2;
        match engine.call("mix_down_to", &[wasmi::Val::I32(mid as i32)]) {
            Ok(_) => ok = mid,
            Err(_) => bad = mid,
        }
    }
    ok
}

#[test]
fn tail_calls_deep_recursion_and_stack_overflow_in_every_engine() {
    let wasm = module();
    // `mix_down_to` is a tail jump to a group (`return_call`); `parity_to`
    // calls a group of two (`is_even`, `is_odd`), entered through a stub
    let wat = wasmprinter::print_bytes(&wasm).unwrap();
    assert!(wat.contains("return_call"), "the module has a tail call");
    let (spec, expected) = spec(&wasm);
    let x86_depth = x86_stack_depth(&wasm);
    eprintln!("x86 stack (8 MiB, the program's own frames): mix_down_to reaches depth {x86_depth}");
    // 16 bytes a level (a pushed register and the return address): about
    // 8 MiB / 16, less the guard's margin
    assert!(x86_depth > 500_000, "{x86_depth}");
    type Runner = fn(&Value) -> Value;
    let engines: [(&str, Runner); 3] = [
        ("node", run_node),
        ("chromium", run_chromium),
        ("javascriptcore", run_javascriptcore),
    ];
    let mut failures = Vec::new();
    for (engine, run) in engines {
        let result = run(&spec);
        for (k, want) in expected.iter().enumerate() {
            let got = &result["calls"][k];
            let call = &spec["calls"][k];
            match want {
                Some(v) if got["value"] != json!(v) => {
                    failures.push(format!("{engine}: {call} returned {got}, native {v}"))
                }
                None if !got["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("RuntimeError") || e.contains("Unreachable")) =>
                {
                    failures.push(format!("{engine}: {call} gave {got} instead of a trap"))
                }
                _ => {}
            }
        }
        // as deep as the x86 stack goes, and then the guard's trap, not the
        // engine's own stack overflow (a RangeError)
        let depth = result["depth"]["max"].as_u64().unwrap_or(0) as u32;
        let error = result["depth"]["error"].as_str().unwrap_or_default();
        eprintln!("{engine}: mix_down_to reaches depth {depth}, then {error}");
        if depth != x86_depth || !error.contains("RuntimeError") {
            failures.push(format!(
                "{engine}: recursion stops at depth {depth} ({error}), the x86 stack at {x86_depth}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
