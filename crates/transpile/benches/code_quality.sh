#!/usr/bin/env bash
# Code quality: the transpiled corpus vs rustc's own wasm32 builds of the same
# source (plain, and with simd128), in node (V8), on the same inputs.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rustup target add wasm32-unknown-unknown >/dev/null
CARGO_TARGET_DIR=target/wasm-plain cargo build -q -p x64wasm-corpus --release --target wasm32-unknown-unknown
CARGO_TARGET_DIR=target/wasm-simd128 RUSTFLAGS="-C target-feature=+simd128" \
    cargo build -q -p x64wasm-corpus --release --target wasm32-unknown-unknown
cargo bench -q -p x64wasm-transpile --features internals --bench transpile >/dev/null
node crates/transpile/benches/code_quality.mjs target/bench-modules \
    target/wasm-plain/wasm32-unknown-unknown/release/x64wasm_corpus.wasm \
    target/wasm-simd128/wasm32-unknown-unknown/release/x64wasm_corpus.wasm
