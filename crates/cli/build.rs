//! Exports the demo's callbacks to the binary's dynamic symbol table, so
//! `dlsym` finds them and they keep their names even in a stripped binary.
//! The names are read from `src/demo.rs`: each `#[no_mangle]` function.

fn main() {
    println!("cargo:rerun-if-changed=src/demo.rs");
    let demo = std::fs::read_to_string("src/demo.rs").expect("src/demo.rs");
    let mut lines = demo.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[no_mangle]" {
            continue;
        }
        let Some(signature) = lines.next() else { break };
        let name = signature
            .split("fn ")
            .nth(1)
            .and_then(|rest| rest.split('(').next())
            .map(str::trim);
        if let Some(name) = name {
            println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={name}");
        }
    }
}
