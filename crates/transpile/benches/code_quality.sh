#!/usr/bin/env bash
# Code quality: the transpiled corpus vs rustc's own wasm32 builds of the same
# source (plain, and with simd128), in node (V8), on the same inputs; twice:
# transpiled from the baseline x86-64 build, and from a build for x86-64-v3
# (AVX2, BMI2, FMA: what distributions and target-cpu=native users ship).
set -euo pipefail
cd "$(dirname "$0")/../../.."
rustup target add wasm32-unknown-unknown >/dev/null
CARGO_TARGET_DIR=target/wasm-plain cargo build -q -p x64wasm-corpus --release --target wasm32-unknown-unknown
CARGO_TARGET_DIR=target/wasm-simd128 RUSTFLAGS="-C target-feature=+simd128" \
    cargo build -q -p x64wasm-corpus --release --target wasm32-unknown-unknown
for cpu in x86-64 x86-64-v3; do
    echo "== transpiled from the build for $cpu"
    # (the bench writes the corpus's modules to target/bench-modules)
    if [ "$cpu" = x86-64 ]; then
        cargo bench -q -p x64wasm-transpile --features internals --bench transpile >/dev/null
    else
        CARGO_TARGET_DIR=target/$cpu RUSTFLAGS="-C target-cpu=$cpu" \
            cargo bench -q -p x64wasm-transpile --features internals --bench transpile >/dev/null
    fi
    node crates/transpile/benches/code_quality.mjs target/bench-modules \
        target/wasm-plain/wasm32-unknown-unknown/release/x64wasm_corpus.wasm \
        target/wasm-simd128/wasm32-unknown-unknown/release/x64wasm_corpus.wasm
done
