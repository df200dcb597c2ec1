// A server that restarted with a new token: node token.mjs URL NEW_URL
// The page opens URL (with the first token), then {"need":"restart"} (the
// server starts again on the same port with another token); the page makes
// 3 Increments, which the server refuses (401: the page's cookie is the old
// token's). The page says that the server asks for its token, and keeps
// the clicks; opening NEW_URL in the same tab sends them. Prints the result.
import { launch, open, step, done } from './chromium.mjs';

const [url, newUrl] = process.argv.slice(2);
const browser = await launch();
try {
  const { page } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.ready);
  await step({ need: 'restart' });
  for (let i = 0; i < 3; i++) await page.click('[data-call="increment_counter"]');
  const status = page.locator('.x64wasm-status[data-kind="token"]');
  await status.waitFor({ state: 'visible', timeout: 20000 });
  const asked = await page.textContent('.x64wasm-status');
  const waiting = await page.evaluate(() => window.x64wasm.waiting);
  await page.goto(newUrl);
  await page.waitForFunction(() => window.x64wasm !== undefined);
  await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 30000 });
  done({ asked, waiting, after: await page.textContent('#counter [data-bind]') });
} catch (e) {
  done({ error: String(e) });
} finally {
  await browser.close();
}
