//! The `x64wasm transpile` command line: a module on success, one precise
//! message and a non-zero exit on every kind of bad input, never a panic.

use std::process::Command;

fn x64wasm(args: &[&str]) -> (i32, String, Vec<u8>) {
    let out = Command::new(env!("CARGO_BIN_EXE_x64wasm"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.stdout,
    )
}

fn bin() -> String {
    env!("CARGO_BIN_EXE_x64wasm").to_string()
}

#[test]
fn transpiles_its_own_callbacks_to_a_file_and_to_wat() {
    let dir = std::env::temp_dir().join(format!("x64wasm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("demo.wasm");
    let (code, err, _) = x64wasm(&[
        "transpile",
        "--binary",
        &bin(),
        "--export",
        "increment_counter(ptr)->void",
        "--export",
        "add_step_clamped(ptr,i32,i32)->i64",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("transpiled"), "progress line: {err}");
    let wasm = std::fs::read(&out).unwrap();
    wasmparser::Validator::new().validate_all(&wasm).unwrap();

    let (code, err, stdout) = x64wasm(&[
        "transpile",
        "--binary",
        &bin(),
        "--export",
        "reset_counter(ptr)->void",
        "--wat",
    ]);
    assert_eq!(code, 0, "{err}");
    let text = String::from_utf8(stdout).unwrap();
    assert!(text.contains("(export \"reset_counter\""), "{text}");
    assert!(text.contains("(export \"__heap_base\""), "{text}");
}

#[test]
fn every_bad_input_is_one_clear_error() {
    let dir = std::env::temp_dir().join(format!("x64wasm-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.bin");
    std::fs::write(&garbage, b"this is not an ELF file at all").unwrap();
    let truncated = dir.join("truncated");
    let me = std::fs::read(bin()).unwrap();
    std::fs::write(&truncated, &me[..4096]).unwrap();
    // an object file, not linked (gcc -c): a newcomer tried one
    let source = dir.join("f.c");
    std::fs::write(&source, "int f(int a, int b) { return a + b; }\n").unwrap();
    let object = dir.join("f.o");
    let built = std::process::Command::new("gcc")
        .args(["-O2", "-c", "-o"])
        .arg(&object)
        .arg(&source)
        .status()
        .expect("gcc (build-essential)");
    assert!(built.success());
    let object = object.to_str().unwrap().to_string();
    let b = bin();
    // (arguments, text the message must contain)
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "transpile",
                "--binary",
                &object,
                "--export",
                "f(i32,i32)->i32",
            ],
            "an object file (gcc -c): link it",
        ),
        (vec!["transpile"], "--binary ELF is required"),
        (vec!["transpile", "--binary", &b], "at least one --export"),
        (
            vec!["transpile", "--binary", &b, "--export", "f(i128)->i32"],
            "unknown parameter type `i128`",
        ),
        (
            vec![
                "transpile",
                "--binary",
                &b,
                "--export",
                "no_such_function_here()->void",
            ],
            "no function symbol of this name",
        ),
        (
            vec![
                "transpile",
                "--binary",
                "/nonexistent/file",
                "--export",
                "f()->void",
            ],
            "cannot read",
        ),
        (
            vec![
                "transpile",
                "--binary",
                garbage.to_str().unwrap(),
                "--export",
                "f()->void",
            ],
            "not a usable x86-64 ELF",
        ),
        (
            vec![
                "transpile",
                "--binary",
                truncated.to_str().unwrap(),
                "--export",
                "f()->void",
            ],
            "not a usable x86-64 ELF",
        ),
        (
            vec!["transpile", "--binary", &b, "--bogus"],
            "unknown argument `--bogus`",
        ),
        (vec!["frobnicate"], "unknown command"),
    ];
    for (args, expected) in cases {
        let (code, err, _) = x64wasm(&args);
        assert_ne!(code, 0, "{args:?} should fail");
        assert!(
            err.contains(expected),
            "{args:?}: expected `{expected}` in: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one line, got: {err}"
        );
    }
    // help, whole or of the transpile command, on standard output
    for args in [
        &["--help"][..],
        &["transpile", "--help"],
        &["transpile", "-h"],
    ] {
        let (code, _, stdout) = x64wasm(args);
        assert_eq!(code, 0, "{args:?}");
        assert!(
            String::from_utf8_lossy(&stdout).contains("--export"),
            "{args:?}"
        );
    }
}
