//! Data reached through pointers, in C as gcc compiles it: a static table
//! of pointers summed in a loop, a table of strings indexed at run time, and
//! a local array of pointers initialised by a block copy (`rep movsq`) from
//! an unnamed relocated object. A gcc-built program runs the functions
//! natively; transpiled, they must give the same results on every input.
//! (Before objects were placed whole, these read zeros: 6 came out 1, 119
//! came out 0, and 35 of 36 pointers were NULL.)

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::Wasm;
use x64wasm_transpile::{transpile, Image, Signature};

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
    let dir = std::env::temp_dir().join(format!("x64wasm-c-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("data.c");
    std::fs::write(&src, C_SOURCE).unwrap();
    let exe = dir.join("data");
    // -fno-inline: each function as its own symbol; a PIE, as gcc makes by
    // default, so the pointer tables are relocated data.
    let status = Command::new("gcc")
        .args(["-O2", "-fno-inline", "-fPIE", "-pie", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("gcc (build-essential) is installed");
    assert!(status.success());
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
    let mut child = Command::new(&exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (x, y) in &inputs {
            writeln!(stdin, "{x} {y}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let native: Vec<Vec<i64>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(native.len(), inputs.len());

    let image = Image::from_elf(&std::fs::read(&exe).unwrap()).unwrap();
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
