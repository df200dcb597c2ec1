// Code quality: the loop-heavy corpus callbacks as transpiled wasm (from the
// native release build) against the same Rust source compiled by rustc for
// wasm32-unknown-unknown, both run by V8 (node) on the same inputs.
// Prints the time ratio per function (transpiled / rustc; lower is better)
// and the geometric mean. Each side: best of 7 alternating ~40 ms trials
// (the state is copied in before every call, on both sides alike). Usage: node code_quality.mjs MODULE_DIR RUSTC_WASM
import fs from 'node:fs';
import path from 'node:path';

const [dir, rustcPath] = process.argv.slice(2);
// NO_STATE_COPY=1: copy the inputs in on the first round only, so the time is
// the callbacks' own (mutating callbacks then run on their evolved state)
const COPY_STATE = !process.env.NO_STATE_COPY;
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json')));
const rustc = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(rustcPath)), {});

function rng(seed) {
  let x = BigInt(seed) | 1n;
  return () => {
    x ^= (x << 13n) & 0xffffffffffffffffn; x ^= x >> 7n; x ^= (x << 17n) & 0xffffffffffffffffn;
    return x;
  };
}

function setup(instance, size) {
  const e = instance.exports;
  let base = e.__heap_base.value;
  const need = base + size + 64;
  const have = e.memory.buffer.byteLength;
  if (need > have) e.memory.grow(Math.ceil((need - have) / 65536));
  return base;
}

function argsFor(sig, next, ptr) {
  const params = sig.slice(sig.indexOf('(') + 1, sig.indexOf(')')).split(',').filter(Boolean);
  return params.map((t) => {
    const v = next();
    if (t === 'ptr') return ptr;
    if (t === 'i64' || t === 'u64') return BigInt.asIntN(64, v);
    return Number(BigInt.asIntN(32, v & 0xffn)); // small integers keep loops bounded
  });
}

function time(instance, name, base, states, argLists, reps) {
  const f = instance.exports[name];
  const mem = new Uint8Array(instance.exports.memory.buffer);
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < states.length; i++) {
      if (COPY_STATE || r === 0) mem.set(states[i], base);
      f(...argLists[i]);
    }
  }
  return performance.now() - t0;
}

const ratios = [];
console.log('function               transpiled ms   rustc ms   ratio');
for (const cb of manifest.callbacks) {
  const mod = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(path.join(dir, cb.name + '.wasm'))), {});
  const baseT = setup(mod, manifest.state_size);
  const baseR = setup(rustc, manifest.state_size);
  const next = rng(42);
  const states = [], argsT = [], argsR = [];
  for (let i = 0; i < 64; i++) {
    const s = new Uint8Array(manifest.state_size);
    for (let k = 0; k < s.length; k++) s[k] = Number(next() & 0xffn);
    states.push(s);
    const seed = next();
    argsT.push(argsFor(cb.signature, rng(seed), baseT));
    argsR.push(argsFor(cb.signature, rng(seed), baseR));
  }
  // results must agree before timing means anything
  for (let i = 0; i < states.length; i++) {
    const mt = new Uint8Array(mod.exports.memory.buffer), mr = new Uint8Array(rustc.exports.memory.buffer);
    mt.set(states[i], baseT); mr.set(states[i], baseR);
    const a = mod.exports[cb.name](...argsT[i]), b = rustc.exports[cb.name](...argsR[i]);
    if (String(a) !== String(b)) throw new Error(`${cb.name}: transpiled ${a} != rustc ${b}`);
  }
  time(mod, cb.name, baseT, states, argsT, 20); time(rustc, cb.name, baseR, states, argsR, 20); // warm up
  // enough repetitions for ~40 ms a trial, then the best of 7 alternating trials
  let reps = 20;
  while (time(rustc, cb.name, baseR, states, argsR, reps) < 40) reps *= 2;
  let tt = Infinity, tr = Infinity;
  for (let trial = 0; trial < 7; trial++) {
    tt = Math.min(tt, time(mod, cb.name, baseT, states, argsT, reps));
    tr = Math.min(tr, time(rustc, cb.name, baseR, states, argsR, reps));
  }
  const ratio = tt / tr;
  ratios.push(ratio);
  console.log(`${cb.name.padEnd(22)} ${tt.toFixed(1).padStart(12)} ${tr.toFixed(1).padStart(10)} ${ratio.toFixed(2).padStart(7)}`);
}
const geo = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
console.log(`geometric mean ratio (transpiled / rustc wasm32): ${geo.toFixed(2)} (goal <= 1.5)`);
