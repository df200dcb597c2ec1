//! The transpiler: functions of an x86-64 ELF → one validated wasm module.
//!
//! ```text
//! ELF ──image──► Image ──decode──► Program ──cfg──► Cfg ──structure──► Node tree
//!     symbols,        instructions of      blocks,        blocks/loops/ifs
//!     bytes, GOT      every reached fn     jump tables    (Ramsey 2022)
//!                                                   │
//!                      wasm ◄──module── wasm bodies ◄──lower── (per function)
//!                      validated         + helpers, builtins, export wrappers
//! ```
//!
//! Each stage is a module with one entry function taking the previous stage's
//! output. [`transpile`] runs them all; [`Cache`] keys finished modules by a
//! hash of everything they were made from.

pub mod cache;
pub mod cfg;
pub mod decode;
pub mod error;
pub mod fxhash;
pub mod image;
pub mod lower;
pub mod module;
pub mod signature;
pub mod structure;

pub use cache::Cache;
pub use error::TranspileError;
pub use image::Image;
pub use module::Module;
pub use signature::{ScalarType, Signature};

/// Bumped whenever the transpiler's output for the same input may change.
pub const TRANSPILER_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+lower-9");

/// The addresses of the functions to export, checked against the image.
pub fn roots(image: &Image, exports: &[Signature]) -> Result<Vec<u64>, TranspileError> {
    exports
        .iter()
        .map(|s| match image.symbol(&s.name) {
            Some(sym) if sym.is_function => Ok(sym.address),
            Some(_) => Err(TranspileError::UnknownSymbol(format!(
                "{} (it is data, not a function)",
                s.name
            ))),
            None => Err(TranspileError::UnknownSymbol(s.name.clone())),
        })
        .collect()
}

/// Transpiles the functions named by `exports` (and all they call) into one
/// module with one export per signature.
pub fn transpile(image: &Image, exports: &[Signature]) -> Result<Module, TranspileError> {
    let program = decode::decode(image, &roots(image, exports)?)?;
    module::build(image, &program, exports)
}
