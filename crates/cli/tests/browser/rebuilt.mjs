// Clicks queued for a build that is gone: node rebuilt.mjs URL
// Steps: {"need":"kill"} (the test kills the app), then +3 twice and
// "Next period" once, which wait; {"need":"restart"} (the test starts the
// app rebuilt, `next_period` renamed); the page's queue is answered "another
// build", it reloads, sends what still fits and says what it dropped.
import { launch, open, step, done } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.ready);
  await step({ need: 'kill' });
  const plus3 = '#home [data-call="add_points"][data-args="[0,3]"]';
  await page.click(plus3);
  await page.click('[data-call="next_period"]');
  await page.click(plus3);
  await page.waitForFunction(() => window.x64wasm.waiting === 3, null, { timeout: 20000 });
  await step({ need: 'restart' });
  // the reload: a page of the new build, whose runtime sends the queue
  await page.waitForSelector('[data-call="advance_period"]', { timeout: 60000 });
  await page.waitForFunction(() => window.x64wasm && window.x64wasm.idle && window.x64wasm.waiting === 0, null, { timeout: 60000 });
  await page.waitForSelector('.x64wasm-notice', { state: 'visible', timeout: 20000 });
  done({
    notice: await page.textContent('.x64wasm-notice'),
    home: await page.textContent('#home [data-bind]'),
    failures: await page.evaluate(() => window.x64wasm.stats.failures),
    console,
  });
} catch (e) {
  done({ error: String(e) });
} finally {
  await browser.close();
}
