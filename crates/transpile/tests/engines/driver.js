// Runs one transpiled module in whatever JavaScript engine loads this file
// (node, a Chromium page, JavaScriptCore): `run(spec)` instantiates
// `spec.wasm` (an array of bytes), makes each call of `spec.calls`
// ({name, args}: numbers, or strings for i64) and finds, for `spec.depth`
// ({name}), the deepest argument the engine's own call stack takes.
// Returns JSON: {calls: [{value} or {error}], depth: {max, error}}.
function run(spec) {
  const module = new WebAssembly.Module(new Uint8Array(spec.wasm));
  const exports = new WebAssembly.Instance(module, {}).exports;
  const call = (name, args) => {
    try {
      const v = exports[name](...args.map((a) => (typeof a === 'string' ? BigInt(a) : a)));
      return { value: String(v) };
    } catch (e) {
      return { error: String(e) };
    }
  };
  const calls = spec.calls.map((c) => call(c.name, c.args));
  let depth = null;
  if (spec.depth) {
    // the largest n for which the call returns: exponential, then binary search
    let ok = 0;
    let bad = 1024;
    let error = '';
    for (;;) {
      const r = call(spec.depth.name, [bad]);
      if (r.error) {
        error = r.error;
        break;
      }
      ok = bad;
      bad *= 2;
      if (bad > spec.depth.limit) {
        bad = 0;
        break;
      }
    }
    while (bad && bad - ok > 1) {
      const mid = Math.floor((ok + bad) / 2);
      if (call(spec.depth.name, [mid]).error) bad = mid;
      else ok = mid;
    }
    depth = { max: ok, error };
  }
  return JSON.stringify({ calls, depth });
}
