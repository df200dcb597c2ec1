// Browser test of the demo: node demo.mjs URL SCREENSHOT.png
// Clicks Increment three times, Decrement once, toggles five cells (a glider)
// and steps the Game of Life, waiting after each click for the server's
// event; prints one JSON line with what the page shows.
import { launch, open, clickAndWait, pageState } from './chromium.mjs';

const [url, screenshot] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  let version = Number(await page.getAttribute('#x64wasm', 'data-version'));
  const click = async (selector) => clickAndWait(page, selector, ++version);

  for (let i = 0; i < 3; i++) await click('[data-call="increment_counter"]');
  await click('[data-call="decrement_counter"]');
  for (const cell of [1, 18, 32, 33, 34]) await click(`[data-call="toggle_cell"][data-args="[${cell}]"]`);
  await click('[data-call="life_step"]');

  const result = {
    version: await page.evaluate(() => window.x64wasm.version),
    counter: await page.textContent('#counter [data-bind]'),
    alive: await page.$$eval('.board button', (cells) =>
      cells.map((c, i) => (c.classList.contains('alive') ? i : -1)).filter((i) => i >= 0)),
    state: await pageState(page),
    stats: await page.evaluate(() => window.x64wasm.stats),
    console,
  };
  if (screenshot) await page.screenshot({ path: screenshot });
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await browser.close();
}
