// A click without an answer is shown as pending: node pending.mjs URL
// Steps: {"need":"stop"} (the test stops the server), then the page clicks
// and waits for the pending notice; {"need":"continue"} (the server goes
// on), then the notice must go and the click be in. Prints the result.
import { launch, open, step, done } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.ready);
  const version = await page.evaluate(() => window.x64wasm.version);
  await step({ need: 'stop' });
  const clicked = Date.now();
  await page.click('[data-call="increment_counter"]');
  await page.click('[data-call="increment_counter"]');
  const predicted = await page.textContent('#counter [data-bind]');
  const notice = page.locator('.x64wasm-status');
  await notice.waitFor({ state: 'visible', timeout: 15000 });
  const shownAfterMs = Date.now() - clicked;
  const pending = { text: await notice.textContent(), role: await notice.getAttribute('role') };
  await step({ need: 'continue' });
  await notice.waitFor({ state: 'hidden', timeout: 20000 });
  await page.waitForFunction((v) => window.x64wasm.version >= v && window.x64wasm.idle, version + 2, { timeout: 20000 });
  done({ predicted, shownAfterMs, pending, counter: await page.textContent('#counter [data-bind]'), console });
} catch (e) {
  done({ error: String(e) });
} finally {
  await browser.close();
}
