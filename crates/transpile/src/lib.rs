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
stages!(cfg, decode, fxhash, lower, module, structure);

mod builtins;
mod cache;
mod error;
mod image;
mod signature;

pub use cache::{Cache, Key};
pub use error::TranspileError;
pub use image::{Image, Pointer, Section, Symbol};
pub use module::{validate, Module};
pub use signature::{ScalarType, Signature};

/// Bumped whenever the transpiler's output for the same input may change.
pub const TRANSPILER_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+lower-9");

/// Transpiles the functions named by `exports` (and all they call) into one
/// module with one export per signature.
pub fn transpile(image: &Image, exports: &[Signature]) -> Result<Module, TranspileError> {
    let program = decode::decode(image, &decode::roots(image, exports)?)?;
    module::build(image, &program, exports)
}
