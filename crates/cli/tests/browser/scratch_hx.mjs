import { launch } from './chromium.mjs';
const [url, checkArg, rounds] = process.argv.slice(2);
const CHECK = checkArg === 'check';
const browser = await launch();
const out = {};
async function open(name) {
  const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.x64wasm !== undefined);
  if (CHECK) { await page.evaluate(() => window.x64wasm.enableViewCheck()); await page.reload(); await page.waitForFunction(() => window.x64wasm !== undefined); }
  await page.evaluate(() => window.x64wasm.ready);
  return { name, page, log };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const labels = (page) => page.$$eval('.todo-list li', (lis) => lis.map((li) => (li.querySelector('label')||{}).textContent + (li.classList.contains('completed') ? '[x]' : '')));
const visible = (page) => page.$$eval('.todo-list li', (lis) => lis.filter((li) => li.checkVisibility()).map((li) => li.querySelector('label').textContent));
const safe = async (f) => { try { await f(); } catch (e) { return String(e.message).split('\n')[0]; } };
async function chaos(p, seed, n) {
  const errs = [];
  let r = seed;
  const rnd = (k) => { r = (r * 1103515245 + 12345) % 2147483648; return r % k; };
  const page = p.page;
  for (let i = 0; i < n; i++) {
    const count = await page.$$eval('.todo-list li', (l) => l.length);
    const k = rnd(9);
    let e;
    if (k <= 2 || count === 0) e = await safe(async () => { await page.click('.new-todo', { timeout: 2000 }); await page.keyboard.type(`${p.name}${i}`, { delay: 5 }); await page.keyboard.press('Enter'); });
    else if (k === 3) e = await safe(() => page.click(`.todo-list li:nth-child(${1 + rnd(count)}) .toggle`, { timeout: 1000, force: true }));
    else if (k === 4) e = await safe(() => page.click(`.todo-list li:nth-child(${1 + rnd(count)}) .destroy`, { timeout: 1000, force: true }));
    else if (k === 5) e = await safe(() => page.click(`.filters li:nth-child(${1 + rnd(3)}) a`, { timeout: 1000 }));
    else if (k === 6) e = await safe(async () => { const j = 1 + rnd(count); await page.dblclick(`.todo-list li:nth-child(${j}) label`, { timeout: 1000, force: true }); await page.keyboard.press('Control+A'); await page.keyboard.type(`E${p.name}${i}`); await page.keyboard.press(rnd(3) === 0 ? 'Escape' : 'Enter'); });
    else if (k === 7) e = await safe(() => page.click('.toggle-all + label', { timeout: 1000 }));
    else e = await safe(() => page.click('.clear-completed', { timeout: 500 }));
    if (e) errs.push(`${i}:${k}:${e}`);
  }
  return errs;
}
try {
  const a = await open('A'), b = await open('B');
  await a.page.evaluate(() => window.x64wasm.enableLatencySim(300));
  for (let round = 0; round < Number(rounds || 1); round++) {
    const [ea, eb] = await Promise.all([chaos(a, 7 + round, 40), chaos(b, 99 + round, 40)]);
    out[`errors${round}`] = { A: ea.length, B: eb.length, sampleA: ea.slice(0, 3), sampleB: eb.slice(0, 3) };
  }
  const T0 = Date.now();
  for (const p of [a, b]) { await p.page.evaluate(() => document.activeElement && document.activeElement.blur()); }
  for (const p of [a, b]) { out[`${p.name}idle`] = await safe(() => p.page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 500000 })) || ('idle after ' + (Date.now() - T0) + ' ms'); }
  await sleep(2000);
  const c = await open('C');
  const server = await labels(c.page);
  const srvState = await (await fetch(url + 'state')).json();
  for (const p of [a, b, c]) {
    const page = p.page;
    const l = await labels(page);
    const st = await page.evaluate(() => ({ stats: window.x64wasm.stats, version: window.x64wasm.version, dv: document.getElementById('x64wasm').dataset.version, filter: document.querySelector('.filters a.selected')?.textContent, editing: document.querySelectorAll('li.editing').length, notice: document.querySelector('.x64wasm-notice')?.textContent }));
    const shared = await page.evaluate((len) => btoa(String.fromCharCode(...window.x64wasm.state.slice(0, len))), atob(srvState.state).length);
    const f = st.filter; const exp = server.filter((x) => f === 'All' || (f === 'Completed') === x.endsWith('[x]'));
    await safe(() => page.click('.filters li:nth-child(1) a', { timeout: 2000 }));
    await safe(() => page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 30000 })); await sleep(300);
    const all = await labels(page);
    out[p.name] = { sameAsServerFiltered: JSON.stringify(l) === JSON.stringify(exp), allSameAfterAll: JSON.stringify(all) === JSON.stringify(server), sharedStateSame: shared === srvState.state, labels: l.length, visible: (await visible(page)).length, ...st,
      stats: { ...st.stats, failures: st.stats.failures.slice(0, 5), nFailures: st.stats.failures.length }, log: p.log.filter((x) => !x.startsWith('debug')).slice(0, 8) };
    if (!out[p.name].sameAsServerFiltered || !out[p.name].allSameAfterAll) out[p.name].diff = { page: l, all, exp, server };
  }
  out.serverVersion = srvState.version; out.serverLabels = server.length;
} catch (e) { out.error = String(e.stack); }
await browser.close();
console.log(JSON.stringify(out, null, 1));
