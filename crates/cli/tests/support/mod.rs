//! Shared helpers of the app's tests: a running app process and HTTP over
//! real sockets (`server`), raw sockets for hostile clients (`raw`), a
//! proxy a test can cut (`proxy`), and the desktop window under Xvfb
//! (`desktop`).

#![allow(dead_code)]

pub mod desktop;
pub mod proxy;
pub mod raw;
pub mod server;
