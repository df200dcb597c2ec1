//! The app's tests, one binary with a module per area (one link instead
//! of twelve; docs/testing.md says what each checks). Every test starts
//! its own server process on a free port, so tests of different modules
//! run side by side as those of one module always did.
//! `cargo test -p x64wasm-cli --test app todomvc::` runs one area.
//!
//! Three areas keep a binary of their own, so that they never run beside
//! another area's test: `hostile.rs` and `load.rs` take thousands of
//! descriptors and a core each, and `user_crate.rs` runs cargo.

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod cli;
mod desktop;
mod example;
mod http;
mod latency;
mod redis;
mod scale;
mod state_file;
mod stripped;
mod todomvc;
mod views;
