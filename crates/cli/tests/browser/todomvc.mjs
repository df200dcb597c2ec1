// TodoMVC (examples/todomvc.rs) scripted the way the TodoMVC
// project's browser tests check an implementation, then two pages on one
// server, then the latency simulator: node todomvc.mjs URL
// Prints one JSON line: `checks` (name -> true, or what was seen instead),
// the pages' stats and console.
import { launch, open } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
const checks = {};
const check = (name, ok, seen) => { checks[name] = ok ? true : seen; };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Waits until the page has no click in flight and shows the server's answer.
const settle = (page) => page.waitForFunction(() => window.x64wasm.idle, null, { timeout: 20000 });
const labels = (page) => page.$$eval('.todo-list li', (lis) => lis.map((li) => li.querySelector('label').textContent));
const visible = (page) => page.$$eval('.todo-list li', (lis) => lis
  .filter((li) => getComputedStyle(li).display !== 'none')
  .map((li) => li.querySelector('label').textContent));
const shown = (page, selector) => page.$eval(selector, (e) => e.checkVisibility());
const count = (page) => page.$eval('.todo-count', (e) => e.textContent);
async function add(page, text) {
  await page.click('.new-todo');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
  await settle(page);
}
async function edit(page, index, keys) {
  await page.dblclick(`.todo-list li:nth-child(${index + 1}) label`);
  await settle(page);
  await keys();
  await settle(page);
}

