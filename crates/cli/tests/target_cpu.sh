#!/usr/bin/env bash
# The release demo and TodoMVC, built for today's CPUs (RUSTFLAGS="-C
# target-cpu=x86-64-v3": AVX2, BMI2, FMA), transpile every callback and
# the view: each app, started headless, must say so before it serves.
# Usage: target_cpu.sh TARGET_DIR (where `cargo build --release` put them)
set -euo pipefail
dir="$1/release"
for app in "$dir/x64wasm" "$dir/examples/todomvc"; do
  log=$(mktemp)
  "$app" --headless --port 0 >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q "serving on" "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  cat "$log"
  # "N callback(s), N transpiled to wasm", and the view transpiled
  if ! grep -Eq '^x64wasm: ([0-9]+) callback\(s\), \1 transpiled' "$log" \
    || ! grep -q 'the view (render and diff) transpiled to wasm' "$log"; then
    echo "FAILED: $app (built for x86-64-v3) runs something on the server only" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  echo "ok: $app (built for x86-64-v3) transpiles every callback and its view"
done
