// Running a callback's module (docs/abi.md): a fresh instance per click, so
// memory starts as the binary's image every time; the state goes at
// __heap_base, its address is the first argument, and the state the export
// leaves there is the prediction. The module's own heap (malloc) starts at
// __malloc_base, moved above the state when the state is larger than the
// room the module leaves it. Instantiating a compiled module is synchronous
// and takes microseconds.
import { wasmValue } from './fields.js';

export function runWasm(compiledModule, name, signature, args, bytes) {
  if (!signature) throw new Error('not a registered callback');
  if (args.length !== signature.params.length) {
    throw new Error(`takes ${signature.params.length} argument(s), data-args has ${args.length}`);
  }
  const instance = new WebAssembly.Instance(compiledModule, {});
  const { memory, __heap_base: heapBase } = instance.exports;
  const at = heapBase.value;
  const mallocBase = instance.exports.__malloc_base;
  if (mallocBase && at + bytes.length > mallocBase.value) {
    mallocBase.value = Math.ceil((at + bytes.length) / 65536) * 65536;
  }
  // room for the state, and for the heap's first page
  const end = Math.max(at + bytes.length, mallocBase ? mallocBase.value + 65536 : 0);
  const missing = end - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
  new Uint8Array(memory.buffer, at, bytes.length).set(bytes);
  const values = args.map((a, i) => wasmValue(a, signature.params[i]));
  instance.exports[name](at, ...values);
  return new Uint8Array(memory.buffer, at, bytes.length).slice();
}
