// x64wasm client runtime (docs/protocol.md). Plain JavaScript modules, no
// build step: this one wires the page; what each of the others does is
// listed in docs/architecture.md ("The client runtime").
//
// A click on an element with data-call runs that callback twice: here, at
// once, as WebAssembly transpiled by the server from its own x86-64 code
// (run on this page's copy of the state, so bound fields change before the
// network answers), and on the server, natively, which is the authority.
// The server then pushes the new view to every open view over /events
// (a WebSocket, stream.js).
import { decodeBase64, sha256Hex } from './encoding.js';
import { EVENTS, eventArgs, matching } from './events.js';
import { readField } from './fields.js';
import { applyBindings } from './bindings.js';
import { applyPatch } from './patch.js';
import { viewHash } from './check.js';
import { parseEvents, streamUrl } from './stream.js';
import { Outbox, QUEUE_MAX } from './queue.js';
import { Sync } from './sync.js';
import { runView, runWasm } from './wasm.js';
import { ATTRIBUTES, RUNTIME_MARK } from './attributes.js';

// How long a click may wait for its answer before the page says so.
const PENDING_AFTER_MS = 3000;


const root = document.getElementById('x64wasm');
if (root) start(root);

// This tab's sessionStorage, or null where the browser refuses it (site
// data blocked): then the latency simulator and the view check are off,
// and everything else works.
function tabStorage() {
  try {
    const storage = window.sessionStorage;
    storage.getItem('x64wasm:latency');
    return storage;
  } catch (e) {
    console.info(`x64wasm: this tab cannot keep settings (${e.message}): the latency simulator and the view check are off`);
    return null;
  }
}

