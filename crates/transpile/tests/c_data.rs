//! Data reached through pointers, in C as gcc compiles it: a static table
//! of pointers summed in a loop, a table of strings indexed at run time, and
//! a local array of pointers initialised by a block copy (`rep movsq`) from
//! an unnamed relocated object. A gcc-built program runs the functions
//! natively; transpiled, they must give the same results on every input.
//! (Before objects were placed whole, these read zeros: 6 came out 1, 119
//! came out 0, and 35 of 36 pointers were NULL.) And state machines: a
//! `switch` in a loop on a state each case sets, whose jump table only the
//! states that reach it bound (`ranges.rs`), at -O1, -O2 and -Os, and a
//! computed goto (`goto *ops[k]` over a table of label addresses), and a
//! `switch` whose case gcc moved to the function's cold part; a table in
//! writable data refused, a load that touches a GOT slot of run-time state
//! a trap. And
//! AVX2's gathers, through gcc's intrinsics.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::Wasm;
use x64wasm_transpile::{transpile, Image, Signature};

/// Builds `source` with gcc and `flags` into `dir/name`.
fn gcc(dir: &std::path::Path, name: &str, source: &str, flags: &[&str]) -> std::path::PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let status = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("gcc (build-essential) is installed");
    assert!(status.success(), "gcc {flags:?} {name}.c");
    exe
}

/// The image of the ELF file at `path`.
fn image_of(path: &std::path::Path) -> Image {
    Image::from_elf(&std::fs::read(path).unwrap()).unwrap()
}

