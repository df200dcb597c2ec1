//! Shared helpers of the app's tests: a running app process and HTTP over
//! real sockets (`server`), raw sockets for hostile clients (`raw`), a
//! proxy a test can cut (`proxy`), the desktop window under Xvfb
//! (`desktop`), and redis-server and haproxy for scale-out (`scale`).

#![allow(dead_code)]

pub mod desktop;
pub mod proxy;
pub mod raw;
pub mod scale;
pub mod server;
