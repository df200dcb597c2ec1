// Any number of tabs of one browser work (docs/protocol.md, "The event
// stream"): node tabs.mjs URL TABS
// Opens TABS tabs of one Chromium profile (one context: one connection
// pool, at most 6 HTTP/1.1 connections to the server) on URL, clicks
// Increment once in each, and waits until every tab shows every click.
// Prints one JSON line: what each tab shows, and what went wrong.
import { launch } from './chromium.mjs';

const [url, count] = process.argv.slice(2);
const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
  await context.addInitScript(() => sessionStorage.setItem('x64wasm:check', '1'));
  const tabs = [];
  const console = [];
  for (let i = 0; i < Number(count); i++) {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.push(`tab ${i}: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'warning' || m.type() === 'error') console.push(`tab ${i}: ${m.text()}`); });
    await page.goto(url, { timeout: 20000 });
    await page.evaluate(() => window.x64wasm.ready);
    tabs.push(page);
  }
  const base = await tabs[0].evaluate(() => window.x64wasm.version);
  for (const page of tabs) {
    await page.click('[data-call="increment_counter"]');
    await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 20000 });
  }
  const want = base + tabs.length;
  const shown = [];
  for (const page of tabs) {
    await page.waitForFunction((v) => window.x64wasm.version >= v, want, { timeout: 20000 });
    shown.push({
      version: await page.evaluate(() => window.x64wasm.version),
      counter: await page.textContent('#counter [data-bind]'),
      stats: await page.evaluate(() => window.x64wasm.stats),
    });
  }
  // while every tab is open: the server holds a stream for each
  const { views } = await tabs[0].evaluate(async () => (await fetch('/debug/stats')).json());
  process.stdout.write(JSON.stringify({ base, shown, views, console }) + '\n');
} finally {
  await browser.close();
}
