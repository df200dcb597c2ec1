// Desktop + browser test: node desktop.mjs URL WINDOW_ID SCREENSHOT.png
// (DISPLAY names the Xvfb display the desktop window is on.)
//
// 1. A headless Chromium page opens on the same server.
// 2. xdotool clicks Increment in the desktop window; the page shows 1 without reloading.
// 3. A click on Increment in the page; the window's view follows (shown by
//    step 4: the window's next prediction is made on top of the new state).
// 4. xdotool clicks Increment in the window again; the page shows 3.
// Prints one JSON line.
import { execFileSync } from 'node:child_process';
import { launch, open, clickAndWait } from './chromium.mjs';

const [url, windowId, screenshot] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  await page.evaluate(() => { window.notReloaded = true; });

  // The window shows the same page at the same size, so the button's centre
  // in Chromium is (within a few pixels) its centre in the webview.
  const box = await page.locator('[data-call="increment_counter"]').boundingBox();
  const x = String(Math.round(box.x + box.width / 2));
  const y = String(Math.round(box.y + box.height / 2));
  const clickWindow = () =>
    execFileSync('xdotool', ['mousemove', '--window', windowId, x, y, 'click', '1']);
  const waitCounter = (text) =>
    page.waitForFunction((t) => document.querySelector('#counter [data-bind]').textContent === t, text, {
      timeout: 20000,
    });

  clickWindow();
  await waitCounter('1');
  const afterWindowClick = await page.textContent('#counter [data-bind]');

  await clickAndWait(page, '[data-call="increment_counter"]', 2);
  await waitCounter('2');
  // Give the window's event stream a moment, then click it again.
  await page.waitForTimeout(500);
  clickWindow();
  await waitCounter('3');
  await page.waitForTimeout(300);
  execFileSync('import', ['-window', windowId, screenshot]);

  process.stdout.write(JSON.stringify({
    afterWindowClick,
    final: await page.textContent('#counter [data-bind]'),
    notReloaded: await page.evaluate(() => window.notReloaded === true),
    stats: await page.evaluate(() => window.x64wasm.stats),
    console,
  }) + '\n');
} finally {
  await browser.close();
}
