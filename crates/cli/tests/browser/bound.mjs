// Bound parts of the page under a slow network, and a focused field while
// another view's patches arrive: node bound.mjs URL
// 1. With the latency simulator at 300 ms, a cell click shows the cell's
//    `alive` class (a plain class the view computes) within one animation
//    frame, before the server answers (the page's version has not moved
//    yet); two more make a blinker, and a Step draws it turned, with the
//    count of cells alive, within one frame too.
// 2. Page A types into the label field and puts the caret after the first
//    character; page B clicks Increment five times; A's field keeps its
//    text, caret and focus while B's patches arrive.
// Prints one JSON line.
import { launch, open } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
try {
  const a = await open(browser, url);
  await a.page.evaluate(() => window.x64wasm.enableLatencySim(300));
  await a.page.reload();
  await a.page.waitForFunction(() => window.x64wasm !== undefined);
  await a.page.evaluate(() => window.x64wasm.ready);
  const cell = await a.page.evaluate(async () => {
    const button = document.querySelector('[data-call="toggle_cell"][data-args="[40]"]');
    const before = { alive: button.classList.contains('alive'), version: window.x64wasm.version };
    const started = performance.now();
    button.click();
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const out = {
      before,
      alive: button.classList.contains('alive'),
      version: window.x64wasm.version,
      ms: performance.now() - started,
    };
    // a blinker: 40, 41, 42 in a row; a step turns it to 25, 41, 57
    const cells = () => [...document.querySelectorAll('.board button')];
    cells()[41].click();
    cells()[42].click();
    document.querySelector('[data-call="life_step"]').click();
    await new Promise((resolve) => requestAnimationFrame(resolve));
    out.stepped = cells().map((c, i) => (c.classList.contains('alive') ? i : -1)).filter((i) => i >= 0);
    out.count = document.querySelector('#life p').textContent;
    out.versionAfterStep = window.x64wasm.version;
    return out;
  });
  await a.page.waitForFunction((v) => window.x64wasm.version >= v + 4 && window.x64wasm.idle, cell.version, { timeout: 20000 });
  await a.page.evaluate(() => window.x64wasm.disableLatencySim());

  // 2: a focused field and another view's patches
  await a.page.type('.label-field', 'typing here', { delay: 5 });
  const typedVersion = await a.page.evaluate(() => window.x64wasm.version);
  await a.page.waitForFunction((v) => window.x64wasm.version > v, typedVersion, { timeout: 20000 });
  await a.page.evaluate(() => document.querySelector('.label-field').setSelectionRange(1, 1));
  const b = await open(browser, url);
  await b.page.evaluate(() => window.x64wasm.ready);
  const bStart = await b.page.evaluate(() => window.x64wasm.version);
  for (let i = 0; i < 5; i++) await b.page.click('[data-call="increment_counter"]');
  await a.page.waitForFunction((v) => window.x64wasm.version >= v, bStart + 5, { timeout: 20000 });
  const field = await a.page.evaluate(() => {
    const input = document.querySelector('.label-field');
    return {
      value: input.value,
      caret: [input.selectionStart, input.selectionEnd],
      focused: document.activeElement === input,
      counter: document.querySelector('#counter [data-bind]').textContent,
    };
  });
  const stats = await a.page.evaluate(() => window.x64wasm.stats);
  process.stdout.write(JSON.stringify({ cell, field, stats, console: [...a.console, ...b.console] }) + '\n');
} finally {
  await browser.close();
}