function start(root) {
  const signatures = JSON.parse(root.getAttribute(ATTRIBUTES.callbacks) || '{}');
  // An app with view state: this page's view id, and where its view state
  // starts in the state bytes the page holds (shared state first).
  // (a reset may bring a new id: the server issues them, see receive)
  let view = root.getAttribute(ATTRIBUTES.view) || null;
  const viewOffset = Number(root.getAttribute(ATTRIBUTES.viewOffset) || 0);
  const sync = new Sync(
    Number(root.getAttribute(ATTRIBUTES.version)),
    decodeBase64(root.getAttribute(ATTRIBUTES.state)),
  );
  const storage = tabStorage();
  const setting = (key) => (storage ? storage.getItem(key) : null);
  const setSetting = (key, value) => {
    if (!storage) return;
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, value);
  };

  // What the page did, for people reading the console and for tests.
  const stats = {
    wasmRuns: 0, serverOnly: 0, failures: [], patches: 0, resets: 0, resyncs: 0,
    // requests of queued clicks sent again after a failure
    retries: 0,
    // the view module: renders run here, and the pages that fell back
    viewRuns: 0, viewFailures: 0,
    // the view check: versions compared, and how many differed
    viewChecks: 0, viewMismatches: 0,
    // when every module was ready (ms since navigation start)
    interactiveMs: null,
  };
  window.x64wasm = {
    stats,
    get version() { return sync.applied; },
    // No click waiting, predicted or posted, and the server's events for
    // every answered click applied: what tests wait for.
    get idle() { return clicks === 0 && outbox.length === 0 && sync.inflight === 0 && sync.applied >= sync.answered; },
    // clicks waiting for the server's answer (the queue)
    get waiting() { return outbox.length; },
    get state() { return sync.state.slice(); },
    // Like LiveView's enableLatencySim: every server round trip takes `ms`
    // longer (half on the way out, half on the way back), for this tab
    // (sessionStorage) until disabled, so prediction can be seen.
    enableLatencySim(ms) { setSetting('x64wasm:latency', String(Number(ms) || 0)); },
    disableLatencySim() { setSetting('x64wasm:latency', null); },
    // The view check (docs/protocol.md): this tab compares its DOM with the
    // server's view of each version it applies, until disabled.
    // (the stream reconnects at once: a page that renders itself asks for
    // the view's hash with check=1)
    enableViewCheck() { setSetting('x64wasm:check', '1'); connect(sync.applied); },
    disableViewCheck() { setSetting('x64wasm:check', null); connect(sync.applied); },
    applyPatches: (patches) => patches.forEach((p) => applyPatch(root, p)),
    sha256Hex,
  };
  const latency = () => Number(setting('x64wasm:latency') || 0);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const report = (message) => {
    stats.failures.push(message);
    console.warn('x64wasm: ' + message);
  };

  // ---- the view module -----------------------------------------------
  // Once compiled, the page renders every state it shows itself: the view
  // module (render and diff, transpiled from the server's own machine
  // code) gives the patches from the state the DOM shows (`domState`) to
  // the one the page shows now, and the server's patches are not needed.
  // Until then, and after the module fails, the server's patches keep the
  // DOM at the server's render and bindings show predictions.
  let viewModule = null;
  let domState = null;

  function renderView() {
    if (!viewModule || sameBytes(domState, sync.state)) return;
    const now = sync.state.slice();
    try {
      const patches = runView(viewModule, domState, now);
      for (const patch of patches) applyPatch(root, patch);
      domState = now;
      stats.viewRuns += 1;
    } catch (e) {
      // The DOM may be half patched: the server's view replaces it.
      viewModule = null;
      stats.viewFailures += 1;
      report(`the view module failed, the server renders from now on: ${e.message}`);
      resync('the view module failed');
    }
  }

  const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

  // ---- the view check -------------------------------------------------
  // The server's view hash of the newest version applied; compared with
  // the DOM once the page shows exactly that version (no prediction on
  // top), and then forgotten.
  let unchecked = null; // { version, hash }
  const checking = () => setting('x64wasm:check') === '1';

  function checkView() {
    if (!unchecked || unchecked.version !== sync.applied) return;
    if (!sameBytes(sync.state, sync.serverState)) return;
    if (viewModule && !sameBytes(domState, sync.state)) return;
    const { version, hash } = unchecked;
    unchecked = null;
    stats.viewChecks += 1;
    const page = viewHash(root);
    if (page === hash) return;
    stats.viewMismatches += 1;
    report(`the page's view of version ${version} differs from the server's (${page}, not ${hash}): taking the server's`);
    fetch('/debug/view-mismatch', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ version, page, server: hash }),
    }).catch(() => {});
    resync('the view differs from the server\'s');
  }

  // ---- bound fields ---------------------------------------------------
  // What the page shows: its own render of the state (when the view
  // module runs), then the bindings; then the check, when on.
  function showBound() {
    renderView();
    for (const el of root.querySelectorAll(`[${ATTRIBUTES.bind}]`)) {
      const [offset, type] = el.getAttribute(ATTRIBUTES.bind).split(':');
      const text = readField(sync.state, Number(offset), type);
      if (text !== null && el.textContent !== text) el.textContent = text;
    }
    for (const el of root.querySelectorAll(`[${ATTRIBUTES.bound}]`)) applyBindings(el, sync.state);
    if (checking()) checkView();
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

  // ---- clicks ---------------------------------------------------------
  // A click is predicted at once, in order, then waits in the queue
  // (queue.js) until the server has answered it; the queue is sent in
  // order, BATCH calls a request, and again until answered.
  let clicks = 0; // clicks made and not yet predicted
  let predictions = Promise.resolve(); // predictions, in order
  const outbox = new Outbox(
    storage,
    root.getAttribute(ATTRIBUTES.app) || '',
    root.getAttribute(ATTRIBUTES.build) || '',
    signatures,
  );
  root.addEventListener('click', (event) => {
    const target = event.target.closest(`[${ATTRIBUTES.call}]`);
    if (!target || !root.contains(target)) return;
    event.preventDefault();
    const name = target.getAttribute(ATTRIBUTES.call);
    const argsText = target.getAttribute(ATTRIBUTES.args);
    let args;
    try {
      args = JSON.parse(argsText || '[]');
    } catch (e) {
      report(`${name}: bad ${ATTRIBUTES.args} ${argsText}: ${e.message}`);
      return;
    }
    clicks += 1;
    predictions = predictions.then(() => click(name, args));
  });

  // ---- events with values (data-on) -----------------------------------
  // One listener per DOM event type at the root. The nearest element with
  // a matching entry handles it; a debounced entry runs once its events
  // stop for `debounce` ms, with the values of the last one.
  const debounced = new WeakMap(); // element -> Map(entry index -> { timer, run })
  for (const domType of new Set(EVENTS.map(([, t]) => t))) {
    root.addEventListener(domType, (event) => {
      const found = matching(root, event.target, domType, event.key);
      if (!found) return;
      if (domType === 'submit' || domType === 'keydown') event.preventDefault();
      const pending = debounced.get(found.element) || new Map();
      debounced.set(found.element, pending);
      for (const entry of found.entries) {
        const run = () => {
          let args;
          try {
            args = eventArgs(entry, found.element, event, (signatures[entry.call] || {}).params || []);
          } catch (e) {
            report(`${entry.call} not run on ${entry.on}: ${e.message}`);
            return;
          }
          clicks += 1;
          predictions = predictions.then(() => click(entry.call, args));
        };
        const index = found.all.indexOf(entry);
        if (entry.debounce) {
          clearTimeout((pending.get(index) || {}).timer);
          const timer = setTimeout(() => { pending.delete(index); run(); }, entry.debounce);
          pending.set(index, { timer, run });
          continue;
        }
        // Calls still waiting out their debounce on this element run first
        // (like LiveView's phx-debounce, flushed by a submit or a key):
        // Enter after typing adds what was typed, in order.
        for (const [i, waiting] of pending) {
          clearTimeout(waiting.timer);
          pending.delete(i);
          waiting.run();
        }
        run();
      }
    });
  }

  // Predicts a click and queues it (`restored`: one that waited when the
  // page loaded, queued again with its id).
  async function click(name, args, restored = null) {
    let compiledModule = null;
    let why = null;
    try {
      compiledModule = await module(name);
    } catch (e) {
      why = e;
    }
    const { base, predicted, error } = sync.click((state) => {
      if (why) throw why;
      return runWasm(compiledModule, name, signatures[name], args, state, viewOffset);
    });
    if (error) {
      stats.serverOnly += 1;
      report(`${name} runs on the server only: ${error.message}`);
    } else {
      stats.wasmRuns += 1;
      showBound();
    }
    let item = restored;
    if (restored) outbox.readd(restored);
    else item = outbox.add(name, args, signatures[name]);
    clicks -= 1;
    if (!item) {
      // the queue is full: this click is refused, and said so
      sync.answer(null);
      sync.settle();
      showBound();
      tell(`Not done: ${QUEUE_MAX} changes wait for the server already; this one was not kept`);
      return;
    }
    Object.assign(item, { base, predicted });
    if (outbox.unsaved && !toldUnsaved) {
      toldUnsaved = true;
      report('this tab cannot keep the changes that wait (its storage is full or refused)');
      tell('Changes that wait are not kept across a reload of this tab: keep it open until they are in');
    }
    updateStatus(); // (the count shown)
    send();
  }

  // Sends what waits, in order, until the queue is empty; never rejects.
  // A request that fails (no connection, a server away) is sent again,
  // with the same click ids, after a delay that doubles up to 5 s; the
  // server answers a click it already ran with its first answer.
  let toldUnsaved = false;
  let sending = false;
  let retryDelay = 250;
  async function send() {
    if (sending) return;
    sending = true;
    try {
      while (outbox.items.length) await sendBatch();
      if (!status.hidden) showStatus('in');
    } finally {
      sending = false;
    }
  }

  // Answers that mean "nothing ran, send it again": the view is not known
  // (its stream brings a new id), too many clicks, the store is away.
  const TRANSIENT = [409, 429, 500, 502, 503, 504];

  // Waits before sending again: 250 ms doubling to 5 s, with jitter, or
  // until the event stream is open again (the server is back: `wake`).
  let wake = () => {};
  async function backOff() {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, retryDelay * (0.5 + Math.random()));
      wake = () => { clearTimeout(timer); resolve(); };
    });
    wake = () => {};
    retryDelay = Math.min(retryDelay * 2, 5000);
  }

  // The most a request's calls may take, in UTF-8 bytes: the server takes
  // bodies of 64 KiB; cut to a quarter of what was sent after a 413 (and
  // back after a success).
  const BODY_MOST = 48 * 1024;
  let bodyMost = BODY_MOST;
  const utf8 = new TextEncoder();

  async function sendBatch() {
    const batch = [];
    const items = [];
    let size = 0;
    for (const item of outbox.next()) {
      const call = { id: item.id, call: item.call, args: item.args, base: item.base, predicted: item.predicted };
      size += utf8.encode(JSON.stringify(call)).length;
      if (batch.length && size > bodyMost) break;
      batch.push(call);
      items.push(item);
    }
    outbox.sending(items).forEach((resent, k) => { if (resent) batch[k].resent = true; });
    const waiting = setTimeout(() => showStatus('pending'), PENDING_AFTER_MS);
    let answers = null;
    let unauthorized = false;
    try {
      if (latency()) await sleep(latency() / 2);
      const response = await fetch('/execute', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ view, build: outbox.build, calls: batch }),
      });
      const body = await response.json().catch(() => ({}));
      unauthorized = response.status === 401;
      if (response.ok && Array.isArray(body.answers)) {
        answers = body.answers;
        bodyMost = BODY_MOST;
      } else if (response.status === 413 && batch.length > 1) {
        // too large for one request: fewer calls, at once
        bodyMost = Math.max(1, Math.floor(size / 4));
        return;
      } else if (response.status === 409 && body.build) {
        // the app was rebuilt: load it; the queue is kept, and what still
        // fits the new build is sent from there
        report(`the app was rebuilt (${body.error}): reloading`);
        location.reload();
        await new Promise(() => {}); // (until the page goes)
      } else if (!TRANSIENT.includes(response.status) && response.status !== 401) {
        // the request itself was refused: every call in it, for good
        answers = batch.map(() => ({ status: response.status, body }));
      }
    } catch (e) {
      report(`the server could not be reached: ${e.message}`);
    } finally {
      clearTimeout(waiting);
    }
    if (!answers) {
      stats.retries += 1;
      // (a 401: the server is there but asks for its token: it restarted
      // with a new random one, and this page's cookie is the old one's)
      showStatus(unauthorized ? 'token' : 'offline');
      await backOff();
      return;
    }
    let done = 0;
    const versions = [];
    for (const { status: code, body } of answers) {
      // (a 503 whose outcome is unknown too: sent again, its id tells)
      if (TRANSIENT.includes(code)) break;
      const item = batch[done];
      if (code === 200) {
        versions.push(body.version);
      } else {
        const why = (body && body.error) || `the server answered ${code}`;
        report(`${item.call} failed on the server (${code}): ${why}`);
        // (410: the server cannot tell whether it ran; it was not run again)
        tell(code === 410 ? `Maybe not done: ${why}` : `Not done: ${why}`);
        versions.push(null);
      }
      done += 1;
    }
    outbox.answered(done);
    for (const version of versions) {
      for (const [type, event] of sync.answer(version)) handle(type, event);
    }
    // What the server said wins over what this page predicted.
    sync.settle();
    showBound();
    if (done < batch.length) {
      // one was not run (the server said when to try again)
      stats.retries += 1;
      showStatus('offline');
      await backOff();
    } else {
      retryDelay = 250;
      updateStatus();
    }
  }

  // ---- events ---------------------------------------------------------
  // A reset shows the server's render of its state; patch events are the
  // server's diff, which a page that renders itself does not need.
  const dom = {
    reset: (html) => { root.innerHTML = html; keepStatus(); },
    patch: (patch) => { if (!viewModule) applyPatch(root, patch); },
  };

  // What the page does after the sync handled an event.
  function handled(outcome) {
    if (outcome === 'reset') {
      stats.resets += 1;
      domState = sync.serverState.slice();
    }
    if (outcome === 'patched') stats.patches += 1;
    if (outcome.resync) return resync(outcome.resync);
    root.setAttribute(ATTRIBUTES.version, String(sync.applied));
    showBound();
  }

  // Notes the server's view hash of a patch event the page applied.
  function noteView(type, event, outcome) {
    if (type === 'patch' && outcome === 'patched' && event.view) {
      unchecked = { version: event.version, hash: event.view };
    }
  }

  function handle(type, event) {
    const outcome = sync.handle(type, event, dom);
    noteView(type, event, outcome);
    handled(outcome);
  }

  function receive(type, data) {
    const event = JSON.parse(data);
    // The server did not know this page's view id (it restarted): the
    // reset names the view it made instead, which clicks name from now on.
    if (type === 'reset' && event.id) {
      view = event.id;
      root.setAttribute(ATTRIBUTES.view, view);
    }
    const deliver = () => {
      const outcome = sync.receive(type, event, dom);
      noteView(type, event, outcome);
      if (outcome !== 'held') handled(outcome);
    };
    if (latency()) setTimeout(deliver, latency() / 2);
    else deliver();
  }

  // A click the server refused (its prediction is undone) says why, for a
  // few seconds: the user must not think it happened.
  const notice = document.createElement('div');
  notice.className = 'x64wasm-notice';
  notice.setAttribute('role', 'alert');
  notice.hidden = true;
  document.body.appendChild(notice);
  let noticeTimer = null;
  function tell(text) {
    notice.textContent = text;
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { notice.hidden = true; }, 5000);
  }

  // What the page says of its queue (in the app root, role="status";
  // the view check passes over it): clicks not answered within
  // PENDING_AFTER_MS, clicks waiting while the server cannot be reached,
  // and once all are in, that they are. Never a silent difference
  // between the page and the server.
  const status = document.createElement('div');
  status.className = 'x64wasm-status';
  status.setAttribute('role', 'status');
  status.setAttribute(RUNTIME_MARK, '');
  status.hidden = true;
  root.appendChild(status);
  let statusTimer = null;
  const changes = (n) => `${n} change${n === 1 ? '' : 's'}`;
  function showStatus(kind) {
    clearTimeout(statusTimer);
    const n = outbox.length;
    status.dataset.kind = kind;
    if (kind === 'in') {
      status.textContent = 'All changes are in';
      statusTimer = setTimeout(() => { status.hidden = true; }, 3000);
    } else if (kind === 'offline') {
      status.textContent = `Offline: ${changes(n)} waiting, sent when the server is back`;
    } else if (kind === 'token') {
      status.textContent = `${changes(n)} waiting: the server asks for its access token again (it started with a new one); open the URL it printed, in this tab`;
    } else {
      status.textContent = `Waiting for the server: ${changes(n)} not confirmed yet`;
    }
    status.hidden = false;
  }
  // After answers: the count shown follows the queue.
  function updateStatus() {
    if (status.hidden || status.dataset.kind === 'in') return;
    if (outbox.length === 0) showStatus('in');
    else showStatus(status.dataset.kind);
  }
  // A reset replaces the root's content: the status goes back in.
  const keepStatus = () => { if (status.parentNode !== root) root.appendChild(status); };

  const reconnecting = document.createElement('div');
  reconnecting.className = 'x64wasm-reconnecting';
  reconnecting.textContent = 'reconnecting…';
  reconnecting.hidden = true;
  document.body.appendChild(reconnecting);

  // One event stream, a WebSocket (stream.js says why). When it breaks, a
  // new one opens after a delay that
  // doubles up to 5 s, spread by random jitter (half to one and a half
  // times) so that the views of a restarted server do not all come back at
  // the same millisecond, telling the server the version shown (`since`): a
  // view that missed versions gets a reset with the whole view.
  let events = null;
  let delay = 250;
  let timer = null;
  function connect(since) {
    clearTimeout(timer);
    if (events) {
      events.onclose = null; // replaced, not broken
      events.close();
    }
    const query = [];
    if (since !== null) query.push('since=' + since);
    if (view) query.push('view=' + view);
    // a page that renders itself needs the state alone (and the view's
    // hash when it checks)
    if (viewModule) query.push('render=page');
    if (viewModule && checking()) query.push('check=1');
    const path = '/events' + (query.length ? '?' + query.join('&') : '');
    const socket = new WebSocket(streamUrl(location, path));
    events = socket;
    socket.onmessage = (message) => {
      for (const { type, data } of parseEvents(message.data)) {
        if (type === 'patch' || type === 'reset') receive(type, data);
      }
    };
    socket.onopen = () => {
      reconnecting.hidden = true;
      delay = 250;
      // the server is back: what waits goes now
      retryDelay = 250;
      wake();
    };
    // (a refused or failed handshake closes it too)
    socket.onclose = () => {
      reconnecting.hidden = false;
      timer = setTimeout(() => connect(sync.applied), delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 5000);
    };
  }

  function resync(why) {
    stats.resyncs += 1;
    console.info('x64wasm: resynchronising (' + why + ')');
    sync.dropHeld();
    connect(null);
  }

  // bound styles are the runtime's alone (the CSP refuses style attributes)
  showBound();
  connect(sync.applied);
  // What waited when the page loaded (a reload, a restarted tab): sent
  // again with its ids, predicted again on what the page shows now; what
  // an earlier build queued and this one cannot run is said, and dropped.
  if (outbox.dropped.length) {
    const names = outbox.dropped.map((item) => item.call).join(', ');
    report(`the app changed; these waiting clicks no longer fit it and were dropped: ${names}`);
    tell(`Not done (the app was updated): ${names}`);
  }
  for (const item of [...outbox.restored]) {
    clicks += 1;
    predictions = predictions.then(() => click(item.call, item.args, item));
  }
  // Compile every callback's module while the user reads the page, so the
  // first click predicts at once.
  window.x64wasm.ready = Promise.allSettled([
    ...Object.keys(signatures).map(module),
    loadView(),
  ]).then((outcomes) => {
    stats.interactiveMs = performance.now();
    return outcomes;
  });

  // The view module, if the server could make one: from then on this page
  // renders itself, starting from the server's render it shows now.
  async function loadView() {
    try {
      const response = await fetch('/view.wasm');
      const body = response.ok ? await response.arrayBuffer() : await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || `GET /view.wasm: ${response.status}`);
      const compiledView = await WebAssembly.compile(body);
      domState = sync.serverState.slice();
      viewModule = compiledView;
      showBound();
      // the server then sends this view its state alone (and renders
      // nothing for it unless it checks)
      connect(sync.applied);
    } catch (e) {
      console.info('x64wasm: the server renders this view: ' + e.message);
    }
  }
}
