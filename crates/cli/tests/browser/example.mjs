// The example app in Chromium: node example.mjs URL
// Clicks "+3" for the home team (runs as wasm) and "Toss coin" (cannot be
// transpiled: runs through the server only); prints one JSON line.
import { launch, open, clickAndWait } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  await clickAndWait(page, '#home [data-call="add_points"][data-args="[0,3]"]', 1);
  await clickAndWait(page, '[data-call="toss_coin"]', 2);
  process.stdout.write(JSON.stringify({
    home: await page.textContent('#home [data-bind]'),
    text: await page.textContent('main'),
    stats: await page.evaluate(() => window.x64wasm.stats),
    console,
  }) + '\n');
} finally {
  await browser.close();
}
