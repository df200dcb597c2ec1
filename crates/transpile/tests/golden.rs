//! Golden tests: small functions, assembled with iced-x86, transpiled to WAT
//! and compared with `tests/golden/NAME.wat`. `BLESS=1 cargo test --test
//! golden` writes the current output as the new expectation.

use iced_x86::code_asm::*;
use x64wasm_transpile::{transpile, Image, Signature};

const BASE: u64 = 0x1000;

type Build = fn(&mut CodeAssembler) -> Result<(), IcedError>;

fn cases() -> Vec<(&'static str, &'static str, Build)> {
    vec![
        ("add_lea", "f(i64,i64)->i64", |a| {
            a.lea(rax, ptr(rdi + rsi * 4 + 8))?;
            a.ret()
        }),
        ("compare_setcc", "f(i32,i32)->bool", |a| {
            a.cmp(edi, esi)?;
            a.setl(al)?;
            a.ret()
        }),
        ("loop_sum", "f(u32)->u64", |a| {
            let mut top = a.create_label();
            let mut done = a.create_label();
            a.xor(eax, eax)?;
            a.test(edi, edi)?;
            a.je(done)?;
            a.set_label(&mut top)?;
            a.add(rax, rdi)?;
            a.dec(edi)?;
            a.jne(top)?;
            a.set_label(&mut done)?;
            a.ret()
        }),
        ("diamond_cmov", "f(i64,i64)->i64", |a| {
            let mut other = a.create_label();
            let mut join = a.create_label();
            a.cmp(rdi, rsi)?;
            a.jg(other)?;
            a.mov(rax, rsi)?;
            a.jmp(join)?;
            a.set_label(&mut other)?;
            a.mov(rax, rdi)?;
            a.set_label(&mut join)?;
            a.test(rax, rax)?;
            a.cmovs(rax, rdi)?;
            a.ret()
        }),
    ]
}

#[test]
fn small_functions_lower_to_the_expected_wat() {
    let bless = std::env::var_os("BLESS").is_some();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut mismatches = Vec::new();
    for (name, sig, build) in cases() {
        let mut a = CodeAssembler::new(64).unwrap();
        build(&mut a).unwrap();
        let code = a.assemble(BASE).unwrap();
        let image = Image::from_code(BASE, &code, &[("f", BASE, code.len() as u64)]);
        let module = transpile(&image, &[Signature::parse(sig).unwrap()]).unwrap();
        let wat = wasmprinter::print_bytes(&module.wasm).unwrap();
        let path = dir.join(format!("{name}.wat"));
        if bless {
            std::fs::write(&path, &wat).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == wat => {}
            Ok(expected) => {
                let line = expected
                    .lines()
                    .zip(wat.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                mismatches.push(format!(
                    "{name}: output differs from {} at line {}: expected `{}`, got `{}`",
                    path.display(),
                    line + 1,
                    expected.lines().nth(line).unwrap_or(""),
                    wat.lines().nth(line).unwrap_or("")
                ))
            }
            Err(_) => mismatches.push(format!(
                "{name}: {} missing (run with BLESS=1)",
                path.display()
            )),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\nrerun with BLESS=1 to accept the new output",
        mismatches.join("\n")
    );
}
