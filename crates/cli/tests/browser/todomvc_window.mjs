// TodoMVC in the desktop window: node todomvc_window.mjs URL WINDOW_ID
// (DISPLAY names the Xvfb display). xdotool clicks the window's new-todo
// field, types a title with real key presses and presses Enter; a headless
// Chromium page on the same server shows the todo. Prints one JSON line.
import { execFileSync } from 'node:child_process';
import { launch, open } from './chromium.mjs';

const [url, windowId] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  // The window shows the same page at the same size: the field's centre in
  // Chromium is (within a few pixels) its centre in the webview.
  const box = await page.locator('.new-todo').boundingBox();
  const x = String(Math.round(box.x + box.width / 2));
  const y = String(Math.round(box.y + box.height / 2));
  // Real key presses (XTEST) go to the focused window: focus it, click
  // into the field, type, press Enter.
  execFileSync('xdotool', ['windowfocus', '--sync', windowId]);
  execFileSync('xdotool', ['mousemove', '--window', windowId, x, y, 'click', '1']);
  await page.waitForTimeout(300);
  execFileSync('xdotool', ['type', '--delay', '40', 'typed in the window']);
  execFileSync('xdotool', ['key', 'Return']);
  await page.waitForFunction(
    () => Array.from(document.querySelectorAll('.todo-list label')).some((l) => l.textContent === 'typed in the window'),
    null,
    { timeout: 30000 },
  );
  process.stdout.write(JSON.stringify({
    labels: await page.$$eval('.todo-list label', (ls) => ls.map((l) => l.textContent)),
    field: await page.inputValue('.new-todo'),
    console,
  }) + '\n');
} finally {
  await browser.close();
}
