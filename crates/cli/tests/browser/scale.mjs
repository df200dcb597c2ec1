// Three pages through the balancer (separate browser contexts, so each
// gets its own instance cookie): node scale.mjs LB_URL
// 1. opens them, reports, waits for "go" (meanwhile the test clicks from
//    24 clients and kills one instance);
// 2. waits until every page shows the server's version (pages on the
//    killed instance reconnect through the balancer to another), then
//    clicks Increment in each page, waits again, and reports.
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
    const target = await serverVersion();
    for (const { page } of pages) {
      await page.waitForFunction((v) => window.x64wasm.version >= v && window.x64wasm.idle, target, { timeout: 30000 });
    }
    return target;
  };
  const afterClicks = await caughtUp();
  for (const { page } of pages) {
    await page.click('[data-call="increment_counter"]');
    await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 30000 });
  }
  const final = await caughtUp();
  done({
    afterClicks,
    final,
    versions: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.version))),
    counters: await Promise.all(pages.map(({ page }) => page.textContent('#counter [data-bind]'))),
    notReloaded: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.notReloaded === true))),
    stats: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.stats))),
    console: pages.flatMap((p) => p.console),
  });
} catch (e) {
  done({ error: e.message, stats: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.stats).catch(() => null))) });
} finally {
  await browser.close();
}
