// Prediction under latency: node latency.mjs URL
// With the latency simulator at 1 s, one click on Increment: when does the
// bound counter change (measured in the page, in ms and animation frames
// from the click), and when does the server's version arrive?
import { launch, open, done } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, console } = await open(browser, url);
  await page.evaluate(() => window.x64wasm.enableLatencySim(1000));
  await page.reload(); // the setting lives in sessionStorage, like LiveView's
  await page.waitForFunction(() => window.x64wasm !== undefined);
  await page.evaluate(() => window.x64wasm.ready);
  const result = await page.evaluate(() => new Promise((resolve) => {
    const span = document.querySelector('#counter [data-bind]');
    const out = { before: span.textContent, latency: sessionStorage.getItem('x64wasm:latency') };
    let frame = 0;
    const tick = () => { frame += 1; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    document.addEventListener('click', () => {
      out.clickAt = performance.now();
      out.clickFrame = frame;
    }, { capture: true });
    new MutationObserver(() => {
      if (out.shownAt !== undefined) return;
      out.shownAt = performance.now();
      out.shownFrame = frame;
      out.shown = span.textContent;
    }).observe(span, { childList: true, characterData: true, subtree: true });
    const start = window.x64wasm.version;
    const poll = () => {
      if (window.x64wasm.version > start) {
        out.confirmedAt = performance.now();
        out.confirmed = document.querySelector('#counter [data-bind]').textContent;
        resolve(out);
      } else {
        setTimeout(poll, 5);
      }
    };
    // Start on a fresh frame, as a user's click would.
    requestAnimationFrame(() => {
      document.querySelector('[data-call="increment_counter"]').click();
      poll();
    });
  }));
  done({ ...result, console });
} finally {
  await browser.close();
}
