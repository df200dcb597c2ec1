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

/// Fails with the first 20 differences, if any, of `runs` calls.
fn assert_none_differ(failures: &[String], runs: usize) {
    assert!(
        failures.is_empty(),
        "{} of {runs} differ:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// Builds C `source` with gcc into a program named `stem` in a fresh
/// directory; `-fno-builtin`: real calls into libm and libc, not gcc's
/// inline expansions.
fn build_c(stem: &str, source: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("x64wasm-{stem}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{stem}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(stem);
    let status = Command::new("gcc")
        .args(["-O2", "-fno-builtin", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-lm")
        .status()
        .expect("gcc (build-essential) is installed");
    assert!(status.success());
    exe
}

#[test]
fn provided_libm_functions_match_the_system_libm_bit_for_bit() {
    let exe = build_c("libm", C_SOURCE);

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
    assert_none_differ(&failures, inputs.len() * FUNCTIONS.len());
}

// ------------------------------------------------- calls linked from libm/libc

/// C functions that call libm and libc through the PLT (gcc's
/// `-fno-builtin`: real calls, not inline expansions).
const LINKED_SOURCE: &str = r#"
#include <math.h>
#include <stdint.h>
#include <string.h>
double t_sin(double x) { return sin(x); }
double t_cos(double x) { return cos(x); }
double t_tan(double x) { return tan(x); }
double t_exp(double x) { return exp(x); }
double t_log(double x) { return log(x); }
double t_cbrt(double x) { return cbrt(x); }
double t_pow(double x, double y) { return pow(x, y); }
double t_hypot(double x, double y) { return hypot(x, y); }
double t_fma(double x, double y, double z) { return fma(x, y, z); }
float t_sinf(float x) { return sinf(x); }
float t_expf(float x) { return expf(x); }
float t_powf(float x, float y) { return powf(x, y); }
double t_atan2(double y, double x) { return atan2(y, x); }
double t_fmod(double x, double y) { return fmod(x, y); }
double t_asin(double x) { return asin(x); }
double t_sinh(double x) { return sinh(x); }
double t_cosh(double x) { return cosh(x); }
float t_atan2f(float y, float x) { return atan2f(y, x); }
float t_acosf(float x) { return acosf(x); }
uint64_t t_strlen(const char *s) { return strlen(s); }
int64_t t_memchr(const char *s, int64_t c, int64_t n) {
    const char *p = memchr(s, (int)c, (size_t)n);
    return p ? p - s : -1;
}
int main(void) { return 0; }
"#;

/// (export, the libm function it calls, arguments, f32); the last seven
/// are glibc's SVID-compatible wrappers, which read libm's `_LIB_VERSION`
/// on their error paths alone (those paths trap: `data.rs`).
const LINKED: [(&str, &str, usize, bool); 19] = [
    ("t_sin", "sin", 1, false),
    ("t_cos", "cos", 1, false),
    ("t_tan", "tan", 1, false),
    ("t_exp", "exp", 1, false),
    ("t_log", "log", 1, false),
    ("t_cbrt", "cbrt", 1, false),
    ("t_pow", "pow", 2, false),
    ("t_hypot", "hypot", 2, false),
    ("t_fma", "fma", 3, false),
    ("t_sinf", "sinf", 1, true),
    ("t_expf", "expf", 1, true),
    ("t_powf", "powf", 2, true),
    ("t_atan2", "atan2", 2, false),
    ("t_fmod", "fmod", 2, false),
    ("t_asin", "asin", 1, false),
    ("t_sinh", "sinh", 1, false),
    ("t_cosh", "cosh", 1, false),
    ("t_atan2f", "atan2f", 2, true),
    ("t_acosf", "acosf", 1, true),
];

/// A value a libm wrapper's error path may take (`atan2(±0, ±0)`, a
/// divisor of 0, an overflow to ∞, a NaN): ±0, ±∞ or NaN.
fn is_special(bits: u64, f32: bool) -> bool {
    match f32 {
        true => {
            !f32::from_bits(bits as u32).is_normal() && !f32::from_bits(bits as u32).is_subnormal()
        }
        false => !f64::from_bits(bits).is_normal() && !f64::from_bits(bits).is_subnormal(),
    }
}

/// Calls libm's `name` natively on argument bits: looked up in libm itself
/// (`dlsym`, so glibc's function and the variant its IFUNC resolver picked
/// here, not a Rust runtime's own `cbrt` or `fma`).
fn call_native(name: &str, arity: usize, f32: bool, args: &[u64]) -> u64 {
    let libm = std::ffi::CString::new("libm.so.6").unwrap();
    let symbol = std::ffi::CString::new(name).unwrap();
    // SAFETY: dlopen/dlsym with NUL-terminated names; the function types
    // are libm's.
    unsafe {
        let handle = libc::dlopen(libm.as_ptr(), libc::RTLD_LAZY);
        assert!(!handle.is_null());
        let f = libc::dlsym(handle, symbol.as_ptr());
        assert!(!f.is_null(), "{name}");
        let d = |k: usize| f64::from_bits(args[k]);
        let s = |k: usize| f32::from_bits(args[k] as u32);
        match (arity, f32) {
            (1, false) => {
                std::mem::transmute::<*mut libc::c_void, extern "C" fn(f64) -> f64>(f)(d(0))
                    .to_bits()
            }
            (2, false) => std::mem::transmute::<*mut libc::c_void, extern "C" fn(f64, f64) -> f64>(
                f,
            )(d(0), d(1))
            .to_bits(),
            (3, false) => std::mem::transmute::<
                *mut libc::c_void,
                extern "C" fn(f64, f64, f64) -> f64,
            >(f)(d(0), d(1), d(2))
            .to_bits(),
            (1, true) => {
                std::mem::transmute::<*mut libc::c_void, extern "C" fn(f32) -> f32>(f)(s(0))
                    .to_bits() as u64
            }
            (2, true) => {
                std::mem::transmute::<*mut libc::c_void, extern "C" fn(f32, f32) -> f32>(f)(
                    s(0),
                    s(1),
                )
                .to_bits() as u64
            }
            _ => unreachable!(),
        }
    }
}

/// Arguments: every pair of edge values, and random ones (edge bit
/// patterns half the time, else values where these functions change
/// method: near multiples of π/2, exp's overflow and underflow, huge sine
/// arguments, integers and halves as exponents).
fn linked_inputs(arity: usize, f32: bool, rng: &mut support::Rng) -> Vec<Vec<u64>> {
    let edges: Vec<u64> = if f32 {
        support::F32_EDGES.iter().map(|&f| f as u64).collect()
    } else {
        support::F64_EDGES.to_vec()
    };
    let mut inputs: Vec<Vec<u64>> = Vec::new();
    for &a in &edges {
        for &b in &edges[..if arity == 1 { 1 } else { edges.len() }] {
            inputs.push(vec![a, b, edges[(a ^ b) as usize % edges.len()]][..arity].to_vec());
        }
    }
    let special = [
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::PI,
        709.782712893384,
        -745.1332191019412,
        1e22,
        1e300,
        0.5,
        2.0,
        3.0,
        -3.0,
        0.1,
        100.5,
    ];
    for _ in 0..3000 {
        let mut one = || -> u64 {
            match rng.below(3) {
                0 => {
                    if f32 {
                        rng.edgy(32)
                    } else {
                        rng.edgy(64)
                    }
                }
                1 => {
                    let v = rng.pick(&special) * (rng.below(2001) as f64 - 1000.0) / 7.0;
                    if f32 {
                        (v as f32).to_bits() as u64
                    } else {
                        v.to_bits()
                    }
                }
                _ => {
                    let v = (rng.next() as i64 as f64) / (1u64 << rng.below(64)) as f64;
                    if f32 {
                        (v as f32).to_bits() as u64
                    } else {
                        v.to_bits()
                    }
                }
            }
        };
        inputs.push((0..arity).map(|_| one()).collect());
    }
    inputs
}

/// glibc's variants for a CPU with AVX-512 (its EVEX string functions)
/// stay refused; with these tunables the loader picks its AVX2 ones.
const NO_AVX512: &str = "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD";
const CHILD: &str = "X64WASM_LINKED_CHILD";

#[test]
fn libm_and_libc_calls_run_the_variant_this_cpu_runs_bit_for_bit() {
    let exe = build_c("linked", LINKED_SOURCE);
    let mut image = Image::from_elf(&std::fs::read(&exe).unwrap()).unwrap();
    let linked = x64wasm_transpile::link(&mut image).unwrap();
    let strlen = Signature::parse("t_strlen(ptr)->i64").unwrap();

    if std::arch::is_x86_feature_detected!("avx512f") && std::env::var_os(CHILD).is_none() {
        // This process runs glibc's EVEX strlen: refused, naming AVX-512 ...
        let err = transpile(&image, &[strlen]).unwrap_err().to_string();
        assert!(err.contains("AVX-512"), "{err}");
        // ... and with AVX-512 masked from the loader, all runs.
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "libm_and_libc_calls_run_the_variant_this_cpu_runs_bit_for_bit",
                "--nocapture",
            ])
            .env("GLIBC_TUNABLES", NO_AVX512)
            .env(CHILD, "1")
            .status()
            .unwrap();
        assert!(status.success(), "the run with AVX-512 masked failed");
        return;
    }

    // what glibc's IFUNC resolver picked: `sin` names the resolver, the
    // call goes to the variant
    let libm = linked
        .iter()
        .find(|l| l.path.ends_with("libm.so.6"))
        .expect("libm linked");
    let (_, sin) = libm.functions.iter().find(|(n, _)| n == "sin").unwrap();
    assert_ne!(
        Some(*sin),
        image.symbol("sin").map(|s| s.address),
        "{linked:?}"
    );

    let mut rng = support::Rng::new(0x05ee_d11b);
    let mut failures = Vec::new();
    let mut runs = 0;
    for (name, libm_name, arity, f32) in LINKED {
        let ty = if f32 { "f32" } else { "f64" };
        let params = vec![ty; arity].join(",");
        let sig = Signature::parse(&format!("{name}({params})->{ty}")).unwrap();
        let module = transpile(&image, &[sig]).unwrap_or_else(|e| panic!("{name}: {e}"));
        // the wrappers' error paths load `_LIB_VERSION`'s address: named
        let reads_lib_version = module
            .unreadable
            .iter()
            .any(|(_, w)| w.contains("`_LIB_VERSION`"));
        let mut wasm = Wasm::new(&module.wasm);
        let mut traps = 0;
        for args in linked_inputs(arity, f32, &mut rng) {
            let vals: Vec<wasmi::Val> = args
                .iter()
                .map(|&v| match f32 {
                    true => wasmi::Val::F32(wasmi::F32::from_bits(v as u32)),
                    false => wasmi::Val::F64(wasmi::F64::from_bits(v)),
                })
                .collect();
            runs += 1;
            let want = call_native(libm_name, arity, f32, &args);
            let got = match wasm.call(name, &vals) {
                Ok(Some(wasmi::Val::F32(v))) => v.to_bits() as u64,
                Ok(Some(wasmi::Val::F64(v))) => v.to_bits(),
                // a trap only where the wrapper reads `_LIB_VERSION`: on
                // an error path, whose argument or result is special
                Err(e)
                    if reads_lib_version
                        && (args.iter().any(|&a| is_special(a, f32)) || is_special(want, f32)) =>
                {
                    assert!(e.contains("unreachable"), "{name}{args:x?}: {e}");
                    traps += 1;
                    continue;
                }
                other => panic!("{name}{args:x?}: {other:?}"),
            };
            if got != want {
                failures.push(format!("{name}{args:x?}: wasm {got:#x}, native {want:#x}"));
            }
        }
        // a wrapper's error path is reached, and traps, on some edge input
        assert_eq!(
            reads_lib_version,
            traps > 0,
            "{name}: {traps} traps; it reads {:?}",
            module.unreadable
        );
        if traps > 0 {
            eprintln!("{name}: {traps} inputs reach `_LIB_VERSION` and trap");
        }
    }

    // strlen and memchr: strings at every alignment (the variants read
    // whole vectors, and cross pages their own way)
    let memchr = Signature::parse("t_memchr(ptr,i64,i64)->i64").unwrap();
    let module = transpile(&image, &[strlen, memchr]).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    let base = wasm.global_i32("__heap_base") as usize;
    for k in 0..3000 {
        let len = match k % 3 {
            0 => rng.below(40) as usize,
            1 => rng.below(300) as usize,
            _ => 4000 + rng.below(200) as usize,
        };
        let align = rng.below(64) as usize;
        let text: Vec<u8> = (0..len).map(|_| 1 + rng.below(8) as u8).collect();
        let at = base + align;
        let mem = wasm.mem();
        mem[at..at + len].copy_from_slice(&text);
        mem[at + len] = 0;
        // what follows the string (read by whole vectors) is not zero
        mem[at + len + 1..at + len + 80].fill(0x55);
        let got = wasm
            .call("t_strlen", &[wasmi::Val::I32(at as i32)])
            .unwrap()
            .and_then(|v| v.i64());
        let bytes = [text.as_slice(), &[0]].concat();
        // SAFETY: a NUL-terminated string (libc's own strlen, natively).
        let want = unsafe { libc::strlen(bytes.as_ptr().cast()) } as i64;
        if got != Some(want) {
            failures.push(format!(
                "strlen of {len} bytes at +{align}: wasm {got:?}, native {want}"
            ));
        }
        let c = 1 + rng.below(9) as i64;
        let n = rng.below(len as u64 + 2) as i64;
        let got = wasm
            .call(
                "t_memchr",
                &[
                    wasmi::Val::I32(at as i32),
                    wasmi::Val::I64(c),
                    wasmi::Val::I64(n),
                ],
            )
            .unwrap()
            .and_then(|v| v.i64());
        // SAFETY: n ≤ len + 1 bytes of `bytes`.
        let found = unsafe { libc::memchr(bytes.as_ptr().cast(), c as i32, n as usize) };
        let want = match found.is_null() {
            true => -1,
            false => found as i64 - bytes.as_ptr() as i64,
        };
        if got != Some(want) {
            failures.push(format!(
                "memchr({c}, {n}) in {len} bytes at +{align}: wasm {got:?}, native {want}"
            ));
        }
        runs += 2;
    }
    assert_none_differ(&failures, runs);
    eprintln!("{runs} calls into libm and libc, bit-exact");
}

/// What a linked library sets up while the process runs, and a program's
/// own look at MXCSR's flags: refused by name, never read from the file.
const STATE_SOURCE: &str = r#"
#include <ctype.h>
#include <errno.h>
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <time.h>
int log_errno(double x) { errno = 0; volatile double r = log(x); (void)r; return errno; }
int up(int c) { return toupper(c); }
long parse(int k) { return strtol(k ? " 42" : "42", 0, 10); }
long env(int k) { char *s = getenv("HOME"); return s ? k : -1; }
long out(int k) { return (long)(stdout != 0) + k; }
int flags(double x) { _mm_setcsr(_mm_getcsr() & ~0x3f); volatile double r = x * x; (void)r; return _mm_getcsr() & 0x3f; }
long aux(long a) { return (long)getauxval(a); }
long usable(long n) { void *p = malloc(n); return (long)malloc_usable_size(p); }
int sqrt_errno(double x) { errno = 0; volatile double r = sqrt(x); (void)r; return errno; }
long clock_of_thread(long a) { clockid_t c = 0; return pthread_getcpuclockid(pthread_self(), &c) + a; }
/* a binary built against an older glibc: the versions it asks for */
int totalorder_2_25(double, double);
__asm__(".symver totalorder_2_25,totalorder@GLIBC_2.25");
int total(double x, double y) { return totalorder_2_25(x, y); }
double log_2_2_5(double);
__asm__(".symver log_2_2_5,log@GLIBC_2.2.5");
double old_log(double x) { return log_2_2_5(x); }
int main(void) { return 0; }
"#;

#[test]
fn errno_is_shared_and_run_time_state_is_refused_by_name() {
    let exe = build_c("state", STATE_SOURCE);
    let mut image = Image::from_elf(&std::fs::read(&exe).unwrap()).unwrap();
    x64wasm_transpile::link(&mut image).unwrap();

    // errno: what libm's log sets is what the program reads (libc's
    // slot), and so is what the module's own sqrt sets
    let sigs =
        ["log_errno(f64)->i32", "sqrt_errno(f64)->i32"].map(|s| Signature::parse(s).unwrap());
    let module = transpile(&image, &sigs).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    for (export, libm_name) in [("log_errno", c"log"), ("sqrt_errno", c"sqrt")] {
        for x in [
            0.0,
            -1.0,
            2.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e-320,
            -1e-320,
        ] {
            let got = wasm
                .call(export, &[wasmi::Val::F64(x.into())])
                .unwrap()
                .and_then(|v| v.i32());
            // natively: errno after libm's own function
            let want = unsafe {
                *libc::__errno_location() = 0;
                let libm = std::ffi::CString::new("libm.so.6").unwrap();
                let handle = libc::dlopen(libm.as_ptr(), libc::RTLD_LAZY);
                let f = libc::dlsym(handle, libm_name.as_ptr());
                let f = std::mem::transmute::<*mut libc::c_void, extern "C" fn(f64) -> f64>(f);
                std::hint::black_box(f(x));
                *libc::__errno_location()
            };
            assert_eq!(got, Some(want), "errno after {libm_name:?}({x})");
        }
    }

    // the version the binary asks for (totalorder@GLIBC_2.25 takes two
    // doubles; the newest takes two pointers), against the native call of
    // that version
    let sig = Signature::parse("total(f64,f64)->i32").unwrap();
    let module = transpile(&image, &[sig]).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    let old = unsafe {
        let libm = std::ffi::CString::new("libm.so.6").unwrap();
        let handle = libc::dlopen(libm.as_ptr(), libc::RTLD_LAZY);
        let f = libc::dlvsym(handle, c"totalorder".as_ptr(), c"GLIBC_2.25".as_ptr());
        assert!(!f.is_null());
        std::mem::transmute::<*mut libc::c_void, extern "C" fn(f64, f64) -> i32>(f)
    };
    for (x, y) in [
        (2.0, 1.0),
        (1.0, 2.0),
        (f64::NAN, 0.0),
        (-0.0, 0.0),
        (0.0, -0.0),
    ] {
        let got = wasm
            .call(
                "total",
                &[wasmi::Val::F64(x.into()), wasmi::Val::F64(y.into())],
            )
            .unwrap()
            .and_then(|v| v.i32());
        assert_eq!(got, Some(old(x, y)), "totalorder@GLIBC_2.25({x}, {y})");
    }

    // (export, what its error names)
    let refused = [
        (
            "aux(i64)->i64",
            "`_rtld_global_ro`, a variable of another shared object",
        ),
        ("usable(i64)->i64", "imported `malloc_usable_size`"),
        (
            "clock_of_thread(i64)->i64",
            "the thread's descriptor (fs:0x10)",
        ),
        ("up(i32)->i32", "thread-local variable of libc.so.6"),
        ("parse(i32)->i64", "thread-local variable of libc.so.6"),
        ("env(i32)->i64", "libc.so.6's .bss"),
        ("out(i32)->i64", "`stdout`, a shared library's variable"),
        ("flags(f64)->i32", "stmxcsr"),
    ];
    for (export, names) in refused {
        let sig = Signature::parse(export).unwrap();
        let err = transpile(&image, &[sig]).expect_err(export).to_string();
        assert!(err.contains(names), "{export}: {err}");
    }

    // the old log reads libm's `_LIB_VERSION` on its error path (x ≤ 0)
    // alone: that path traps, the others run, and the variable is named
    let sig = Signature::parse("old_log(f64)->f64").unwrap();
    let module = transpile(&image, &[sig]).unwrap();
    assert!(
        module
            .unreadable
            .iter()
            .any(|(at, w)| at.starts_with("`log`")
                && w.contains("`_LIB_VERSION`, a variable in libm.so.6's .data")),
        "{:?}",
        module.unreadable
    );
    let mut wasm = Wasm::new(&module.wasm);
    let log = |wasm: &mut Wasm, x: f64| wasm.call("old_log", &[wasmi::Val::F64(x.into())]);
    let e = log(&mut wasm, std::f64::consts::E)
        .unwrap()
        .and_then(|v| v.f64());
    assert_eq!(e.map(f64::from), Some(1.0));
    assert!(log(&mut wasm, -1.0).is_err_and(|e| e.contains("unreachable")));
}
