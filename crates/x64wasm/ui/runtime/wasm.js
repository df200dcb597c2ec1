// Running a callback's module (docs/abi.md): a fresh instance per click, so
// memory starts as the binary's image every time; the state goes at
// __heap_base, its address is the first argument, and the state the export
// leaves there is the prediction. Instantiating a compiled module is
// synchronous and takes microseconds.
import { wasmValue } from './fields.js';

export function runWasm(compiledModule, name, signature, args, bytes) {
  if (!signature) throw new Error('not a registered callback');
  if (args.length !== signature.params.length) {
    throw new Error(`takes ${signature.params.length} argument(s), data-args has ${args.length}`);
  }
  const instance = new WebAssembly.Instance(compiledModule, {});
  const { memory, __heap_base: heapBase } = instance.exports;
  const at = heapBase.value;
  const missing = at + bytes.length - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
  new Uint8Array(memory.buffer, at, bytes.length).set(bytes);
  const values = args.map((a, i) => wasmValue(a, signature.params[i]));
  instance.exports[name](at, ...values);
  return new Uint8Array(memory.buffer, at, bytes.length).slice();
}
