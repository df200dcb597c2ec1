// Browser test of the demo: node demo.mjs URL SCREENSHOT.png
// Clicks Increment three times, Decrement once, toggles five cells (a glider)
// and steps the Game of Life, then every other button once (Describe formats
// with write!, Busiest rows sorts a Vec), waiting after
// each click for the server's event, then types a label (text as a
// callback argument, debounced input events); prints one JSON line with what the page
// showed after the first part and at the end.
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

  const glider = {
    version: await page.evaluate(() => window.x64wasm.version),
    counter: await page.textContent('#counter [data-bind]'),
    alive: await page.$$eval('.board button', (cells) =>
      cells.map((c, i) => (c.classList.contains('alive') ? i : -1)).filter((i) => i >= 0)),
    state: await pageState(page),
  };
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  for (const selector of [
    '[data-call="set_step"][data-args="[25]"]',
    '[data-call="add_step_clamped"]',
    '[data-call="describe_counter"]',
    '[data-call="change_number"][data-args="[1000]"]',
    '[data-call="compute_gcd"]',
    '[data-call="compute_collatz"]',
    '[data-call="compute_fibonacci"]',
    '[data-call="life_randomize"]',
    '[data-call="life_step"]',
    '[data-call="find_busiest_rows"]',
    '[data-call="reset_counter"]',
    '[data-call="add_step_clamped"]',
    '[data-call="life_clear"]',
  ]) {
    await click(selector);
  }
  const described = await page.textContent('.label');
  // Typing into the label field: input events, debounced into one call of
  // set_label with the field's text (multi-byte UTF-8 included).
  await page.type('.label-field', '  crème brûlée 東京 🦀 ', { delay: 5 });
  version += 1;
  // (a stall of over 150 ms between two keystrokes, on a loaded machine,
  // splits the typing into two calls: wait for the whole text, then the
  // test allows one version more)
  await page.waitForFunction(
    (v) => Number(document.getElementById('x64wasm').dataset.version) >= v && window.x64wasm.version >= v
      && document.querySelector('.label').textContent === 'CRÈME BRÛLÉE 東京 🦀',
    version,
    { timeout: 20000 },
  );
  const result = {
    glider,
    version: await page.evaluate(() => window.x64wasm.version),
    state: await pageState(page),
    shown: await page.$$eval('[data-bind]', (els) => els.map((e) => e.textContent)),
    label: described,
    typed: await page.textContent('.label'),
    busiest: await page.textContent('.busiest'),
    stats: await page.evaluate(() => window.x64wasm.stats),
    console,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await browser.close();
}
