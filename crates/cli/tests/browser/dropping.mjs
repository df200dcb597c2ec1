// Clicks through a network that drops connections at random:
// node dropping.mjs URL PAGES CLICKS
// Opens PAGES pages on URL (a proxy), then {"need":"drop"}: the proxy
// closes connections at random from then on, mid-request, mid-answer and
// mid-stream; makes CLICKS Increments in each page at once, and waits until
// every page has every click answered. Prints the result.
import { launch, step, done } from './chromium.mjs';

const [url, pages, clicks] = process.argv.slice(2);
const browser = await launch();
try {
  const context = await browser.newContext();
  const tabs = [];
  for (let i = 0; i < Number(pages); i++) {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.x64wasm !== undefined);
    await page.evaluate(() => window.x64wasm.ready);
    tabs.push(page);
  }
  await step({ need: 'drop' });
  await Promise.all(tabs.map((page) => page.evaluate(async (n) => {
    // (the button is looked up for each click, as a person sees it: a
    // stream that reconnects may get a reset, which replaces the view)
    for (let i = 0; i < n; i++) {
      document.querySelector('[data-call="increment_counter"]').click();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }, Number(clicks))));
  for (const page of tabs) {
    await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 240000, polling: 200 });
  }
  const stats = await Promise.all(tabs.map((page) => page.evaluate(() => window.x64wasm.stats)));
  done({ stats: stats.map(({ failures, retries, wasmRuns, serverOnly }) => ({ failures: failures.filter((f) => !f.includes('could not be reached')), retries, wasmRuns, serverOnly })) });
} catch (e) {
  done({ error: String(e) });
} finally {
  await browser.close();
}
