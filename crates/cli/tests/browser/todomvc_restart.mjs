// A TodoMVC page that lives through a server restart: node
// todomvc_restart.mjs URL
// 1. adds a todo, types a draft, picks the Active filter, reports and waits
//    for "go" (meanwhile the test restarts the server on the same port
//    with the same --state-file);
// 2. waits for the page to reconnect on its own (the new server does not
//    know its view: a reset with the saved todos and the initial view
//    state), adds a todo, and reports.
import { launch, open, step, done } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
let page, console;
const settle = () => page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 20000 });
const labels = () => page.$$eval('.todo-list label', (ls) => ls.map((l) => l.textContent));
try {
  ({ page, console } = await open(browser, url));
  await page.evaluate(() => { window.notReloaded = true; });
  await page.click('.new-todo');
  await page.keyboard.type('before restart');
  await page.keyboard.press('Enter');
  await settle();
  await page.keyboard.type('a draft');
  await settle();
  await page.click('.filters a[href="#/active"]');
  await settle();
  await step({ labels: await labels(), selected: await page.textContent('.filters a.selected') });

  await page.waitForFunction(() => window.x64wasm.stats.resets > 0, null, { timeout: 30000 });
  const afterRestart = {
    labels: await labels(),
    selected: await page.textContent('.filters a.selected'),
    draft: await page.inputValue('.new-todo'),
  };
  await page.click('.new-todo');
  await page.keyboard.type('after restart');
  await page.keyboard.press('Enter');
  await settle();
  done({
    afterRestart,
    labels: await labels(),
    notReloaded: await page.evaluate(() => window.notReloaded === true),
    stats: await page.evaluate(() => window.x64wasm.stats),
    console,
  });
} catch (e) {
  done({ error: e.message, console, stats: page && (await page.evaluate(() => window.x64wasm.stats)) });
} finally {
  await browser.close();
}