/// A fresh directory for one test's files.
fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("x64wasm-c-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A C `main` for `names` (each `u64 NAME(u64, u64)`): for each line
/// `x y` on standard input, a line of their results, in order, as
/// [`run_native`] reads them.
fn driver(names: &[&str]) -> String {
    let formats = vec!["%llu"; names.len()].join(" ");
    let calls: String = names
        .iter()
        .map(|n| format!(", (unsigned long long){n}(x, y)"))
        .collect();
    format!(
        "int main(void) {{\n    unsigned long long x, y;\n    while (scanf(\"%llu %llu\", &x, &y) == 2)\n        \
         printf(\"{formats}\\n\"{calls});\n    return 0;\n}}\n"
    )
}

/// Runs `exe` with one line `x y` per input on its standard input: each
/// line of its output, as numbers.
fn run_native<T: std::fmt::Display, N: std::str::FromStr>(
    exe: &std::path::Path,
    inputs: &[(T, T)],
) -> Vec<Vec<N>>
where
    N::Err: std::fmt::Debug,
{
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (x, y) in inputs {
            writeln!(stdin, "{x} {y}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let native: Vec<Vec<N>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(native.len(), inputs.len());
    native
}

/// Each of `names` (a function `NAME(u64,u64)->u64` of `exe`, column k
/// of `native`) transpiled and called on `inputs`: the differences.
fn differences(
    exe: &std::path::Path,
    names: &[&str],
    inputs: &[(u64, u64)],
    native: &[Vec<u64>],
) -> Vec<String> {
    let image = image_of(exe);
    let what = exe.file_name().unwrap().to_string_lossy();
    let mut failures = Vec::new();
    for (column, name) in names.iter().enumerate() {
        let sig = Signature::parse(&format!("{name}(u64,u64)->u64")).unwrap();
        let module = transpile(&image, &[sig]).unwrap_or_else(|e| panic!("{name} ({what}): {e}"));
        let mut wasm = Wasm::new(&module.wasm);
        for (i, &(x, y)) in inputs.iter().enumerate() {
            let args = [wasmi::Val::I64(x as i64), wasmi::Val::I64(y as i64)];
            let got = match wasm.call(name, &args) {
                Ok(Some(wasmi::Val::I64(v))) => v as u64,
                other => panic!("{name}({x}, {y}) ({what}): {other:?}"),
            };
            if got != native[i][column] {
                failures.push(format!(
                    "{name}({x}, {y}) ({what}): wasm {got:#x}, native {:#x}",
                    native[i][column]
                ));
            }
        }
    }
    failures
}

const C_SOURCE: &str = r#"
#include <stdio.h>
static int a = 1, b = 2;
static int *tbl[4] = {&a, &b, &a, &b};
static const char *names[5] = {"alpha", "beta", "gamma", "delta", "epsilon"};

int sum_tbl(int n) {
    int s = 0;
    for (int i = 0; i < (n & 3) + 1; i++) s += *tbl[i];
    return s;
}

int name_char(int i, int j) {
    const char *name = names[(unsigned)i % 5];
    return name[(unsigned)j % 4];
}

long local_ptrs(int k, int j) {
    const char *words[36] = {
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
        "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
        "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "twentyone",
        "twentytwo", "twentythree", "twentyfour", "twentyfive", "twentysix",
        "twentyseven", "twentyeight", "twentynine", "thirty", "thirtyone",
        "thirtytwo", "thirtythree", "thirtyfour", "thirtyfive"};
    const char *w = words[(unsigned)k % 36];
    long s = 0;
    for (int i = 0; w[i]; i++) s = s * 31 + w[i];
    return s + w[(unsigned)j % 3];
}

int main(void) {
    int x, y;
    while (scanf("%d %d", &x, &y) == 2)
        printf("%d %d %ld\n", sum_tbl(x), name_char(x, y), local_ptrs(x, y));
    return 0;
}
"#;

#[test]
fn tables_of_pointers_in_c_read_as_on_the_cpu() {
    let dir = scratch_dir("data");
    // -fno-inline: each function as its own symbol; a PIE, as gcc makes by
    // default, so the pointer tables are relocated data.
    let exe = gcc(
        &dir,
        "data",
        C_SOURCE,
        &["-O2", "-fno-inline", "-fPIE", "-pie"],
    );
    let disassembly = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(&exe)
        .output()
        .expect("objdump (binutils)");
    let text = String::from_utf8_lossy(&disassembly.stdout);
    assert!(
        text.contains("rep movsq"),
        "gcc copies the 36 pointers with rep movsq"
    );

    let inputs: Vec<(i32, i32)> = (-40..40)
        .flat_map(|x| [(x, x * 7 + 3), (x * 1_000_003, -x)])
        .collect();
    let native: Vec<Vec<i64>> = run_native(&exe, &inputs);

    let image = image_of(&exe);
    // (function, signature, column of the native output)
    let functions = [
        ("sum_tbl", "sum_tbl(i32)->i32", 0),
        ("name_char", "name_char(i32,i32)->i32", 1),
        ("local_ptrs", "local_ptrs(i32,i32)->i64", 2),
    ];
    let mut failures = Vec::new();
    for (name, signature, column) in functions {
        let sig = Signature::parse(signature).unwrap();
        let module = transpile(&image, &[sig]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut wasm = Wasm::new(&module.wasm);
        for (i, (x, y)) in inputs.iter().enumerate() {
            let args: Vec<wasmi::Val> = if name == "sum_tbl" {
                vec![wasmi::Val::I32(*x)]
            } else {
                vec![wasmi::Val::I32(*x), wasmi::Val::I32(*y)]
            };
            let got = match wasm.call(name, &args).unwrap() {
                Some(wasmi::Val::I32(v)) => v as i64,
                Some(wasmi::Val::I64(v)) => v,
                other => panic!("{name}: result {other:?}"),
            };
            if got != native[i][column] {
                failures.push(format!(
                    "{name}({x}, {y}): wasm {got}, native {}",
                    native[i][column]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Switches in loops on a state each case sets: by constants (`cycle`, an
/// attack review's case, whose table a too-small range once cut to two
/// of six entries at -O1: every input trapped), by `cond ? a : b`
/// (`bits`), over the bytes of the arguments (`tokens`), and by shifts,
/// masks and `xor` (`bytecode`); and a switch whose index a loop masks
/// further, a loop some inputs skip (`masked`: a second attack review's
/// case, whose table the loop's mask once cut to 4 of 16 entries).
const STATE_MACHINES: &str = r#"
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#define N __attribute__((noinline))
typedef uint64_t u64;
N u64 cycle(u64 a, u64 b) {
    unsigned st = 0; u64 acc = b;
    for (int i = 0; i < 16; i++) {
        switch (st) {
        case 0: acc += a; st = 1; break;
        case 1: acc ^= acc >> 3; st = 2; break;
        case 2: acc *= 5; st = 3; break;
        case 3: acc += 7; st = 4; break;
        case 4: acc ^= a << 1; st = 5; break;
        case 5: acc -= 3; st = 0; break;
        }
    }
    return acc;
}
N u64 bits(u64 a, u64 b) {
    unsigned char st = 0; u64 acc = 0;
    for (int i = 0; i < 64; i++) {
        unsigned bit = (a >> i) & 1;
        switch (st) {
        case 0: acc += 1; st = bit ? 1 : 2; break;
        case 1: acc ^= i; st = bit ? 3 : 0; break;
        case 2: acc *= 3; st = bit ? 4 : 5; break;
        case 3: acc += b; st = 6; break;
        case 4: acc -= 7; st = bit ? 2 : 7; break;
        case 5: acc = acc * 5 + 1; st = bit ? 1 : 3; break;
        case 6: acc ^= acc >> 3; st = bit * 2 + 2; break;
        case 7: acc += i * i; st = 0; break;
        }
    }
    return acc * 8 + st;
}
N u64 tokens(u64 a, u64 b) {
    unsigned char buf[16]; memcpy(buf, &a, 8); memcpy(buf + 8, &b, 8);
    enum { S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11 } st = S0;
    u64 tok = 0, h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++) {
        unsigned char c = buf[i] % 12;
        switch (st) {
        case S0: st = c < 4 ? S1 : c < 8 ? S2 : S3; break;
        case S1: tok++; st = (c & 1) ? S4 : S5; break;
        case S2: h ^= c; st = S6; break;
        case S3: h *= 1099511628211ull; st = (c > 6) ? S7 : S8; break;
        case S4: st = S9; break;
        case S5: h += tok; st = S10; break;
        case S6: st = (c == 3) ? S11 : S0; break;
        case S7: h ^= h >> 17; st = S1; break;
        case S8: st = S2; break;
        case S9: tok += 3; st = S0; break;
        case S10: h -= 5; st = S3; break;
        case S11: h ^= 0xabcdef; st = S5; break;
        }
        h = h * 31 + st;
    }
    return h ^ tok;
}
N u64 bytecode(u64 a, u64 b) {
    unsigned st = 1; u64 acc = a;
    for (int i = 0; i < 50; i++) {
        switch (st) {
        case 0: acc += b; st = (acc & 7) | 8; st &= 0xd; break;
        case 1: acc ^= acc << 7; st = ((acc >> 5) & 3) ^ 2; break;
        case 2: acc *= 0x9e3779b97f4a7c15ull; st = (unsigned)(acc >> 61); break;
        case 3: acc += 0x1234; st = 14 - ((acc >> 3) & 7); break;
        case 4: acc = ~acc; st = 9; break;
        case 5: acc -= i; st = (acc & 1) << 3 | 4; break;
        case 6: acc ^= acc >> 11; st = 11; break;
        case 7: acc += acc << 2; st = 0; break;
        case 8: acc ^= 0xff; st = 3; break;
        case 9: acc = acc * 3 + 1; st = 6 ^ (acc & 1); break;
        case 10: acc -= b; st = 12; break;
        case 11: acc ^= b << 1; st = 1 + (acc % 5); break;
        case 12: acc += i * 7; st = 13 - (acc & 3); break;
        case 13: acc ^= acc >> 29; st = 5; break;
        case 14: acc *= 5; st = 2; break;
        }
    }
    return acc * 16 + st;
}
N u64 masked(u64 a, u64 b) {
    /* the table's index masked to 15, and to 3 in a loop that b & 7 == 0
       skips */
    unsigned s = a & 15;
    for (u64 i = 0; i < (b & 7); i++) s = ((s * 7 + i) >> 1) & 3;
    switch (s) {
    case 0: return b + 1;   case 1: return b * 3;   case 2: return b ^ 0x99;  case 3: return b - 7;
    case 4: return b << 3;  case 5: return b >> 2;  case 6: return b | 0x40;  case 7: return b * 11;
    case 8: return b + 100; case 9: return ~b;      case 10: return b & 0xff; case 11: return b * b;
    case 12: return b - 1;  case 13: return b + 13; case 14: return b ^ 14;   case 15: return b * 15;
    }
    return 0;
}
__attribute__((cold, noinline)) u64 rare(u64 x) { return x * 7 + 3; }
N u64 cold_case(u64 a, u64 b) {
    /* the case calling a cold function moves, at -O2, to `cold_case.cold`
       (.text.unlikely): an entry of the jump table is there */
    switch (a % 9) {
    case 0: return b + 1;  case 1: return b * 3;  case 2: return rare(b) ^ 5;
    case 3: return b - 7;  case 4: return b << 3; case 5: return b >> 2;
    case 6: return b | 0x40; case 7: return b * 11; default: return ~b;
    }
}
N u64 dispatch(u64 a, u64 b) {
    /* one computed goto, which gcc -fPIE reads in the jump itself:
       jmp [rax + 8*i] */
    static void *const t[4] = {&&l0, &&l1, &&l2, &&l3};
    goto *t[a & 3];
l0: return b + 11;
l1: return b * 7;
l2: return b ^ 0x5a5a;
l3: return b >> 3;
}
N u64 threaded(u64 a, u64 b) {
    /* a computed goto (labels as values): a threaded interpreter over the
       nibbles of a, jumping through a table of label addresses */
    static void *const ops[8] = {&&add, &&mul, &&rot, &&mix, &&sub, &&shr, &&swap, &&end};
    u64 acc = b, other = a;
    int i = 0;
#define NEXT do { if (i == 16) return acc ^ other; goto *ops[(a >> (4 * i++)) & 7]; } while (0)
    NEXT;
add: acc += 0x9e37; NEXT;
mul: acc *= 31; NEXT;
rot: acc = (acc << 7) | (acc >> 57); NEXT;
mix: acc ^= other; NEXT;
sub: acc -= i; NEXT;
shr: acc >>= 3; NEXT;
swap: { u64 t = acc; acc = other; other = t; } NEXT;
end: return acc + 1;
}
"#;

#[test]
fn state_machines_in_c_run_as_on_the_cpu() {
    let dir = scratch_dir("states");
    let mut rng = support::Rng::new(0x57a7e);
    let mut inputs: Vec<(u64, u64)> = vec![(0, 0), (1, 1), (u64::MAX, 0), (0, u64::MAX)];
    inputs.extend((0..300).map(|_| (rng.next(), rng.next())));
    let mut failures = Vec::new();
    let names = [
        "cycle",
        "bits",
        "tokens",
        "bytecode",
        "masked",
        "threaded",
        "dispatch",
        "cold_case",
    ];
    // (the last non-PIE: tables hold absolute addresses, no relocations)
    for (level, pie) in [
        ("-O1", "-pie"),
        ("-O2", "-pie"),
        ("-Os", "-pie"),
        ("-O2", "-no-pie"),
    ] {
        let position = if pie == "-pie" { "-fPIE" } else { "-fno-pie" };
        let exe = gcc(
            &dir,
            &format!("states{level}{pie}"),
            &format!("{STATE_MACHINES}{}", driver(&names)),
            &[level, position, pie],
        );
        let native = run_native(&exe, &inputs);
        if level == "-O2" {
            // (what the cold case tests: gcc still moves it)
            let image = image_of(&exe);
            assert!(
                image.symbol("cold_case.cold").is_some(),
                "gcc -O2 made no cold part"
            );
        }
        failures.extend(differences(&exe, &names, &inputs, &native));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// AVX2's gathers as gcc's intrinsics emit them: dword and qword indices
/// (negative ones from the middle of a table), dword and qword elements,
/// 128 and 256 bits, masks with some elements off (kept from the source),
/// scales 1, 4 and 8; each function folds the gathered vector into a u64.
const GATHERS: &str = r#"
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#define N __attribute__((noinline))
typedef uint64_t u64;
TABLES
static u64 fold(const void *p, int n) {
    const unsigned char *b = p; u64 h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
static __m256i idx32(u64 a, int lo) {
    int32_t v[8]; for (int k = 0; k < 8; k++) v[k] = (int32_t)((a >> (6 * k)) & 63) + lo;
    return _mm256_loadu_si256((const __m256i *)v);
}
static __m256i idx64(u64 a, int lo) {
    int64_t v[4]; for (int k = 0; k < 4; k++) v[k] = (int64_t)((a >> (6 * k)) & 63) + lo;
    return _mm256_loadu_si256((const __m256i *)v);
}
static __m256i mask32(u64 b) {
    int32_t v[8]; for (int k = 0; k < 8; k++) v[k] = (b >> k) & 1 ? -1 - k : k;
    return _mm256_loadu_si256((const __m256i *)v);
}
static __m256i mask64(u64 b) {
    int64_t v[4]; for (int k = 0; k < 4; k++) v[k] = (b >> k) & 1 ? -1 - k : k;
    return _mm256_loadu_si256((const __m256i *)v);
}
N u64 g_dd(u64 a, u64 b) {
    __m256i r = _mm256_mask_i32gather_epi32(_mm256_set1_epi32((int)b), ti, idx32(a, 0), mask32(b), 4);
    return fold(&r, 32);
}
N u64 g_dd128(u64 a, u64 b) {
    __m128i r = _mm_mask_i32gather_epi32(_mm_set1_epi32((int)(b >> 8)), ti + 32,
        _mm256_castsi256_si128(idx32(a, -32)), _mm256_castsi256_si128(mask32(b)), 4);
    return fold(&r, 16);
}
N u64 g_dq(u64 a, u64 b) {
    __m256i r = _mm256_mask_i32gather_epi64(_mm256_set1_epi64x((long long)b), (const long long *)tq,
        _mm256_castsi256_si128(idx32(a, 0)), mask64(b), 8);
    return fold(&r, 32);
}
N u64 g_qd(u64 a, u64 b) {
    __m128i r = _mm256_mask_i64gather_epi32(_mm_set1_epi32((int)a), ti, idx64(a, 0),
        _mm256_castsi256_si128(mask32(b)), 4);
    return fold(&r, 16);
}
N u64 g_qd128(u64 a, u64 b) {
    __m128i r = _mm_mask_i64gather_epi32(_mm_set1_epi32((int)a), ti,
        _mm256_castsi256_si128(idx64(a, 0)), _mm256_castsi256_si128(mask32(b)), 4);
    return fold(&r, 16);
}
N u64 g_qq(u64 a, u64 b) {
    __m256i r = _mm256_mask_i64gather_epi64(_mm256_set1_epi64x((long long)a), (const long long *)tq + 32,
        idx64(a, -32), mask64(b), 8);
    return fold(&r, 32);
}
N u64 g_ps(u64 a, u64 b) {
    __m256 r = _mm256_mask_i32gather_ps(_mm256_set1_ps(1.5f), tf, idx32(a, 0),
        _mm256_castsi256_ps(mask32(b)), 4);
    return fold(&r, 32);
}
N u64 g_pd(u64 a, u64 b) {
    __m256d r = _mm256_mask_i64gather_pd(_mm256_set1_pd(2.5), td, idx64(a, 0),
        _mm256_castsi256_pd(mask64(b)), 8);
    return fold(&r, 32);
}
N u64 g_bytes(u64 a, u64 b) {
    /* scale 1: byte offsets, all elements on */
    __m256i off = _mm256_slli_epi32(idx32(a, 0), 2);
    __m256i r = _mm256_i32gather_epi32((const int *)ti, off, 1);
    return fold(&r, 32) ^ b;
}
"#;

#[test]
fn gathers_in_c_run_as_on_the_cpu() {
    if !std::arch::is_x86_feature_detected!("avx2") {
        eprintln!("skipped: this CPU has no AVX2");
        return;
    }
    let dir = scratch_dir("gathers");
    // the tables the gathers read, as constant data (in the image)
    let table = |ty: &str, name: &str, value: &dyn Fn(u64) -> String| {
        let values: Vec<String> = (0..64).map(value).collect();
        format!(
            "static const {ty} {name}[64] = {{{}}};\n",
            values.join(", ")
        )
    };
    let tables = [
        table("int32_t", "ti", &|i| {
            format!("{}", i.wrapping_mul(2_654_435_761) as u32 as i32)
        }),
        table("int64_t", "tq", &|i| {
            format!("(int64_t){}ull", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        }),
        table("float", "tf", &|i| format!("{i}/3.0f-7.0f")),
        table("double", "td", &|i| format!("{i}*1.25e300-4e301")),
    ]
    .concat();
    let names = [
        "g_dd", "g_dd128", "g_dq", "g_qd", "g_qd128", "g_qq", "g_ps", "g_pd", "g_bytes",
    ];
    let source = GATHERS.replace("TABLES", &tables) + &driver(&names);
    let exe = gcc(
        &dir,
        "gathers",
        &source,
        &["-O2", "-mavx2", "-fPIE", "-pie"],
    );
    let disassembly = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(&exe)
        .output()
        .expect("objdump (binutils)");
    let text = String::from_utf8_lossy(&disassembly.stdout);
    for mnemonic in [
        "vpgatherdd",
        "vpgatherdq",
        "vpgatherqd",
        "vpgatherqq",
        "vgatherdps",
        "vgatherqpd",
    ] {
        assert!(text.contains(mnemonic), "gcc emits {mnemonic}");
    }
    let mut rng = support::Rng::new(0x6a7e);
    let mut inputs: Vec<(u64, u64)> = vec![(0, 0), (u64::MAX, u64::MAX), (0, u64::MAX)];
    inputs.extend((0..300).map(|_| (rng.next(), rng.next())));
    let native = run_native(&exe, &inputs);
    let failures = differences(&exe, &names, &inputs, &native);
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `goto` through a table the program writes (gcc non-PIE makes it
/// `jmp [table + 8*i]` into `.data`).
const WRITABLE_TABLE: &str = r#"
long f_writable(long a, long b) {
    static void *tbl[] = {&&w0, &&w1};
    if (a == 7) tbl[1] = &&w2;
    goto *tbl[a & 1];
w0: return b + 1;
w1: return b + 2;
w2: return b + 3;
}
int main(void) { return 0; }
"#;

/// Hand-written: a 16-byte load whose upper half is `stdout`'s GOT slot,
/// after a branch.
const SPANNING_LOAD: &str = r#"
    .intel_syntax noprefix
    .text
    .globl f_span
    .type f_span, @function
f_span:
    cmp rdi, 5
    jg 1f
    mov rax, rdi
    ret
1:  movdqu xmm0, [rip + stdout@GOTPCREL - 8]
    pextrq rax, xmm0, 1
    test rax, rax
    setne al
    movzx eax, al
    ret
    .size f_span, .-f_span
    .section .note.GNU-stack,"",@progbits
"#;

/// What the loader decides: weak symbols no object defines (0), and a
/// library's thread-local variable (its offset in the thread).
const LOADER_DECIDES: &str = r#"
extern int no_such_var __attribute__((weak));
extern int no_such_fn(int) __attribute__((weak));
extern __thread long lib_counter;
extern double cbrt(double) __attribute__((weak)); /* no -lm */
extern void mi_free(void *) __attribute__((weak)); /* a module builtin */
long f_weakcbrt(long a, long b) { return cbrt ? (long)cbrt((double)a) : -1; }
long f_weakmi(long a, long b) { return mi_free != 0; }
long f_weakvar(long a, long b) { return (&no_such_var != 0) * 10 + a; }
long f_weakfn(long a, long b) { return no_such_fn != 0; }
long f_weakread(long a, long b) { if (a > 5 && &no_such_var) return no_such_var; return -1; }
long f_tls(long a, long b) { if (a > 5) return lib_counter; return a + b; }
int main(void) { return 0; }
"#;

/// Data reached in the large code model (addresses as 64-bit immediates),
/// and passed on as 32-bit immediates (non-PIE: `mov edi, offset tab`).
const LARGE_MODEL: &str = r#"
long counter = 41;
const int table[4] = {10, 20, 30, 40};
long tab[4] = {100, 200, 300, 5};
long gv = 1234;
__attribute__((noinline)) long sum(long *p, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) s += p[i];
    return s;
}
long f_global(long a, long b) { return counter + a; }
long f_table(long a, long b) { return table[a & 3] + b; }
long f_tab(long a, long b) { return sum(tab, 4) + a; }
long f_gv(long a, long b) { return sum(&gv, 1) + a; }
int main(void) { return 0; }
"#;

#[test]
fn what_the_loader_decides_is_refused_or_traps_and_the_large_model_runs_or_is_refused() {
    let dir = scratch_dir("loader");
    std::fs::write(dir.join("tls.c"), "__thread long lib_counter = 1000;\n").unwrap();
    let lib = dir.join("libtls.so");
    let status = Command::new("gcc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(dir.join("tls.c"))
        .status()
        .unwrap();
    assert!(status.success());
    let exe = gcc(
        &dir,
        "loader",
        LOADER_DECIDES,
        &["-O2", "-Wl,--no-as-needed", lib.to_str().unwrap()],
    );
    let mut image = image_of(&exe);
    x64wasm_transpile::link(&mut image).unwrap();
    // (export, a = 9: refused, or the input that traps and one that runs)
    let cases = [
        ("f_weakvar", None),
        ("f_weakfn", None),
        ("f_weakcbrt", None),
        ("f_weakmi", None),
        ("f_weakread", Some((9, Some(-1)))),
        ("f_tls", Some((9, Some(4)))),
    ];
    for (name, runs) in cases {
        let sig = Signature::parse(&format!("{name}(i64,i64)->i64")).unwrap();
        let made = transpile(&image, &[sig]);
        let Some((traps_on, _)) = runs else {
            let err = made.expect_err(name).to_string();
            assert!(err.contains("a weak symbol: 0 unless"), "{name}: {err}");
            continue;
        };
        let mut wasm = Wasm::new(&made.unwrap_or_else(|e| panic!("{name}: {e}")).wasm);
        let call = |wasm: &mut Wasm, a: i64| {
            wasm.call(name, &[wasmi::Val::I64(a), wasmi::Val::I64(3)])
                .map(|v| v.and_then(|v| v.i64()))
        };
        assert!(call(&mut wasm, traps_on).is_err(), "{name}");
        let ran = call(&mut wasm, 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(ran == Some(-1) || ran == Some(4), "{name}: {ran:?}");
    }
    // non-PIE, addresses as immediates (64-bit in the large code model,
    // 32-bit passed on in either): runs; the large model with -fPIC,
    // offsets from the GOT's address: refused
    let native = [
        ("f_global", 50),
        ("f_table", 23),
        ("f_tab", 614),
        ("f_gv", 1243),
    ];
    for (stem, model) in [("large", "-mcmodel=large"), ("small", "-mcmodel=small")] {
        let exe = gcc(
            &dir,
            stem,
            LARGE_MODEL,
            &["-O2", model, "-fno-pie", "-no-pie"],
        );
        let image = image_of(&exe);
        for (name, want) in native {
            let sig = Signature::parse(&format!("{name}(i64,i64)->i64")).unwrap();
            let module = transpile(&image, &[sig]).unwrap_or_else(|e| panic!("{name}: {e}"));
            let got = Wasm::new(&module.wasm)
                .call(name, &[wasmi::Val::I64(9), wasmi::Val::I64(3)])
                .map(|v| v.and_then(|v| v.i64()));
            assert_eq!(got, Ok(Some(want)), "{name} ({model})");
        }
    }
    let exe = gcc(
        &dir,
        "large-pic",
        LARGE_MODEL,
        &["-O2", "-mcmodel=large", "-fPIC"],
    );
    let image = image_of(&exe);
    for (name, _) in &native[..2] {
        let sig = Signature::parse(&format!("{name}(i64,i64)->i64")).unwrap();
        let err = transpile(&image, &[sig]).expect_err(name).to_string();
        assert!(err.contains("-mcmodel=large"), "{name}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_the_program_may_change_is_refused_and_a_load_of_state_traps() {
    let dir = scratch_dir("writable");
    // a table in writable data: what it holds when the jump runs is the
    // program's, not the file's
    let exe = gcc(
        &dir,
        "writable",
        WRITABLE_TABLE,
        &["-O2", "-fno-pie", "-no-pie"],
    );
    let image = image_of(&exe);
    let sig = Signature::parse("f_writable(i64,i64)->i64").unwrap();
    let err = transpile(&image, &[sig])
        .expect_err("a writable table")
        .to_string();
    assert!(err.contains("in writable data"), "{err}");
    // a load that reaches into a GOT slot of run-time state from below
    let src = dir.join("span.s");
    std::fs::write(&src, SPANNING_LOAD).unwrap();
    let lib = dir.join("libspan.so");
    let status = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    let mut image = image_of(&lib);
    x64wasm_transpile::link(&mut image).unwrap();
    let sig = Signature::parse("f_span(i64,i64)->i64").unwrap();
    let module = transpile(&image, &[sig]).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    let call = |wasm: &mut Wasm, a: i64| {
        wasm.call("f_span", &[wasmi::Val::I64(a), wasmi::Val::I64(3)])
            .map(|v| v.and_then(|v| v.i64()))
    };
    assert_eq!(call(&mut wasm, 1), Ok(Some(1)));
    assert!(call(&mut wasm, 9).is_err_and(|e| e.contains("unreachable")));
    let _ = std::fs::remove_dir_all(&dir);
}
