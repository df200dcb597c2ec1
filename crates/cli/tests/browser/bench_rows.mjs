// The rows app (examples/rows.rs) against a vanilla JavaScript page doing
// the same operations on the same markup, in headless Chromium:
// node bench_rows.mjs URL RUNS. Three ways, in one run: the app with its
// view module (the page renders itself), the app with /view.wasm blocked
// (the server's patches, as before the view module), and vanilla JS
// (js-framework-benchmark's keyed vanillajs approach: one template
// cloneNode per row, rows updated in place). Each operation is timed from
// the click to the first animation frame at which the DOM shows its whole
// effect; median of RUNS. Prints one JSON line.
import { launch } from './chromium.mjs';

const [url, runsText] = process.argv.slice(2);
const RUNS = Number(runsText || 10);

// Each operation: how to set it up, which element to click, and when it is done.
const OPERATIONS = [
  ['create 1,000 rows', ['#clear'], '#run', 'rows === 1000'],
  ['replace all rows', ['#clear', '#run'], '#run', 'rows === 1000 && first !== before.first'],
  ['update every 10th row', ['#clear', '#run'], '#update', 'label0 !== before.label0'],
  ['select row', ['#clear', '#run'], 'tbody tr:nth-child(5) a.lbl', 'selected'],
  ['swap rows', ['#clear', '#run'], '#swaprows', 'second !== before.second'],
  ['remove row', ['#clear', '#run'], 'tbody tr:nth-child(5) a.remove', 'rows === 999'],
  ['create 10,000 rows', ['#clear'], '#runlots', 'rows === 10000'],
  ['append 1,000 rows', ['#clear', '#run'], '#add', 'rows === 2000'],
  ['clear rows', ['#clear', '#run'], '#clear', 'rows === 0'],
];

// The vanilla page: the same markup and operations, by hand.
const VANILLA = `<!doctype html><html><body><main id="x64wasm"><div class="container"><div class="jumbotron">
<button id="run">Create 1,000 rows</button><button id="runlots">Create 10,000 rows</button>
<button id="add">Append 1,000 rows</button><button id="update">Update every 10th row</button>
<button id="clear">Clear</button><button id="swaprows">Swap rows</button></div>
<table class="table"><tbody id="tbody"></tbody></table></div></main>
<script>
const A = ["pretty","large","big","small","tall","short","long","handsome","plain","quaint","clean","elegant","easy","angry","crazy","helpful","mushy","odd","unsightly","adorable","important","inexpensive","cheap","expensive","fancy"];
const C = ["red","yellow","blue","green","pink","brown","purple","brown","white","black","orange"];
const N = ["table","chair","house","bbq","desk","car","pony","cookie","sandwich","burger","pizza","mouse","keyboard"];
let seed = 0x2545f491, nextId = 1, data = [], selected = null;
const rnd = (n) => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed % n; };
const tbody = document.getElementById('tbody');
const template = document.createElement('template');
template.innerHTML = '<tr><td class="col-md-1"></td><td class="col-md-4"><a class="lbl"></a></td><td class="col-md-1"><a class="remove">×</a></td><td class="col-md-6"></td></tr>';
function build(n) { const out = []; for (let i = 0; i < n; i++) out.push({ id: nextId++, label: A[rnd(25)] + ' ' + C[rnd(11)] + ' ' + N[rnd(13)] }); return out; }
function row(d) { const tr = template.content.firstChild.cloneNode(true); tr.firstChild.textContent = d.id; tr.childNodes[1].firstChild.textContent = d.label; d.tr = tr; return tr; }
function append(n) { const fresh = build(n); const f = document.createDocumentFragment(); for (const d of fresh) f.appendChild(row(d)); tbody.appendChild(f); data = data.concat(fresh); }
function clear() { tbody.textContent = ''; data = []; selected = null; }
document.getElementById('run').onclick = () => { clear(); append(1000); };
document.getElementById('runlots').onclick = () => { clear(); append(10000); };
document.getElementById('add').onclick = () => append(1000);
document.getElementById('clear').onclick = clear;
document.getElementById('update').onclick = () => { for (let i = 0; i < data.length; i += 10) { data[i].label += ' !!!'; data[i].tr.childNodes[1].firstChild.textContent = data[i].label; } };
document.getElementById('swaprows').onclick = () => { if (data.length > 998) { const a = data[1], b = data[998]; const after = b.tr.nextSibling; tbody.insertBefore(b.tr, a.tr); tbody.insertBefore(a.tr, after); data[1] = b; data[998] = a; } };
tbody.onclick = (e) => { const a = e.target.closest('a'); if (!a) return; const tr = a.closest('tr'); const i = [...tbody.children].indexOf(tr);
  if (a.classList.contains('lbl')) { if (selected) selected.className = ''; tr.className = 'danger'; selected = tr; }
  else { data.splice(i, 1); tr.remove(); } };
window.x64wasm = { idle: true, ready: Promise.resolve() };
</script></body></html>`;

async function measure(page, [, setup, click, done]) {
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    for (const s of setup) {
      await page.click(s);
      await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 60000 });
    }
    const ms = await page.evaluate(async ({ click, done }) => {
      const tbody = document.getElementById('tbody');
      const snapshot = () => ({
        rows: tbody.children.length,
        first: tbody.firstElementChild && tbody.firstElementChild.firstChild.textContent,
        second: tbody.children[1] && tbody.children[1].firstChild.textContent,
        label0: tbody.firstElementChild && tbody.firstElementChild.childNodes[1].textContent,
        selected: !!(tbody.children[4] && tbody.children[4].className.includes('danger')),
      });
      const before = snapshot();
      const test = new Function('s', 'before', `const { rows, first, second, label0, selected } = s; return ${done};`);
      const started = performance.now();
      document.querySelector(click).click();
      for (;;) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
        if (test(snapshot(), before)) return performance.now() - started;
        if (performance.now() - started > 30000) return Infinity;
      }
    }, { click, done });
    await page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 60000 });
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const browser = await launch();
const results = {};
try {
  for (const mode of ['view module', 'server patches', 'vanilla JS']) {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    if (mode === 'server patches') await page.route('**/view.wasm', (route) => route.fulfill({ status: 404, body: '{}' }));
    if (mode === 'vanilla JS') await page.setContent(VANILLA);
    else {
      await page.goto(url);
      await page.waitForFunction(() => window.x64wasm !== undefined);
      await page.evaluate(() => window.x64wasm.ready);
    }
    results[mode] = {};
    for (const op of OPERATIONS) results[mode][op[0]] = await measure(page, op);
    if (mode !== 'vanilla JS') results[mode].stats = await page.evaluate(() => window.x64wasm.stats);
    await page.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results) + '\n');
