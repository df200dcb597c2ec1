// A view's clicks run on the server in the order they were made:
// node order.mjs URL ROUNDS
// Each round clicks Increment three times and Reset at once (no waiting
// between clicks), then waits for the server's version and reads the
// server's counter, which must be 0. Prints one JSON line.
import { launch, open } from './chromium.mjs';

const [url, rounds] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.ready);
  let version = Number(await page.getAttribute('#x64wasm', 'data-version'));
  const counters = [];
  const predicted = [];
  for (let round = 0; round < Number(rounds); round++) {
    // Four clicks in one task: none waits for another's answer.
    await page.evaluate(() => {
      const button = (name) => document.querySelector(`[data-call="${name}"]`);
      for (let i = 0; i < 3; i++) button('increment_counter').click();
      button('reset_counter').click();
    });
    version += 4;
    await page.waitForFunction((v) => window.x64wasm.version >= v, version, { timeout: 20000 });
    predicted.push(await page.textContent('#counter [data-bind]'));
    const server = await page.evaluate(async () => (await fetch('/state')).json());
    counters.push(new DataView(Uint8Array.from(atob(server.state), (c) => c.charCodeAt(0)).buffer)
      .getBigInt64(0, true).toString());
  }
  const stats = await page.evaluate(() => window.x64wasm.stats);
  process.stdout.write(JSON.stringify({ counters, predicted, stats, console }) + '\n');
} finally {
  await browser.close();
}
