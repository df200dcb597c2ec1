// The queue's catch-up, for benches/sync.rs: node bench_queue.mjs URL ROUNDS
// URL is a proxy the bench cuts. Each round: {"need":"cut"}, 50 Increments
// while cut (they wait, offline), {"need":"restore"}, then the time until
// all 50 are answered. Prints the times in ms.
import { launch, open, step, done } from './chromium.mjs';

const [url, rounds] = process.argv.slice(2);
const browser = await launch();
try {
  const { page } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.ready);
  const times = [];
  for (let round = 0; round < Number(rounds); round++) {
    await step({ need: 'cut' });
    await page.evaluate(() => {
      const button = document.querySelector('[data-call="increment_counter"]');
      for (let i = 0; i < 50; i++) button.click();
    });
    await page.waitForFunction(() => window.x64wasm.waiting === 50, null, { timeout: 20000 });
    await page.waitForSelector('.x64wasm-status[data-kind="offline"]', { timeout: 20000 });
    await step({ need: 'restore' });
    const restored = Date.now();
    await page.waitForFunction(() => window.x64wasm.waiting === 0, null, { timeout: 30000, polling: 'raf' });
    times.push(Date.now() - restored);
    await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 30000 });
  }
  done({ times });
} catch (e) {
  done({ error: String(e) });
} finally {
  await browser.close();
}
