// TodoMVC benchmark (crates/cli/benches/todomvc.rs runs it): node
// bench_todomvc.mjs URL. Prints one JSON line.
// 1. Wire bytes, from a view of its own (GET / for a view id, its event
//    stream read raw): per keystroke (the POST body and the patch event),
//    per todo added to a list of 200, for a toggle of one todo, toggle all
//    and clear completed on 200, with the server's answer time.
// 2. In Chromium: keypress → the predicted state shown (p50, p99), click on
//    a todo's checkbox → its `completed` class, and add / toggle all /
//    clear completed on 200 → the server's patch applied in the page.
import { launch, open } from './chromium.mjs';

const [url] = process.argv.slice(2);
const out = {};
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.round((s.length - 1) * p)]; };
const summary = (xs) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), n: xs.length });

// ---- 1. wire bytes ----------------------------------------------------
const page = await (await fetch(url)).text();
const view = /data-view="([0-9a-f]+)"/.exec(page)[1];
const since = /data-version="([0-9]+)"/.exec(page)[1];
const stream = (await fetch(`${url}events?view=${view}&since=${since}`)).body.getReader();
let buffer = '';
async function nextEvent() {
  for (;;) {
    const end = buffer.indexOf('\n\n');
    if (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      const type = block.split('\n').find((l) => l.startsWith('event: '));
      if (data && type) return { type: type.slice(7), bytes: Buffer.byteLength(block) + 2 };
      continue;
    }
    const { value, done } = await stream.read();
    if (done) throw new Error('stream ended');
    buffer += new TextDecoder().decode(value);
  }
}
async function post(name, args) {
  const body = JSON.stringify({ args, view });
  const started = performance.now();
  const response = await fetch(`${url}execute/${name}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
  });
  if (!response.ok) throw new Error(`${name}: ${response.status} ${await response.text()}`);
  await response.json();
  const ms = performance.now() - started;
  const event = await nextEvent();
  return { ms, request: Buffer.byteLength(body), event: event.bytes, type: event.type };
}
const keystrokes = [];
let draft = '';
for (const ch of 'buy oat milk and bread') {
  draft += ch;
  keystrokes.push(await post('set_draft', [draft]));
}
out.keystroke = {
  requestBytes: summary(keystrokes.map((k) => k.request)),
  eventBytes: summary(keystrokes.map((k) => k.event)),
};
const adds = [];
for (let i = 0; i < 200; i++) adds.push(await post('add_todo', [`todo number ${i}`]));
out.addTo199 = adds[199];
out.add = { ms: summary(adds.map((a) => a.ms)), eventBytes: summary(adds.map((a) => a.event)) };
out.toggleOne = await post('toggle_todo', [100]);
out.toggleOneBack = await post('toggle_todo', [100]);
out.toggleAll = await post('toggle_all', [true]);
out.clearCompleted = await post('clear_completed', []);
await stream.cancel();

// ---- 2. in the page ---------------------------------------------------
const browser = await launch();
try {
  const { page: p } = await open(browser, url);
  await p.evaluate(() => window.x64wasm.ready);
  out.page = await p.evaluate(async () => {
    const idle = async () => { while (!window.x64wasm.idle) await new Promise((r) => setTimeout(r, 1)); };
    // microtasks until `done()` holds: the prediction runs within them
    const until = async (done) => {
      for (let i = 0; i < 100000 && !done(); i++) await Promise.resolve();
      return done();
    };
    const input = document.querySelector('.new-todo');
    input.focus();
    const keys = [];
    for (let i = 0; i < 100; i++) {
      const before = window.x64wasm.state;
      input.value += 'x';
      const t = performance.now();
      input.dispatchEvent(new Event('input', { bubbles: true }));
      const changed = await until(() => {
        const now = window.x64wasm.state;
        return now.length !== before.length || now.some((b, k) => b !== before[k]);
      });
      keys.push(changed ? performance.now() - t : Infinity);
      await idle();
    }
    const timed = async (act) => { const t = performance.now(); act(); await idle(); return performance.now() - t; };
    input.value = '';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    await idle();
    const adds = [];
    for (let i = 0; i < 200; i++) {
      input.value = `page todo ${i}`;
      adds.push(await timed(() => input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }))));
    }
    const toggles = [];
    for (let i = 0; i < 20; i++) {
      const li = document.querySelector(`.todo-list li:nth-child(${i + 1})`);
      const was = li.classList.contains('completed');
      const t = performance.now();
      li.querySelector('.toggle').click();
      await until(() => li.classList.contains('completed') !== was);
      toggles.push(performance.now() - t);
      await idle();
    }
    const toggleAll = await timed(() => document.querySelector('.toggle-all').click());
    const clear = await timed(() => document.querySelector('.clear-completed').click());
    return { keys, adds, toggles, toggleAll, clear, count: document.querySelectorAll('.todo-list li').length };
  });
  out.page.keys = summary(out.page.keys);
  out.page.adds = summary(out.page.adds);
  out.page.toggles = summary(out.page.toggles);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
