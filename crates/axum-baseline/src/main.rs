//! The axum server `crates/cli/benches/axum.rs` measures the demo's server
//! against, doing the least the same answers need: `GET /` serves the bytes
//! of the file given (the demo's page, fetched once) from memory;
//! `POST /execute/increment_counter` parses the body as JSON, bumps a
//! counter under a mutex and answers the demo's shape of JSON.
//!
//! `x64wasm-axum-baseline PAGE_FILE`: serves on a free port of loopback,
//! on two worker threads, and prints `serving on ADDRESS` when it listens.

use std::sync::{Arc, Mutex};

use axum::routing::{get, post};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: x64wasm-axum-baseline PAGE_FILE");
    let page = Arc::new(std::fs::read(&path).expect("reading the page"));
    let version = Arc::new(Mutex::new(0u64));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let app = axum::Router::new()
            .route(
                "/",
                get(move || {
                    let page = page.clone();
                    async move {
                        (
                            [("content-type", "text/html; charset=utf-8")],
                            page.as_ref().clone(),
                        )
                    }
                }),
            )
            .route(
                "/execute/increment_counter",
                post(move |body: axum::body::Bytes| {
                    let version = version.clone();
                    async move {
                        let _args: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let mut v = version.lock().unwrap();
                        *v += 1;
                        axum::Json(serde_json::json!({ "ret": null, "version": *v }))
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("serving on {}", listener.local_addr().unwrap());
        axum::serve(listener, app).await.unwrap();
    });
}
