//! # x64wasm
//!
//! A Rust app whose UI callbacks run in the browser without anyone writing
//! JavaScript and without a second build: the server transpiles its own x86-64
//! machine code to WebAssembly at run time.
//!
//! One binary is a desktop app (a tao window with a wry webview) and a web
//! server for any number of browsers. A click in any view runs the app's
//! callback at once in that view, as wasm transpiled from the callback's own
//! machine code, and natively on the server, which pushes the change to
//! every view as DOM patches.
//!
//! ```text
//!  app code (Rust)            server process                                  every view
//!  State: Pod  ───────────►  Mutex<State, version>  ◄── POST /execute/{fn} ─── click
//!  render(&State) -> Node     │ renderer thread: render, diff → patch event
//!  extern "C" callbacks       │ ── SSE /events (patch | reset) ──────────────► apply patches
//!                             │ ── GET /wasm/{fn}: transpiled, cached ──────► run on the page's
//!                             ▼                                                state copy: instant
//!            transpiler: ELF → image → decode → recursion → cfg → structure → lower → module (validated wasm)
//! ```
//!
//! An app is [`App::new`]`(state, render)`, [`callback!`] registrations and
//! [`App::run`] (see `examples/scoreboard.rs`). The pieces: [`app`],
//! [`callbacks`], [`dom`], [`server`], [`state_file`], [`text`], [`list`],
//! `desktop` (feature `desktop`); the transpiler is the crate
//! `x64wasm-transpile`.
//!
//! A list in the state is a [`FixedVec`], as text is a [`FixedStr`]:
//!
//! ```
//! use x64wasm::{FixedStr, FixedVec};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
//! pub struct Todo { title: FixedStr<60>, done: u32 }
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
//! pub struct State { todos: FixedVec<Todo, 3> }
//!
//! let mut state = State { todos: FixedVec::new() };
//! for title in ["milk", "bread", "tea", "jam"] {
//!     let added = state.todos.push(Todo { title: FixedStr::from_str_cut(title), done: 0 });
//!     assert_eq!(added, title != "jam"); // the fourth does not fit
//! }
//! state.todos[1].done = 1;
//! state.todos.retain(|t| t.done == 0);
//! let left: Vec<&str> = state.todos.iter().map(|t| t.title.as_str()).collect();
//! assert_eq!(left, ["milk", "tea"]);
//! // an item's field binds like any other: 16 bytes of header, then items
//! // of 68 bytes (the title's 4 + 60, then `done`)
//! let tea = x64wasm::bound!(&state, todos[1].title).to_html();
//! assert!(tea.starts_with(r#"<span data-bind="84:"#) && tea.ends_with(">tea</span>"), "{tea}");
//! ```

#![deny(missing_docs)]

pub mod app;
pub mod callbacks;
#[cfg(feature = "desktop")]
mod desktop;
pub mod dom;
pub mod list;
pub mod process;
mod server;
pub mod state_file;
pub mod text;
pub mod view_module;

pub use app::{App, Options};
pub use callbacks::{Both, Callback};
pub use dom::{Element, Node};
pub use list::FixedVec;
pub use text::{FixedStr, Text};
