// Debian's Chromium, headless, for the tests. playwright-core drives it and
// never downloads a browser of its own.
import { chromium } from 'playwright-core';

export const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
}

// A page on `url` that records console messages and page errors.
export async function open(browser, url) {
  const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
  const console = [];
  page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
  // Every test page checks its DOM against the server's view of each
  // version (docs/protocol.md, "The view check"): a difference is a failure.
  await page.addInitScript(() => sessionStorage.setItem('x64wasm:check', '1'));
  await page.goto(url);
  await page.waitForFunction(() => window.x64wasm !== undefined);
  return { page, console };
}

// Clicks `selector` and waits until the page has applied the server's
// version `version` (the event that every view gets).
export async function clickAndWait(page, selector, version) {
  await page.click(selector);
  await page.waitForFunction(
    (v) => Number(document.getElementById('x64wasm').dataset.version) >= v && window.x64wasm.version >= v,
    version,
    { timeout: 20000 },
  );
}

// The page's state copy as base64, to compare with the server's /state.
export async function pageState(page) {
  return page.evaluate(() => btoa(String.fromCharCode(...window.x64wasm.state)));
}

// Step protocol with the Rust test: print a JSON line, wait for "go".
import { createInterface } from 'node:readline';
const input = createInterface({ input: process.stdin });
const waiting = [];
input.on('line', () => { const next = waiting.shift(); if (next) next(); });
export function step(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
  return new Promise((resolve) => waiting.push(resolve));
}
export function done(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
  input.close();
}
