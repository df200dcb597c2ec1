//! # x64wasm
//!
//! A Rust app whose UI callbacks run in the browser without anyone writing
//! JavaScript and without a second build: the server transpiles its own x86-64
//! machine code to WebAssembly at run time.
//!
//! This crate holds the transpiler ([`transpile`]):
//!
//! ```text
//! ELF → image → decode → cfg → structure → lower → module (validated wasm)
//! ```
//!
//! ```no_run
//! use x64wasm::transpile::{transpile, Image, Signature};
//! let image = Image::running().unwrap();
//! let sig = Signature::parse("increment_counter(ptr)->void").unwrap();
//! let module = transpile(&image, &[sig]).unwrap();
//! wasmparser::Validator::new().validate_all(&module.wasm).unwrap();
//! ```

#![deny(missing_docs)]

pub mod app;
pub mod callbacks;
#[cfg(feature = "desktop")]
pub mod desktop;
pub mod dom;
pub mod server;
pub mod state_file;
pub mod transpile;

pub use app::{App, Options};
pub use callbacks::{Callback, Registration, Registry};
pub use dom::Node;
pub use transpile::{Cache, Image, Module, Signature, TranspileError};
