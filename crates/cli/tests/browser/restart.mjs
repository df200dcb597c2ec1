// A page that lives through a server restart: node restart.mjs URL
// 1. opens the page, clicks Increment, reports the version, waits for "go"
//    (meanwhile the test restarts the server and clicks once over HTTP);
// 2. waits until the page shows the server's new counter (it reconnects on
//    its own), clicks Increment again, and reports.
import { launch, open, clickAndWait, step, done } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
let page, console;
try {
  ({ page, console } = await open(browser, url));
  await page.evaluate(() => { window.notReloaded = true; });
  const start = await page.evaluate(() => window.x64wasm.version);
  await clickAndWait(page, '[data-call="increment_counter"]', start + 1);
  await step({ version: start + 1 });

  // The server was killed and started again, then moved on by one click.
  await page.waitForFunction((v) => window.x64wasm.version >= v, start + 2, { timeout: 30000 });
  const afterRestart = await page.textContent('#counter [data-bind]');
  const sawReconnecting = await page.evaluate(() => window.x64wasm.stats.resets > 0);
  await clickAndWait(page, '[data-call="increment_counter"]', start + 3);
  done({
    afterRestart,
    counter: await page.textContent('#counter [data-bind]'),
    notReloaded: await page.evaluate(() => window.notReloaded === true),
    sawReconnecting,
    stats: await page.evaluate(() => window.x64wasm.stats),
    console,
  });
} catch (e) {
  done({ error: e.message, console, stats: page && (await page.evaluate(() => window.x64wasm.stats)) });
} finally {
  await browser.close();
}
