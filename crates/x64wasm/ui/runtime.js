// x64wasm client runtime (DESIGN §5). Plain JavaScript, no build step.
//
// A click on an element with data-call runs that callback twice: here, at
// once, as WebAssembly transpiled by the server from its own x86-64 code
// (run on this page's copy of the state, so bound fields change before the
// network answers), and on the server, natively, which is the authority.
// The server then pushes the new view to every open view over /events.
'use strict';
(() => {
  const root = document.getElementById('x64wasm');
  if (!root) return;
  const signatures = JSON.parse(root.dataset.callbacks || '{}');

  // The server's view as this page has applied it: its version, and the
  // server's state at that version. `state` is what the page shows: the
  // server's state, or predictions made on top of it.
  let applied = Number(root.dataset.version);
  let serverState = decodeBase64(root.dataset.state);
  let state = serverState.slice();
  let answered = applied; // the newest version a POST answer reported
  let inflight = 0; // clicks predicted and not yet answered (queued or posted)
  let held = []; // events that came while clicks were in flight, in order

  // What the page did, for people reading the console and for tests.
  const stats = { wasmRuns: 0, serverOnly: 0, failures: [], patches: 0, resets: 0, resyncs: 0 };
  window.x64wasm = {
    stats,
    get version() { return applied; },
    get state() { return state.slice(); },
    // Like LiveView's enableLatencySim: every server round trip takes `ms`
    // longer (half on the way out, half on the way back), for this tab
    // (sessionStorage) until disabled, so prediction can be seen.
    enableLatencySim(ms) { sessionStorage.setItem('x64wasm:latency', String(Number(ms) || 0)); },
    disableLatencySim() { sessionStorage.removeItem('x64wasm:latency'); },
  };
  const latency = () => Number(sessionStorage.getItem('x64wasm:latency') || 0);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const report = (message) => {
    stats.failures.push(message);
    console.warn('x64wasm: ' + message);
  };

  // ---- clicks ---------------------------------------------------------
  // Clicks are predicted in order, and reach the server in that order too:
  // one POST at a time per view (parallel requests on several connections
  // could overtake each other), while the next click is already predicted.
  let queue = Promise.resolve(); // predictions, in order
  let posting = Promise.resolve(); // POSTs, one at a time, in order
  root.addEventListener('click', (event) => {
    const target = event.target.closest('[data-call]');
    if (!target || !root.contains(target)) return;
    event.preventDefault();
    const name = target.dataset.call;
    let args;
    try {
      args = JSON.parse(target.dataset.args || '[]');
    } catch (e) {
      report(`${name}: bad data-args ${target.dataset.args}: ${e.message}`);
      return;
    }
    queue = queue.then(() => click(name, args));
  });

  async function click(name, args) {
    // The version the server will run this on, if nobody else clicks first.
    const base = Math.max(applied, answered) + inflight;
    let predicted = null;
    try {
      const next = runWasm(await module(name), name, args, state);
      state = next;
      predicted = sha256Hex(next);
      stats.wasmRuns += 1;
      showBound();
    } catch (e) {
      stats.serverOnly += 1;
      report(`${name} runs on the server only: ${e.message}`);
    }
    inflight += 1;
    // Not awaited: the next click may predict now, and its POST waits its turn.
    posting = posting.then(() => post(name, args, base, predicted));
  }

  // Never rejects: a failed click is reported and the next one goes on.
  async function post(name, args, base, predicted) {
    try {
      if (latency()) await sleep(latency() / 2);
      const response = await fetch('/execute/' + encodeURIComponent(name), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ args, base, predicted }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        report(`${name} failed on the server (${response.status}): ${body.error}`);
      } else if (body.version > answered) {
        answered = body.version;
      }
    } catch (e) {
      report(`${name} could not reach the server: ${e.message}`);
    } finally {
      inflight -= 1;
      if (inflight === 0) {
        const events = held;
        held = [];
        for (const [type, event] of events) handle(type, event);
        // What the server said wins over what this page predicted.
        state = serverState.slice();
        showBound();
      }
    }
  }

  // ---- wasm -----------------------------------------------------------
  const compiling = new Map(); // callback name -> Promise<WebAssembly.Module>
  const compiled = new Map(); // callback name -> WebAssembly.Module, once ready

  function module(name) {
    if (compiled.has(name)) return compiled.get(name);
    if (!compiling.has(name)) {
      compiling.set(name, (async () => {
        const response = await fetch('/wasm/' + encodeURIComponent(name));
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          throw new Error(body.error || `GET /wasm/${name}: ${response.status}`);
        }
        const m = await WebAssembly.compile(await response.arrayBuffer());
        compiled.set(name, m);
        return m;
      })());
    }
    return compiling.get(name);
  }

  // Runs the callback's export on a copy of `bytes` placed at __heap_base
  // (the module ABI) and returns the state it leaves there. A fresh instance
  // per click, so the memory starts as the binary's image every time;
  // instantiating a compiled module is synchronous and takes microseconds.
  function runWasm(compiledModule, name, args, bytes) {
    const signature = signatures[name];
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

  function wasmValue(value, type) {
    switch (type) {
      case 'i64': return BigInt.asIntN(64, BigInt(value));
      case 'u64': return BigInt.asIntN(64, BigInt(value));
      case 'bool': return value ? 1 : 0;
      default: return Number(value);
    }
  }

  // ---- bound fields ---------------------------------------------------
  function showBound() {
    const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
    for (const el of root.querySelectorAll('[data-bind]')) {
      const [offset, type] = el.dataset.bind.split(':');
      const text = readField(view, Number(offset), type);
      if (text !== null && el.textContent !== text) el.textContent = text;
    }
  }

  function readField(view, at, type) {
    const size = { i8: 1, u8: 1, bool: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4 }[type] || 8;
    if (at + size > view.byteLength) return null;
    switch (type) {
      case 'i8': return String(view.getInt8(at));
      case 'u8': return String(view.getUint8(at));
      case 'bool': return view.getUint8(at) ? 'true' : 'false';
      case 'i16': return String(view.getInt16(at, true));
      case 'u16': return String(view.getUint16(at, true));
      case 'i32': return String(view.getInt32(at, true));
      case 'u32': return String(view.getUint32(at, true));
      case 'i64': return view.getBigInt64(at, true).toString();
      case 'u64': return view.getBigUint64(at, true).toString();
      case 'f32': return String(view.getFloat32(at, true));
      case 'f64': return String(view.getFloat64(at, true));
      default: return null;
    }
  }

  // ---- patches --------------------------------------------------------
  // The wire form is documented in src/dom/diff.rs. Paths start at the
  // app's top node (the root element's first child).
  function nodeAt(path) {
    let node = root.firstChild;
    for (const i of path) {
      node = node && node.childNodes[i];
    }
    if (!node) throw new Error('no node at ' + JSON.stringify(path));
    return node;
  }

  function fragment(html) {
    const template = document.createElement('template');
    template.innerHTML = html;
    return template.content;
  }

  function applyPatch(patch) {
    const [op, path] = patch;
    const node = nodeAt(path);
    switch (op) {
      case 't': node.textContent = patch[2]; break;
      case 'a': node.setAttribute(patch[2], patch[3]); break;
      case 'r': node.removeAttribute(patch[2]); break;
      case 'R': node.replaceWith(fragment(patch[2])); break;
      case 'i': node.insertBefore(fragment(patch[3]), node.childNodes[patch[2]] || null); break;
      case 'd': node.remove(); break;
      case 'm': {
        const moved = node.childNodes[patch[2]];
        if (!moved) throw new Error('no child to move');
        moved.remove();
        node.insertBefore(moved, node.childNodes[patch[3]] || null);
        break;
      }
      default: throw new Error('unknown patch ' + op);
    }
  }
  window.x64wasm.applyPatches = (patches) => patches.forEach(applyPatch);

  // ---- events ---------------------------------------------------------
  function handle(type, event) {
    if (type === 'reset') {
      // Whatever this page knew, the server's view now starts here (after a
      // restart it may even be older than what the page had).
      applied = event.version;
      answered = event.version;
      serverState = decodeBase64(event.state);
      root.dataset.version = String(applied);
      root.innerHTML = event.html;
      stats.resets += 1;
    } else if (event.version <= applied) {
      return; // already shown (a reset overtook it)
    } else if (event.from !== applied) {
      resync(`missed versions ${applied + 1}..${event.from}`);
      return;
    } else {
      try {
        for (const patch of event.patches) applyPatch(patch);
        const next = serverState.slice();
        for (const [offset, bytes] of event.state) next.set(decodeBase64(bytes), offset);
        if (sha256Hex(next).slice(0, 16) !== event.sha) throw new Error('state checksum differs');
        serverState = next;
        applied = event.version;
        root.dataset.version = String(applied);
        stats.patches += 1;
      } catch (e) {
        resync(`patch ${event.version} did not apply: ${e.message}`);
        return;
      }
    }
    if (inflight === 0) {
      state = serverState.slice();
      showBound();
    }
  }

  function receive(type, message) {
    const event = JSON.parse(message.data);
    const deliver = () => {
      if (inflight > 0) held.push([type, event]);
      else handle(type, event);
    };
    if (latency()) setTimeout(deliver, latency() / 2);
    else deliver();
  }

  const reconnecting = document.createElement('div');
  reconnecting.className = 'x64wasm-reconnecting';
  reconnecting.textContent = 'reconnecting…';
  reconnecting.hidden = true;
  document.body.appendChild(reconnecting);

  // One event stream. When it breaks, a new one opens after a delay that
  // doubles up to 5 s, spread by random jitter (half to one and a half
  // times) so that the views of a restarted server do not all come back at
  // the same millisecond, telling the server the version shown (`since`): a
  // view that missed versions gets a reset with the whole view.
  let events = null;
  let delay = 250;
  let timer = null;
  function connect(since) {
    clearTimeout(timer);
    if (events) events.close();
    const url = since === null ? '/events' : '/events?since=' + since;
    events = new EventSource(url);
    events.addEventListener('patch', (m) => receive('patch', m));
    events.addEventListener('reset', (m) => receive('reset', m));
    events.addEventListener('open', () => {
      reconnecting.hidden = true;
      delay = 250;
    });
    events.addEventListener('error', () => {
      reconnecting.hidden = false;
      events.close();
      timer = setTimeout(() => connect(applied), delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 5000);
    });
  }

  function resync(why) {
    stats.resyncs += 1;
    console.info('x64wasm: resynchronising (' + why + ')');
    held = [];
    connect(null);
  }

  connect(applied);
  // Compile every callback's module while the user reads the page, so the
  // first click predicts at once.
  window.x64wasm.ready = Promise.allSettled(Object.keys(signatures).map(module));

  // ---- encodings ------------------------------------------------------
  function decodeBase64(text) {
    const raw = atob(text || '');
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  // SHA-256 (FIPS 180-4), synchronous so it also works where crypto.subtle
  // does not (pages served over plain HTTP to other machines).
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  function sha256Hex(bytes) {
    const bitLength = bytes.length * 8;
    const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    const tail = new DataView(padded.buffer);
    tail.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
    tail.setUint32(padded.length - 4, bitLength >>> 0);
    const h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let block = 0; block < padded.length; block += 64) {
      for (let i = 0; i < 16; i++) w[i] = tail.getUint32(block + i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    return Array.from(h, (x) => x.toString(16).padStart(8, '0')).join('');
  }
  window.x64wasm.sha256Hex = sha256Hex;
})();
