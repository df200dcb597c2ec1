// Every click exactly once through a server's death: node outage.mjs URL
// Steps: {"need":"kill"} (the test kills the server with SIGKILL); the
// page makes 50 clicks (20 Increments, a Reset, 29 Increments), which wait
// in its queue while it shows that it is offline; {"need":"restart"} (the
// server starts again on the same port and state file); the queue goes
// in. Then again with a reload: {"need":"kill"}, 10 Increments, the page
// reloaded while they wait (the load fails), {"need":"restart"}, the page
// loaded again: its queue, kept in the tab, goes in. Prints the result.
import { launch, open, step, done } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
const counter = (page) => page.textContent('#counter [data-bind]');
const button = (page, name) => page.click(`[data-call="${name}"]`);
try {
  const { page, console } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.ready);
  await step({ need: 'kill' });
  for (let i = 0; i < 20; i++) await button(page, 'increment_counter');
  await button(page, 'reset_counter');
  for (let i = 0; i < 29; i++) await button(page, 'increment_counter');
  const predicted = await counter(page);
  const status = page.locator('.x64wasm-status[data-kind="offline"]');
  await status.waitFor({ state: 'visible', timeout: 20000 });
  await page.waitForFunction(() => window.x64wasm.waiting === 50, null, { timeout: 20000 });
  const offline = {
    text: await page.textContent('.x64wasm-status'),
    role: await page.getAttribute('.x64wasm-status', 'role'),
    inRoot: await page.evaluate(() => document.querySelector('.x64wasm-status').parentNode.id),
  };
  await step({ need: 'restart' });
  await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 60000 });
  const after = await counter(page);
  const inText = await page.textContent('.x64wasm-status');

  // The same, with the page reloaded while its clicks wait.
  await step({ need: 'kill' });
  for (let i = 0; i < 10; i++) await button(page, 'increment_counter');
  await page.waitForFunction(() => window.x64wasm.waiting === 10, null, { timeout: 20000 });
  const reloadFailed = await page.reload({ timeout: 10000 }).then(() => false, () => true);
  await step({ need: 'restart' });
  await page.goto(url);
  await page.waitForFunction(() => window.x64wasm !== undefined);
  await page.evaluate(() => window.x64wasm.ready);
  await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 60000 });
  const reloaded = await counter(page);
  const stats = await page.evaluate(() => window.x64wasm.stats);
  done({ predicted, offline, after, inText, reloadFailed, reloaded, stats, console });
} catch (e) {
  done({ error: String(e) });
} finally {
  await browser.close();
}
