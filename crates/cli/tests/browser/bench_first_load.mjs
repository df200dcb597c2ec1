// First load (issue 23, item 8): what a page costs on the wire and how long
// until it is interactive, in headless Chromium with an empty cache:
// node bench_first_load.mjs URL RUNS. Each run is a fresh browser context
// (nothing cached). Bytes are what crossed the wire for every request the
// load made (response bodies as sent, compressed where they were, and
// headers: Chromium's encodedDataLength); interactive is from navigation
// start until `window.x64wasm.ready` settles (`stats.interactiveMs`) (every callback's module and
// the view module compiled: the first click predicts, and the page renders
// itself). Prints one JSON line: medians of RUNS, and the requests of the
// last run with their bytes.
import { launch } from './chromium.mjs';

const [url, runsText] = process.argv.slice(2);
const RUNS = Number(runsText || 5);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const browser = await launch();
const bytes = [];
const times = [];
let requests = [];
for (let run = 0; run < RUNS; run += 1) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map();
  const sizes = new Map();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  await page.goto(url);
  await page.waitForFunction(() => window.x64wasm && window.x64wasm.ready);
  const interactive = await page.evaluate(async () => {
    await window.x64wasm.ready;
    return window.x64wasm.stats.interactiveMs;
  });
  // the event stream never finishes loading: it is not counted
  times.push(interactive);
  bytes.push([...sizes.values()].reduce((a, b) => a + b, 0));
  requests = [...sizes.entries()].map(([id, size]) => [new URL(urls.get(id)).pathname, size]);
  await context.close();
}
await browser.close();
console.log(JSON.stringify({ bytes: median(bytes), interactive_ms: median(times), requests }));
