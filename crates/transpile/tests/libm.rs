//! The libm functions the module provides for imports (`floor`, `ceil`,
//! `trunc`, `round`, `sqrt`, `fmin`, `fmax` and their f32 forms) against the
//! system's real libm: a gcc-built program calls them natively, and its
//! functions, transpiled, call the module's versions. Every bit must agree.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::Wasm;
use x64wasm_transpile::{transpile, Image, Signature};

const C_SOURCE: &str = r#"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#define D1(n, f) double n(double x) { return f(x); }
#define F1(n, f) float n(float x) { return f(x); }
#define D2(n, f) double n(double x, double y) { return f(x, y); }
#define F2(n, f) float n(float x, float y) { return f(x, y); }
D1(t_floor, floor) D1(t_ceil, ceil) D1(t_trunc, trunc) D1(t_round, round) D1(t_sqrt, sqrt)
F1(t_floorf, floorf) F1(t_ceilf, ceilf) F1(t_truncf, truncf) F1(t_roundf, roundf) F1(t_sqrtf, sqrtf)
D2(t_fmin, fmin) D2(t_fmax, fmax) F2(t_fminf, fminf) F2(t_fmaxf, fmaxf)
static double d(uint64_t b) { double x; memcpy(&x, &b, 8); return x; }
static float f(uint32_t b) { float x; memcpy(&x, &b, 4); return x; }
static uint64_t ud(double x) { uint64_t b; memcpy(&b, &x, 8); return b; }
static uint32_t uf(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }
int main(void) {
    unsigned long long a, b;
    while (scanf("%llx %llx", &a, &b) == 2) {
        printf("%llx %llx %llx %llx %llx %x %x %x %x %x %llx %llx %x %x\n",
            (unsigned long long)ud(t_floor(d(a))), (unsigned long long)ud(t_ceil(d(a))),
            (unsigned long long)ud(t_trunc(d(a))), (unsigned long long)ud(t_round(d(a))),
            (unsigned long long)ud(t_sqrt(d(a))),
            uf(t_floorf(f(a))), uf(t_ceilf(f(a))), uf(t_truncf(f(a))), uf(t_roundf(f(a))), uf(t_sqrtf(f(a))),
            (unsigned long long)ud(t_fmin(d(a), d(b))), (unsigned long long)ud(t_fmax(d(a), d(b))),
            uf(t_fminf(f(a), f(b))), uf(t_fmaxf(f(a), f(b))));
    }
    return 0;
}
"#;

/// (function, signature, takes two arguments, f32)
const FUNCTIONS: [(&str, bool, bool); 14] = [
    ("t_floor", false, false),
    ("t_ceil", false, false),
    ("t_trunc", false, false),
    ("t_round", false, false),
    ("t_sqrt", false, false),
    ("t_floorf", false, true),
    ("t_ceilf", false, true),
    ("t_truncf", false, true),
    ("t_roundf", false, true),
    ("t_sqrtf", false, true),
    ("t_fmin", true, false),
    ("t_fmax", true, false),
    ("t_fminf", true, true),
    ("t_fmaxf", true, true),
];

/// Every pair of edge values (f64 and f32 bit patterns alike: an f32
/// function reads the low 32 bits).
fn inputs() -> Vec<(u64, u64)> {
    let values: Vec<u64> = support::F64_EDGES
        .iter()
        .copied()
        .chain(support::F32_EDGES.iter().map(|&f| f as u64))
        .collect();
    values
        .iter()
        .flat_map(|&a| values.iter().map(move |&b| (a, b)))
        .collect()
}

#[test]
fn provided_libm_functions_match_the_system_libm_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("x64wasm-libm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("libm.c");
    std::fs::write(&src, C_SOURCE).unwrap();
    let exe = dir.join("libm");
    // -fno-builtin: real calls into libm, not gcc's inline expansions
    let status = Command::new("gcc")
        .args(["-O2", "-fno-builtin", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-lm")
        .status()
        .expect("gcc (build-essential) is installed");
    assert!(status.success());

    let inputs = inputs();
    let mut child = Command::new(&exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (a, b) in &inputs {
            writeln!(stdin, "{a:x} {b:x}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let native: Vec<Vec<u64>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|h| u64::from_str_radix(h, 16).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(native.len(), inputs.len());

    let image = Image::from_elf(&std::fs::read(&exe).unwrap()).unwrap();
    let mut failures = Vec::new();
    for (k, (name, two, f32)) in FUNCTIONS.iter().enumerate() {
        let ty = if *f32 { "f32" } else { "f64" };
        let params = if *two {
            format!("{ty},{ty}")
        } else {
            ty.to_string()
        };
        let sig = Signature::parse(&format!("{name}({params})->{ty}")).unwrap();
        let module = transpile(&image, &[sig]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut wasm = Wasm::new(&module.wasm);
        for (i, (a, b)) in inputs.iter().enumerate() {
            let arg = |v: u64| {
                if *f32 {
                    wasmi::Val::F32(wasmi::F32::from_bits(v as u32))
                } else {
                    wasmi::Val::F64(wasmi::F64::from_bits(v))
                }
            };
            let args: Vec<wasmi::Val> = if *two {
                vec![arg(*a), arg(*b)]
            } else {
                vec![arg(*a)]
            };
            let got = match wasm.call(name, &args).unwrap() {
                Some(wasmi::Val::F32(v)) => v.to_bits() as u64,
                Some(wasmi::Val::F64(v)) => v.to_bits(),
                other => panic!("{name}: result {other:?}"),
            };
            if got != native[i][k] {
                failures.push(format!(
                    "{name}({a:#x}, {b:#x}): wasm {got:#x}, libm {:#x}",
                    native[i][k]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
