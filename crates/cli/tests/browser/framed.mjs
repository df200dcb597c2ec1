// No other site may frame the app: node framed.mjs URL
// Serves a page on another origin (a free port of this machine) that
// frames URL and tries to click Increment inside the frame, as a
// clickjacking page would. Prints what the frame showed.
import { createServer } from 'node:http';
import { launch } from './chromium.mjs';

const [url] = process.argv.slice(2);
const evil = createServer((_, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(`<!doctype html><title>evil</title><iframe id="app" src="${url}" width="800" height="600"></iframe>`);
});
await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
const browser = await launch();
try {
  const page = await browser.newPage();
  const console = [];
  page.on('console', (m) => console.push(m.text()));
  await page.goto(`http://localhost:${evil.address().port}/`);
  await page.waitForTimeout(2000);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  let buttons = null;
  try {
    buttons = await frame.evaluate(() => document.querySelectorAll('[data-call]').length);
  } catch (e) {
    buttons = `not readable: ${e.message.split('\n')[0]}`;
  }
  // a click where the button would be
  await page.mouse.click(120, 120);
  process.stdout.write(JSON.stringify({ frameUrl: frame ? frame.url() : null, buttons, console }) + '\n');
} finally {
  await browser.close();
  evil.close();
}