try {
  const a = await open(browser, url);
  const page = a.page;
  await page.evaluate(() => window.x64wasm.ready);

  // No todos: only the new-todo field, focused
  check('focused at start', await page.evaluate(() => document.activeElement.classList.contains('new-todo')), 'not focused');
  check('empty: main hidden', !(await shown(page, '.main')), 'main shown');
  check('empty: footer hidden', !(await shown(page, '.footer')), 'footer shown');

  // New todo: trimmed, field cleared; empty ignored
  await add(page, '  buy milk  ');
  check('add trims', same(await labels(page), ['buy milk']), await labels(page));
  check('add clears the field', (await page.inputValue('.new-todo')) === '', await page.inputValue('.new-todo'));
  check('one item left', (await count(page)) === '1 item left', await count(page));
  check('footer shown', await shown(page, '.footer'), 'footer hidden');
  await add(page, '    ');
  check('empty ignored', (await labels(page)).length === 1, await labels(page));
  await add(page, 'walk the dog');
  await add(page, 'crème brûlée 東京 🦀');
  check('three in order', same(await labels(page), ['buy milk', 'walk the dog', 'crème brûlée 東京 🦀']), await labels(page));
  check('three items left', (await count(page)) === '3 items left', await count(page));

  // Mark as complete
  await page.click('.todo-list li:nth-child(1) .toggle');
  await settle(page);
  check('toggle completes', await page.$eval('.todo-list li:nth-child(1)', (li) => li.classList.contains('completed')), 'not completed');
  check('two left', (await count(page)) === '2 items left', await count(page));
  check('clear completed shown', await shown(page, '.clear-completed'), 'hidden');
  await page.click('.todo-list li:nth-child(1) .toggle');
  await settle(page);
  check('toggle again', !(await page.$eval('.todo-list li:nth-child(1)', (li) => li.classList.contains('completed'))), 'still completed');
  check('clear completed hidden', !(await shown(page, '.clear-completed')), 'shown');

  // Toggle all, reflecting whether all are done
  await page.click('.toggle-all + label');
  await settle(page);
  check('toggle all completes all', (await page.$$eval('.todo-list li.completed', (l) => l.length)) === 3, 'not all');
  check('toggle all checked', await page.$eval('.toggle-all', (e) => e.checked), 'unchecked');
  await page.click('.todo-list li:nth-child(2) .toggle');
  await settle(page);
  check('toggle all unchecked when one is not done', !(await page.$eval('.toggle-all', (e) => e.checked)), 'checked');
  await page.click('.toggle-all + label');
  await settle(page);
  await page.click('.toggle-all + label');
  await settle(page);
  check('toggle all clears all', (await page.$$eval('.todo-list li.completed', (l) => l.length)) === 0, 'some completed');

  // Editing: double click, focused field with the title, Enter saves
  await page.dblclick('.todo-list li:nth-child(2) label');
  await settle(page);
  check('dblclick edits', await page.$eval('.todo-list li:nth-child(2)', (li) => li.classList.contains('editing')), 'not editing');
  check('edit field focused', await page.evaluate(() => document.activeElement.classList.contains('edit')), 'not focused');
  check('edit field has the title', (await page.inputValue('.todo-list li:nth-child(2) .edit')) === 'walk the dog',
    await page.inputValue('.todo-list li:nth-child(2) .edit'));
  check('other controls hidden while editing', !(await shown(page, '.todo-list li:nth-child(2) .toggle')), 'toggle shown');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('  walk the cat  ');
  await page.keyboard.press('Enter');
  await settle(page);
  check('Enter saves, trimmed', same(await labels(page), ['buy milk', 'walk the cat', 'crème brûlée 東京 🦀']), await labels(page));
  check('editing ends', (await page.$$eval('li.editing', (l) => l.length)) === 0, 'still editing');
  // Escape cancels
  await edit(page, 0, async () => {
    await page.keyboard.press('Control+A');
    await page.keyboard.type('forgotten');
    await page.keyboard.press('Escape');
  });
  check('Escape cancels', (await labels(page))[0] === 'buy milk', await labels(page));
  check('Escape ends editing', (await page.$$eval('li.editing', (l) => l.length)) === 0, 'still editing');
  // Blur saves
  await edit(page, 0, async () => {
    await page.keyboard.press('Control+A');
    await page.keyboard.type('buy oat milk');
    await page.click('h1');
  });
  check('blur saves', (await labels(page))[0] === 'buy oat milk', await labels(page));
  // Empty deletes
  await edit(page, 1, async () => {
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Enter');
  });
  check('empty edit deletes', same(await labels(page), ['buy oat milk', 'crème brûlée 東京 🦀']), await labels(page));

  // Filters, per view, the selected link marked
  await add(page, 'call mum');
  await page.click('.todo-list li:nth-child(2) .toggle');
  await settle(page);
  const selected = () => page.$eval('.filters a.selected', (e) => e.textContent);
  check('All selected at first', (await selected()) === 'All', await selected());
  await page.click('.filters a:text("Active")');
  await settle(page);
  check('Active shows active', same(await visible(page), ['buy oat milk', 'call mum']), await visible(page));
  check('Active selected', (await selected()) === 'Active', await selected());
  await page.click('.filters a:text("Completed")');
  await settle(page);
  check('Completed shows completed', same(await visible(page), ['crème brûlée 東京 🦀']), await visible(page));
  await page.click('.filters a:text("All")');
  await settle(page);
  check('All shows all', (await visible(page)).length === 3, await visible(page));

  // Clear completed; delete with the destroy button
  await page.click('.clear-completed');
  await settle(page);
  check('clear completed removes them', same(await labels(page), ['buy oat milk', 'call mum']), await labels(page));
  await page.hover('.todo-list li:nth-child(1)');
  await page.click('.todo-list li:nth-child(1) .destroy');
  await settle(page);
  check('destroy removes', same(await labels(page), ['call mum']), await labels(page));

  // Two pages: a todo added in one appears in the other; editing or
  // filtering in one leaves the other's view as it was
  const b = await open(browser, url);
  await b.page.evaluate(() => window.x64wasm.ready);
  await add(page, 'shared one');
  await b.page.waitForFunction(() => document.querySelectorAll('.todo-list li').length === 2, null, { timeout: 20000 });
  check('B sees A\'s todo', same(await labels(b.page), ['call mum', 'shared one']), await labels(b.page));
  await page.click('.todo-list li:nth-child(2) .toggle');
  await settle(page);
  await page.click('.filters a:text("Completed")');
  await settle(page);
  await b.page.waitForFunction(() => document.querySelectorAll('.todo-list li.completed').length === 1, null, { timeout: 20000 });
  check('B keeps its own filter', same(await visible(b.page), ['call mum', 'shared one']), await visible(b.page));
  check('B\'s selected link', (await b.page.$eval('.filters a.selected', (e) => e.textContent)) === 'All', 'changed');
  await page.click('.filters a:text("All")');
  await settle(page);
  await page.dblclick('.todo-list li:nth-child(1) label');
  await settle(page);
  await b.page.waitForTimeout(300);
  check('B does not edit', (await b.page.$$eval('li.editing', (l) => l.length)) === 0, 'B edits');
  // B types while A's changes arrive: B's field keeps its text and caret
  await b.page.click('.new-todo');
  await b.page.keyboard.type('half typed');
  await settle(b.page);
  await b.page.evaluate(() => document.querySelector('.new-todo').setSelectionRange(4, 4));
  await page.keyboard.press('Escape');
  await settle(page);
  await add(page, 'from A while B types');
  await b.page.waitForFunction(() => document.querySelectorAll('.todo-list li').length === 3, null, { timeout: 20000 });
  const bField = await b.page.evaluate(() => {
    const input = document.querySelector('.new-todo');
    return [input.value, input.selectionStart, document.activeElement === input];
  });
  check('B\'s field keeps text, caret, focus', same(bField, ['half typed', 4, true]), bField);

  // Latency 300 ms: the page renders itself (the view module), so every
  // interaction of the specification shows its whole effect within one
  // animation frame of its event, long before the server answers.
  await page.evaluate(() => window.x64wasm.enableLatencySim(300));
  await page.reload();
  await page.waitForFunction(() => window.x64wasm !== undefined);
  await page.evaluate(() => window.x64wasm.ready);
  const frame = await page.evaluate(async () => {
    const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    const q = (selector) => document.querySelector(selector);
    const labels = () => [...document.querySelectorAll('.todo-list li label')].map((l) => l.textContent);
    const count = () => q('.todo-count').textContent;
    const input = q('.new-todo');
    const type = (field, text, key) => {
      field.focus();
      field.value = text;
      field.dispatchEvent(new Event('input', { bubbles: true }));
      field.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
    };
    const out = {};
    const seen = async (name, what) => {
      await nextFrame();
      out[name] = what();
    };
    const before = labels();
    type(input, 'fast', 'Enter');
    await seen('add', () => [labels().length - before.length, input.value, count()]);
    type(input, 'faster', 'Enter');
    await seen('add again', () => [labels().slice(-2), count()]);
    q('.todo-list li:last-child .toggle').click();
    await seen('toggle', () => [q('.todo-list li:last-child').classList.contains('completed'), count()]);
    q('#toggle-all').click();
    await seen('toggle all', () => [document.querySelectorAll('.todo-list li.completed').length === labels().length, count()]);
    q('#toggle-all').click();
    await seen('toggle all back', () => [document.querySelectorAll('.todo-list li.completed').length, count()]);
    q('.todo-list li:last-child .toggle').click();
    q('.filters a[href="#/active"]').click();
    await seen('filter active', () => labels().includes('faster'));
    q('.filters a[href="#/completed"]').click();
    await seen('filter completed', () => [labels(), q('.filters a.selected').textContent]);
    q('.filters a[href="#/"]').click();
    await seen('filter all', () => labels().length);
    q('.todo-list li:last-child label').dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    await seen('edit start', () => [q('.todo-list li:last-child').classList.contains('editing'), !!q('.todo-list li:last-child .edit')]);
    type(q('.todo-list li:last-child .edit'), 'fastest', 'Enter');
    await seen('edit save', () => [labels().slice(-1)[0], !!q('.edit')]);
    q('.todo-list li:last-child label').dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    await nextFrame();
    type(q('.todo-list li:last-child .edit'), 'not kept', 'Escape');
    await seen('edit cancel', () => [labels().slice(-1)[0], !!q('.edit')]);
    q('.clear-completed').click();
    await seen('clear completed', () => [labels().includes('fastest'), q('.clear-completed').hidden]);
    q('.todo-list li:last-child .destroy').click();
    await seen('destroy', () => labels().includes('fast'));
    out.labels = labels();
    return out;
  });
  await settle(page);
  check('latency: add shows the item, clears the field, counts', same(frame.add.slice(0, 2), [1, '']), frame);
  check('latency: the plural at once', /^\d+ items left$/.test(frame['add again'][1]), frame);
  check('latency: add again', same(frame['add again'][0], ['fast', 'faster']), frame);
  check('latency: toggle', frame.toggle[0] === true && frame.toggle[1] !== frame['add again'][1], frame);
  check('latency: toggle all', frame['toggle all'][0] === true && frame['toggle all'][1] === '0 items left', frame);
  check('latency: toggle all back', frame['toggle all back'][0] === 0, frame);
  check('latency: filter active hides the done one', frame['filter active'] === false, frame);
  check('latency: filter completed', same(frame['filter completed'], [['faster'], 'Completed']), frame);
  check('latency: filter all', frame['filter all'] === frame.labels.length + 2, frame);
  check('latency: edit start', same(frame['edit start'], [true, true]), frame);
  check('latency: edit save', same(frame['edit save'], ['fastest', false]), frame);
  check('latency: edit cancel', same(frame['edit cancel'], ['fastest', false]), frame);
  check('latency: clear completed', same(frame['clear completed'], [false, true]), frame);
  check('latency: destroy', frame.destroy === false, frame);
  check('latency: the server agrees', same(await labels(page), frame.labels), [await labels(page), frame.labels]);
  await page.evaluate(() => window.x64wasm.disableLatencySim());

  const stats = [await page.evaluate(() => window.x64wasm.stats), await b.page.evaluate(() => window.x64wasm.stats)];
  const screenshotPath = process.env.SCREENSHOT;
  if (screenshotPath) await page.screenshot({ path: screenshotPath });
  process.stdout.write(JSON.stringify({ checks, stats, frame, console: [...a.console, ...b.console] }) + '\n');
} finally {
  await browser.close();
}
