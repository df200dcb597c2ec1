// Three pages through the balancer (separate browser contexts, so each
// gets its own instance cookie): node scale.mjs LB_URL
// 1. opens them, reports, waits for "go" (meanwhile the test clicks from
//    24 clients and kills one instance);
// 2. waits until every page shows the server's version (pages on the
//    killed instance reconnect through the balancer to another), then
//    clicks Increment in each page, waits again, reports, and waits for
//    "go" (meanwhile the test stops Redis);
// 3. waits until every page shows "reconnecting…", reports, and waits for
//    "go" (meanwhile the test starts Redis again);
// 4. waits until every page is connected and caught up, clicks Increment
//    in each page once more, and reports.
import { launch, step, done } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
const pages = [];
try {
  for (let i = 0; i < 3; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const console = [];
    page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.x64wasm !== undefined);
    await page.evaluate(() => { window.notReloaded = true; return window.x64wasm.ready; });
    pages.push({ page, console });
  }
  await step({ opened: pages.length });

  const serverVersion = async () => (await (await fetch(url + 'state')).json()).version;
  const caughtUp = async () => {
    // (an instance's /state may lag Redis by a moment: a page that was
    // answered a newer version knows it is there)
    const shown = await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.version)));
    const target = Math.max(await serverVersion(), ...shown);
    for (const { page } of pages) {
      await page.waitForFunction((v) => window.x64wasm.version >= v && window.x64wasm.idle, target, { timeout: 30000 });
    }
    return target;
  };
  const clickEach = async () => {
    for (const { page } of pages) {
      await page.click('[data-call="increment_counter"]');
      await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 30000 });
    }
    return caughtUp();
  };
  const report = async () => ({
    versions: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.version))),
    counters: await Promise.all(pages.map(({ page }) => page.textContent('#counter [data-bind]'))),
    notReloaded: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.notReloaded === true))),
    stats: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.stats))),
    console: pages.flatMap((p) => p.console),
  });
  const afterClicks = await caughtUp();
  const final = await clickEach();
  await step({ afterClicks, final, ...(await report()) });

  // Redis is down: every page says it is reconnecting; a click waits in
  // the page's queue, shown, and the page says it is offline
  for (const { page } of pages) {
    await page.waitForSelector('.x64wasm-reconnecting', { state: 'visible', timeout: 30000 });
  }
  const [first] = pages;
  const before = await first.page.textContent('#counter [data-bind]');
  await first.page.click('[data-call="increment_counter"]');
  await first.page.waitForSelector('.x64wasm-status[data-kind="offline"]', { state: 'visible', timeout: 30000 });
  await step({
    reconnecting: pages.length,
    status: await first.page.textContent('.x64wasm-status'),
    waiting: await first.page.evaluate(() => window.x64wasm.waiting),
    counterBefore: before,
    counterAfter: await first.page.textContent('#counter [data-bind]'),
  });

  // Redis is back: every page reconnects on its own, the waiting click goes
  // in, and they click again
  for (const { page } of pages) {
    await page.waitForSelector('.x64wasm-reconnecting', { state: 'hidden', timeout: 30000 });
  }
  await first.page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 30000 });
  const recovered = await clickEach();
  done({ final: recovered, ...(await report()) });
} catch (e) {
  done({ error: e.message, stats: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.stats).catch(() => null))) });
} finally {
  await browser.close();
}
