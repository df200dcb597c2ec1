// The page works with site data blocked (Chromium's cookie setting
// "block": sessionStorage throws): node blocked.mjs URL
// Clicks Increment twice in a profile whose preferences block site data.
// Prints what the page showed and said.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { FLAGS } from './chromium.mjs';

const [url] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'x64wasm-blocked-'));
mkdirSync(join(profile, 'Default'));
writeFileSync(join(profile, 'Default', 'Preferences'),
  JSON.stringify({ profile: { default_content_setting_values: { cookies: 2 } } }));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: FLAGS,
});
try {
  const page = context.pages()[0] || await context.newPage();
  const console = [];
  page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.x64wasm !== undefined);
  const storageBlocked = await page.evaluate(() => {
    try { sessionStorage.getItem('x'); return false; } catch (e) { return true; }
  });
  await page.evaluate(() => window.x64wasm.ready);
  const version = await page.evaluate(() => window.x64wasm.version);
  for (let i = 0; i < 2; i++) await page.click('[data-call="increment_counter"]');
  await page.waitForFunction((v) => window.x64wasm.version >= v && window.x64wasm.idle, version + 2, { timeout: 20000 });
  const stats = await page.evaluate(() => window.x64wasm.stats);
  process.stdout.write(JSON.stringify({
    storageBlocked, stats, console, counter: await page.textContent('#counter [data-bind]'),
  }) + '\n');
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
