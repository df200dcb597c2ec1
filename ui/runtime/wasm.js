// Running a callback's module (docs/abi.md): a fresh instance per click, so
// memory starts as the binary's image every time; the state goes at
// __heap_base, its address is the first argument, and the state the export
// leaves there is the prediction. Text arguments (UTF-8) go right after the
// state, each at a multiple of 8, and are passed as (address, length). The
// module's own heap (malloc) starts at __malloc_base, moved above the state
// and the text when they need more room than the module leaves them.
// Instantiating a compiled module is synchronous and takes microseconds.
import { wasmValue } from './fields.js';
import { decodePatches } from './patch.js';

// The longest text argument in bytes: the server's TEXT_MAX (a Rust test,
// tests/runtime.rs, checks the two agree). Longer text is not predicted
// (the server refuses it with 400).
export const TEXT_MAX = 4096;

const align8 = (n) => Math.ceil(n / 8) * 8;

// Makes room for the caller's data, which ends at `end`: the module's heap
// (__malloc_base) moved above it when it reaches further than the module
// leaves, and memory grown to hold it and the heap's first page.
function makeRoom(instance, end) {
  const { memory, __malloc_base: mallocBase } = instance.exports;
  if (mallocBase && end > mallocBase.value) mallocBase.value = Math.ceil(end / 65536) * 65536;
  const top = Math.max(end, mallocBase ? mallocBase.value + 65536 : 0);
  const missing = top - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
}

// `bytes` is the state the page holds: for an app with view state, the
// shared state, then from `viewOffset` the view's own; a callback gets the
// address of the part it takes (`signature.takes`).
export function runWasm(compiledModule, name, signature, args, bytes, viewOffset = 0) {
  if (!signature) throw new Error('not a registered callback');
  if (args.length !== signature.params.length) {
    throw new Error(`takes ${signature.params.length} argument(s), data-args has ${args.length}`);
  }
  const texts = args.map((a, i) => {
    if (signature.params[i] !== 'text') return null;
    const encoded = new TextEncoder().encode(String(a));
    if (encoded.length > TEXT_MAX) {
      throw new Error(`argument ${i + 1}: text of ${encoded.length} bytes is longer than the limit of ${TEXT_MAX} bytes`);
    }
    return encoded;
  });
  const instance = new WebAssembly.Instance(compiledModule, {});
  const { memory, __heap_base: heapBase } = instance.exports;
  const at = heapBase.value;
  // where each text goes, and the end of the caller's data
  let end = at + bytes.length;
  const textAt = texts.map((t) => {
    if (!t) return null;
    const place = align8(end);
    end = place + t.length;
    return place;
  });
  makeRoom(instance, end);
  new Uint8Array(memory.buffer, at, bytes.length).set(bytes);
  const values = [];
  args.forEach((a, i) => {
    if (texts[i]) {
      new Uint8Array(memory.buffer, textAt[i], texts[i].length).set(texts[i]);
      values.push(textAt[i], texts[i].length);
    } else {
      values.push(wasmValue(a, signature.params[i]));
    }
  });
  const pointer = signature.takes === 'view' ? at + viewOffset : at;
  instance.exports[name](pointer, ...values);
  return new Uint8Array(memory.buffer, at, bytes.length).slice();
}

// The view module's export and where its answer goes (docs/abi.md, "The
// view module"; `VIEW_EXPORT` in src/view_module.rs).
export const VIEW_EXPORT = 'x64wasm_view_step';

// Each compiled view module's one instance: kept between runs, so the
// module keeps the tree it rendered last and renders only the new state
// when `old` is the state it rendered (docs/abi.md, "The view module").
const viewInstances = new WeakMap();

// Runs the view module: the patches that turn the render of the state
// `old` into the render of `now` (both as the page holds them). The two
// states go at __heap_base, each at a multiple of 8, then 16 bytes for the
// answer (the patch bytes' address and length, as x86-64 lays out a
// pointer and a usize); the module's heap above them, moved there once.
export function runView(compiledModule, old, now) {
  let instance = viewInstances.get(compiledModule);
  if (!instance) {
    instance = new WebAssembly.Instance(compiledModule, {});
    viewInstances.set(compiledModule, instance);
    const at = instance.exports.__heap_base.value;
    makeRoom(instance, align8(align8(at + old.length) + now.length) + 16);
  }
  const { memory, __heap_base: heapBase } = instance.exports;
  const oldAt = heapBase.value;
  const nowAt = align8(oldAt + old.length);
  const outAt = align8(nowAt + now.length);
  new Uint8Array(memory.buffer, oldAt, old.length).set(old);
  new Uint8Array(memory.buffer, nowAt, now.length).set(now);
  try {
    instance.exports[VIEW_EXPORT](oldAt, nowAt, outAt);
  } catch (e) {
    viewInstances.delete(compiledModule); // a trap may leave it half way
    throw e;
  }
  // (memory may have grown: a fresh view of its buffer) addresses are
  // 32-bit in the module: the low halves of the two words
  const out = new DataView(memory.buffer, outAt, 16);
  const at = out.getUint32(0, true);
  const length = out.getUint32(8, true);
  return decodePatches(new Uint8Array(memory.buffer, at, length));
}
