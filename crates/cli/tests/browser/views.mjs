// Three Chromium pages and the desktop window on one server:
//   node views.mjs URL PROXY_URL WINDOW_ID     (DISPLAY: the window's display)
// Pages A and B load URL; page C loads PROXY_URL, a proxy the test cuts and
// restores. Clicks in each view must show up in all the others, through
// patches, without reloading; C catches up after its cut.
import { execFileSync } from 'node:child_process';
import { launch, open, clickAndWait, step, done } from './chromium.mjs';

const [url, proxyUrl, windowId] = process.argv.slice(2);
const browser = await launch();
let pages = [];
try {
  const a = await open(browser, url);
  const b = await open(browser, url);
  const c = await open(browser, proxyUrl);
  pages = [a, b, c];
  for (const { page } of pages) await page.evaluate(() => { window.notReloaded = true; });

  const counter = (page) => page.textContent('#counter [data-bind]');
  const waitCounter = (page, text) =>
    page.waitForFunction((t) => document.querySelector('#counter [data-bind]').textContent === t, text, {
      timeout: 20000,
    });
  const expect = async (views, text) => {
    for (const { page } of views) await waitCounter(page, text);
  };
  const inc = '[data-call="increment_counter"]';
  let version = await a.page.evaluate(() => window.x64wasm.version);

  // A click in each page reaches the others.
  for (const [i, view] of pages.entries()) {
    await clickAndWait(view.page, inc, ++version);
    await expect(pages, String(i + 1));
  }

  // A click in the window reaches every page. The window is the same page at
  // the same size: the button's centre in Chromium is its centre there.
  const box = await a.page.locator(inc).boundingBox();
  const clickWindow = () => execFileSync('xdotool', [
    'mousemove', '--window', windowId,
    String(Math.round(box.x + box.width / 2)), String(Math.round(box.y + box.height / 2)), 'click', '1',
  ]);
  clickWindow();
  version += 1;
  await expect(pages, '4');

  // Cut C's connection; A clicks three times; C misses them.
  await step({ need: 'cut' });
  await c.page.waitForSelector('.x64wasm-reconnecting:not([hidden])', { timeout: 20000 });
  for (let i = 0; i < 3; i++) await clickAndWait(a.page, inc, ++version);
  await expect([a, b], '7');
  const whileCut = await counter(c.page);

  // Restore it: C reconnects on its own and catches up.
  await step({ need: 'restore' });
  await waitCounter(c.page, '7');
  await c.page.waitForSelector('.x64wasm-reconnecting[hidden]', { state: 'attached', timeout: 20000 });

  // A cell toggled in C shows in A and B; a last click in the window.
  await clickAndWait(c.page, '[data-call="toggle_cell"][data-args="[5]"]', ++version);
  for (const { page } of pages) {
    await page.waitForFunction(() => document.querySelectorAll('.board button')[5].classList.contains('alive'));
  }
  clickWindow();
  version += 1;
  await expect(pages, '8');

  // Every page shows exactly the server's view: its DOM equals a fresh
  // parse of the server-rendered page (attribute order aside).
  const sameAsServer = [];
  for (const { page } of pages) {
    sameAsServer.push(await page.evaluate(async () => {
      const html = await (await fetch('/')).text();
      const fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('x64wasm');
      const mine = document.getElementById('x64wasm');
      return fresh.firstChild.isEqualNode(mine.firstChild) && fresh.dataset.version === mine.dataset.version;
    }));
  }
  done({
    version,
    whileCut,
    sameAsServer,
    notReloaded: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.notReloaded === true))),
    stats: await Promise.all(pages.map(({ page }) => page.evaluate(() => window.x64wasm.stats))),
    consoles: pages.map((p) => p.console),
  });
} catch (e) {
  done({ error: e.message, consoles: pages.map((p) => p.console) });
} finally {
  await browser.close();
}
