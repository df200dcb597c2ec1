#!/usr/bin/env bash
# Code quality: transpiled corpus vs rustc's own wasm32 build, in node (V8).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown >/dev/null
cargo build -q -p x64wasm-corpus --release --target wasm32-unknown-unknown
cargo bench -q --bench transpile >/dev/null
node benches/code_quality.mjs target/bench-modules target/wasm32-unknown-unknown/release/x64wasm_corpus.wasm
