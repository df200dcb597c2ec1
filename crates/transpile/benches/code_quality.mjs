// Code quality: the loop-heavy and call-heavy corpus callbacks as transpiled wasm (from the
// native release build) against the same Rust source compiled by rustc for
// wasm32-unknown-unknown, both run by V8 (node) on the same inputs.
// Prints the time ratio per function (transpiled / rustc; lower is better)
// and the geometric mean. Each side: best of 7 alternating ~40 ms trials
// (the state is copied in before every call, on both sides alike). Usage: node code_quality.mjs MODULE_DIR RUSTC_WASM
import fs from 'node:fs';
import path from 'node:path';

const [dir, ...rustcPaths] = process.argv.slice(2);
// NO_STATE_COPY=1: copy the inputs in on the first round only, so the time is
// the callbacks' own (mutating callbacks then run on their evolved state)
const COPY_STATE = !process.env.NO_STATE_COPY;
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json')));
const baselines = rustcPaths.map((p) => new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(p)), {}));

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
    if (t === 'f32' || t === 'f64') return Number(v & 0xffffn) / 256 - 64;
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

const names = rustcPaths.map((p) => path.basename(path.dirname(path.dirname(path.dirname(p)))));
// ratios by group ('loops', 'calls'), one list per baseline
const ratios = {};
console.log('function              transpiled ms ' + names.map((n) => `${n.padStart(14)} ms  ratio`).join(' '));
for (const cb of manifest.callbacks) {
  const mod = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(path.join(dir, cb.name + '.wasm'))), {});
  const baseT = setup(mod, manifest.state_size);
  const next = rng(42);
  const states = [], seeds = [];
  for (let i = 0; i < 64; i++) {
    const s = new Uint8Array(manifest.state_size);
    for (let k = 0; k < s.length; k++) s[k] = Number(next() & 0xffn);
    states.push(s);
    seeds.push(next());
  }
  const argsT = seeds.map((seed) => argsFor(cb.signature, rng(seed), baseT));
  const sides = baselines.map((rustc) => {
    const base = setup(rustc, manifest.state_size);
    return { rustc, base, args: seeds.map((seed) => argsFor(cb.signature, rng(seed), base)) };
  });
  // results must agree before timing means anything
  for (const { rustc, base, args } of sides) {
    for (let i = 0; i < states.length; i++) {
      new Uint8Array(mod.exports.memory.buffer).set(states[i], baseT);
      new Uint8Array(rustc.exports.memory.buffer).set(states[i], base);
      const a = mod.exports[cb.name](...argsT[i]), b = rustc.exports[cb.name](...args[i]);
      if (String(a) !== String(b)) throw new Error(`${cb.name}: transpiled ${a} != rustc ${b}`);
    }
  }
  // enough repetitions for ~40 ms a trial, then the best of 7 alternating trials
  let reps = 20;
  while (time(mod, cb.name, baseT, states, argsT, reps) < 40) reps *= 2;
  let tt = Infinity;
  const tr = sides.map(() => Infinity);
  for (let trial = 0; trial < 7; trial++) {
    tt = Math.min(tt, time(mod, cb.name, baseT, states, argsT, reps));
    sides.forEach(({ rustc, base, args }, k) => { tr[k] = Math.min(tr[k], time(rustc, cb.name, base, states, args, reps)); });
  }
  ratios[cb.group] ??= baselines.map(() => []);
  tr.forEach((t, k) => ratios[cb.group][k].push(tt / t));
  console.log(`${cb.name.padEnd(22)} ${tt.toFixed(1).padStart(12)} ` + tr.map((t) => `${t.toFixed(1).padStart(15)} ${(tt / t).toFixed(2).padStart(6)}`).join(' '));
}
// goals: loop-heavy code at most 1.5x rustc's on the geometric mean,
// call-heavy code at most 1.25x each
for (const [group, byBaseline] of Object.entries(ratios)) {
  byBaseline.forEach((rs, k) => {
    const geo = Math.exp(rs.reduce((a, r) => a + Math.log(r), 0) / rs.length);
    const worst = Math.max(...rs);
    const goal = group === 'calls' ? 'goal: each <= 1.25' : 'goal: mean <= 1.5';
    console.log(`${group}: transpiled / ${names[k]}: geometric mean ${geo.toFixed(2)}, worst ${worst.toFixed(2)} (${goal})`);
  });
}
