import { launch } from './chromium.mjs';
import { spawn } from 'node:child_process';
const [bin, port, stateFile] = process.argv.slice(2);
const url = `http://127.0.0.1:${port}/`;
const extra = stateFile ? ['--state-file', stateFile] : [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function start() {
  const p = spawn(bin, ['--headless', '--port', port, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = ''; p.stderr.on('data', (d) => { err += d; }); p.errText = () => err;
  return new Promise((res) => { const t = setInterval(() => { if (err.includes('serving on')) { clearInterval(t); res(p); } }, 50); });
}
const out = {};
let server = await start();
const browser = await launch();
async function open(name, check, lat) {
  const page = await browser.newPage(); const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`)); page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  if (check) await page.addInitScript(() => sessionStorage.setItem('x64wasm:check', '1'));
  if (lat) await page.addInitScript(() => sessionStorage.setItem('x64wasm:latency', '300'));
  await page.goto(url); await page.waitForFunction(() => window.x64wasm !== undefined); await page.evaluate(() => window.x64wasm.ready);
  return { name, page, log };
}
const labels = (page) => page.$$eval('.todo-list li', (lis) => lis.map((li) => li.querySelector('label').textContent + (li.classList.contains('completed') ? '[x]' : '')));
const snap = (p) => p.page.evaluate(() => ({ v: window.x64wasm.version, idle: window.x64wasm.idle, notice: document.querySelector('.x64wasm-notice')?.textContent || '', status: document.body.innerText.includes('reconnecting') , filter: document.querySelector('.filters a.selected')?.textContent, s: { ...window.x64wasm.stats, failures: window.x64wasm.stats.failures.slice(-3) } }));
async function add(p, t) { await p.page.click('.new-todo'); await p.page.keyboard.type(t); await p.page.keyboard.press('Enter'); }
try {
  const a = await open('A', false, false), b = await open('B', true, false), c = await open('C', true, true);
  for (const t of ['one', 'two', 'three']) await add(a, t);
  await b.page.click('.todo-list li:nth-child(1) .toggle');
  await b.page.click('.filters li:nth-child(2) a');
  for (const p of [a, b, c]) await p.page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 20000 });
  await sleep(500);
  out.before = { A: await labels(a.page), B: await labels(b.page), C: await labels(c.page) };
  server.kill('SIGKILL'); await sleep(300);
  // clicks while down
  await add(a, 'while-down');
  await c.page.click('.todo-list li:nth-child(2) .toggle', { force: true }).catch((e) => 0);
  await sleep(1500);
  out.down = { A: await snap(a), B: await snap(b), C: await snap(c), Alabels: await labels(a.page) };
  await sleep(2500);
  server = await start();
  const t0 = Date.now();
  for (const p of [a, b, c]) {
    const r = await p.page.waitForFunction(() => window.x64wasm.idle && !document.body.innerText.includes('reconnecting'), null, { timeout: 30000 }).then(() => 'ok').catch((e) => 'timeout');
    out[`recovered${p.name}`] = `${r} after ${Date.now() - t0} ms`;
  }
  await sleep(1500);
  const d = await open('D', true, false);
  const srv = await labels(d.page);
  const st = await (await fetch(url + 'state')).json();
  for (const p of [a, b, c, d]) {
    const s = await snap(p);
    const shared = await p.page.evaluate((n) => btoa(String.fromCharCode(...window.x64wasm.state.slice(0, n))), atob(st.state).length);
    out[p.name] = { labels: await labels(p.page), sameAsServer: JSON.stringify(await labels(p.page)) === JSON.stringify(srv), sharedSame: shared === st.state, ...s, log: p.log.filter((x) => !x.startsWith('debug')).slice(-6) };
  }
  // one more click after recovery in each page
  await add(a, 'after'); await b.page.click('.filters li:nth-child(1) a'); await c.page.click('.filters li:nth-child(3) a');
  for (const p of [a, b, c]) await p.page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 20000 }).catch(() => 0);
  await sleep(800);
  const srv2 = await labels((await open('E', false, false)).page);
  out.after = { server: srv2, A: await labels(a.page), B: await labels(b.page), C: await labels(c.page), Bf: (await snap(b)).filter, Cf: (await snap(c)).filter,
    stats: { A: (await snap(a)).s, B: (await snap(b)).s, C: (await snap(c)).s } };
  out.server = { version: st.version, err: server.errText().split('\n').slice(-5) };
} catch (e) { out.error = String(e.stack); }
await browser.close(); server.kill('SIGKILL');
console.log(JSON.stringify(out, null, 1));
