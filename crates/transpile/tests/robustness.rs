//! Robustness: whatever the input (random bytes as code, truncated or
//! corrupted ELFs), the transpiler returns a module or an error, never panics,
//! and every module it returns is valid.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use support::Rng;
use x64wasm_transpile::{transpile, Image, Signature};

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("transpiler panicked on {what}"))
}

#[test]
fn random_bytes_as_code_never_panic() {
    let mut rng = Rng::new(0xbad_c0de);
    let sig = Signature::parse("f(i64,i64)->i64").unwrap();
    let (mut ok, mut errors) = (0, 0);
    for round in 0..3000 {
        let len = 1 + rng.below(96) as usize;
        let mut code: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 2 == 0 {
            code.push(0xc3); // give half of them a chance to end well
        }
        let image = Image::from_code(0x4000, &code, &[("f", 0x4000, code.len() as u64)]);
        match no_panic(&format!("code {code:02x?}"), || {
            transpile(&image, std::slice::from_ref(&sig))
        }) {
            Ok(m) => {
                wasmparser::Validator::new()
                    .validate_all(&m.wasm)
                    .expect("valid module");
                ok += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                errors += 1;
            }
        }
    }
    eprintln!("{ok} modules, {errors} clear errors");
    assert!(ok > 0 && errors > 0);
}

/// A small real ELF made by gcc, so corruption hits real structures.
fn small_elf() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("x64wasm-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("f.c");
    std::fs::write(
        &src,
        "int f(int a, int b) { int s = 0; for (int i = 0; i < a; i++) s += i * b; return s; }\n\
         int g(int x) { switch (x) { case 0: return 3; case 1: return 9; case 2: return 27; case 3: return 4; case 4: return 1; default: return f(x, x); } }\n\
         int main(void) { return g(2); }\n",
    )
    .unwrap();
    let out = dir.join("f.elf");
    let status = std::process::Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc (build-essential) is installed");
    assert!(status.success());
    std::fs::read(&out).unwrap()
}

#[test]
fn corrupted_elfs_never_panic() {
    let elf = small_elf();
    let sigs = [
        Signature::parse("f(i32,i32)->i32").unwrap(),
        Signature::parse("g(i32)->i32").unwrap(),
    ];
    // the intact file works
    let image = Image::from_elf(&elf).expect("gcc's ELF parses");
    transpile(&image, &sigs).expect("gcc -O2 code transpiles");
    let mut rng = Rng::new(7);
    for round in 0..400 {
        let mut bytes = elf.clone();
        match round % 4 {
            0 => bytes.truncate(rng.below(elf.len() as u64) as usize),
            1 => {
                // flips in the headers and tables at the front
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(bytes.len().min(256) as u64) as usize;
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
            2 => {
                for _ in 0..1 + rng.below(64) {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.next() as u8;
                }
            }
            _ => {
                let at = rng.below(bytes.len() as u64) as usize;
                let n = (rng.below(512) as usize).min(bytes.len() - at);
                for b in &mut bytes[at..at + n] {
                    *b = rng.next() as u8;
                }
            }
        }
        no_panic(&format!("corrupted ELF (round {round})"), || {
            if let Ok(image) = Image::from_elf(&bytes) {
                if let Ok(m) = transpile(&image, &sigs) {
                    wasmparser::Validator::new()
                        .validate_all(&m.wasm)
                        .expect("valid module");
                }
            }
        });
    }
    // garbage and other formats get a clear error
    for bytes in [
        vec![],
        vec![0x7f, b'E', b'L', b'F'],
        b"#!/bin/sh\necho hi\n".to_vec(),
    ] {
        let e = Image::from_elf(&bytes).unwrap_err();
        assert!(e.to_string().contains("not a usable x86-64 ELF"), "{e}");
    }
}
