// A view that reads the clock (examples/clock.rs), in Chromium: node
// clock.mjs URL. Clicks once with the latency simulator at 300 ms: the
// bound count changes within one frame (the callback runs as wasm), the
// computed parity only with the server's patch. Prints one JSON line.
import { launch, open } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.enableLatencySim(300));
  await page.reload();
  await page.waitForFunction(() => window.x64wasm !== undefined);
  await page.evaluate(() => window.x64wasm.ready);
  const atOnce = await page.evaluate(async () => {
    document.querySelector('[data-call="click"]').click();
    await new Promise((resolve) => requestAnimationFrame(resolve));
    return {
      count: document.querySelector('#count').textContent,
      parity: document.querySelector('#parity').textContent,
    };
  });
  await page.waitForFunction(() => window.x64wasm.version >= 1 && window.x64wasm.idle, null, { timeout: 20000 });
  process.stdout.write(JSON.stringify({
    countAtOnce: atOnce.count,
    parityAtOnce: atOnce.parity,
    parity: await page.textContent('#parity'),
    stats: await page.evaluate(() => window.x64wasm.stats),
    console,
  }) + '\n');
} finally {
  await browser.close();
}
