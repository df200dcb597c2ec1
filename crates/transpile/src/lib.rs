//! The transpiler: functions of an x86-64 ELF → one validated wasm module.
//!
//! ELF → image → link → decode → recursion → cfg → structure → lower → module →
//! validated wasm; each stage's job, its files and the leaves they share are
//! in `docs/architecture.md` ("The transpiler").
//!
//! Each stage is a module with one entry function taking the previous stage's
//! output, and [`transpile`] is the pipeline: it calls them in order (cfg,
//! structure and lower once per function, on several threads for a large
//! program). [`Cache`] keys finished modules by a hash of everything they
//! were made from. The module a transpile makes follows the ABI of
//! `docs/abi.md`.

//!
//! ```
//! use x64wasm_transpile::{transpile, validate, Image, Signature};
//!
//! // lea eax, [rdi + rsi]; ret — a function `add` at 0x1000
//! let code = [0x8d, 0x04, 0x37, 0xc3];
//! let image = Image::from_code(0x1000, &code, &[("add", 0x1000, code.len() as u64)]);
//! let add = Signature::parse("add(i32,i32)->i32").unwrap();
//! let module = transpile(&image, &[add]).unwrap();
//! assert_eq!(module.instructions, 2);
//! validate(&module.wasm).unwrap(); // wasmparser, WebAssembly 2.0 features
//! ```

#![deny(missing_docs)]

/// The stages are private; the `internals` feature opens them (hidden from
/// the docs) to the transpile bench, which times them one by one.
macro_rules! stages {
    ($($stage:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $stage;
        #[cfg(not(feature = "internals"))]
        mod $stage;
    )*};
}
stages!(cfg, decode, fxhash, lower, module, recursion, structure);

mod builtins;
mod cache;
mod data;
mod error;
mod graph;
mod image;
mod layout;
mod link;
mod noreturn;
mod ranges;
mod signature;

pub use cache::{Cache, Key};
pub use error::TranspileError;
pub use image::{Image, Pointer, Section, Symbol, Tls};
pub use link::{link, Linked, LINKED_LIBRARIES};
pub use module::{each_on_cores, validate, Module};
pub use signature::{ScalarType, Signature, SCALAR_TYPES};

/// Bumped whenever the transpiler's output for the same input may change.
pub const TRANSPILER_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+lower-21");

/// Transpiles the functions named by `exports` (and all they call) into one
/// validated module with one export per signature: the whole pipeline.
pub fn transpile(image: &Image, exports: &[Signature]) -> Result<Module, TranspileError> {
    let roots = decode::roots(image, exports)?; // 1. export names -> addresses
    let program = decode::decode(image, &roots)?; // 2. every function they reach, and data
    build(image, &program, exports, &program.data)
}

/// Stages 3 to 6 of a decoded program (the cache enters here, once it has
/// keyed the program and its data).
fn build(
    image: &Image,
    program: &decode::Program,
    exports: &[Signature],
    data: &[(u64, u64)],
) -> Result<Module, TranspileError> {
    // recursion groups, ABIs and wasm function indices
    let plan = module::plan(image, program);
    let jobs = plan.jobs(program);
    let bodies = module::each_job(&jobs, |unit| {
        let function = unit.function;
        // 3. basic blocks and edges (a group's calls among its members too)
        let mut graph = if unit.group {
            let entries: Vec<u64> = unit.members.iter().map(|m| m.address).collect();
            cfg::build_group(function, &entries)?
        } else {
            cfg::build(function)?
        };
        let tree = structure::structure(&mut graph) // 4. blocks, loops, ifs
            .map_err(|reason| TranspileError::ControlFlow {
                function: function.name.clone(),
                address: function.address,
                reason,
            })?;
        lower::lower(
            image,
            program,
            unit,
            &graph,
            &tree,
            &plan.abis,
            &plan.callees,
        )
        // 5. wasm
    })
    .map_err(|e| link::in_library(image, e))?;
    module::assemble(image, program, exports, data, &plan, bodies) // 6. module, validated
}
