// The page's queue of clicks (runtime/queue.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox, QUEUE_MAX, BATCH } from '../runtime/queue.js';

// sessionStorage as a Map
class Storage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
}

const signatures = { inc: { params: [], result: 'i64' }, add: { params: ['i32'], result: 'i64' } };

test('clicks get ids PAGE:SEQ in order and wait until answered', () => {
  const outbox = new Outbox(new Storage(), 'app', 'b1', signatures);
  const ids = [outbox.add('inc', [], signatures.inc), outbox.add('add', [2], signatures.add)].map((i) => i.id);
  assert.match(ids[0], /^[0-9a-f]{24}:1$/);
  assert.equal(ids[1], ids[0].replace(/:1$/, ':2'));
  assert.equal(outbox.length, 2);
  assert.deepEqual(outbox.next().map((i) => i.call), ['inc', 'add']);
  outbox.answered(1);
  assert.deepEqual(outbox.next().map((i) => i.call), ['add']);
});

test('a reload finds what waited, with its ids; another build keeps what still fits', () => {
  const storage = new Storage();
  const first = new Outbox(storage, 'app', 'b1', signatures);
  const waiting = [first.add('inc', [], signatures.inc), first.add('add', [2], signatures.add)];
  // (page, build, signatures of the new page, what is sent again, what is dropped)
  const changed = { inc: signatures.inc, add: { params: ['i64'], result: 'i64' } };
  const cases = [
    ['app', 'b1', signatures, ['inc', 'add'], []],
    ['app', 'b2', signatures, ['inc', 'add'], []],
    ['app', 'b2', changed, ['inc'], ['add']],
    ['app', 'b2', { add: signatures.add }, ['add'], ['inc']],
    ['other', 'b1', signatures, [], []],
  ];
  for (const [app, build, sigs, restored, dropped] of cases) {
    const copy = new Storage();
    for (const [k, v] of storage.map) copy.setItem(k, v);
    const again = new Outbox(copy, app, build, sigs);
    assert.deepEqual(again.restored.map((i) => i.call), restored, `${app} ${build}`);
    assert.deepEqual(again.dropped.map((i) => i.call), dropped, `${app} ${build}`);
    if (app === 'app') {
      // what waited keeps its ids; new clicks are another page's (a
      // duplicated tab copies the storage: its clicks must not share ids)
      assert.deepEqual(again.restored.map((i) => i.id), waiting.filter((w) => restored.includes(w.call)).map((w) => w.id));
      assert.notEqual(again.page, first.page);
      assert.equal(again.add('inc', [], sigs.inc).id, `${again.page}:1`);
    }
  }
});

test('at most QUEUE_MAX wait, BATCH go at once, and no storage is no failure', () => {
  const outbox = new Outbox(null, 'app', 'b1', signatures);
  for (let i = 0; i < QUEUE_MAX; i++) assert.ok(outbox.add('inc', [], signatures.inc));
  assert.equal(outbox.add('inc', [], signatures.inc), null, 'refused past the bound');
  assert.equal(outbox.next().length, BATCH);
  const full = { getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } };
  const quota = new Outbox(full, 'app', 'b1', signatures);
  assert.ok(quota.add('inc', [], signatures.inc), 'kept in memory');
});

test('a click sent again says so, also after a reload; one never sent does not', () => {
  const storage = new Storage();
  const outbox = new Outbox(storage, 'app', 'b1', signatures);
  const [a, b] = [outbox.add('inc', [], signatures.inc), outbox.add('add', [2], signatures.add)];
  // (what is sent, whether each was sent before)
  const cases = [
    [[a], [false]],
    [[a, b], [true, false]],
    [[a, b], [true, true]],
  ];
  for (const [items, before] of cases) assert.deepEqual(outbox.sending(items), before);
  // a reload (or a duplicated tab): what waited may have been sent, even
  // what this tab never sent
  const again = new Outbox(storage, 'app', 'b1', signatures);
  assert.deepEqual(again.sending(again.restored), [true, true]);
  const unsent = new Storage();
  new Outbox(unsent, 'app', 'b1', signatures).add('inc', [], signatures.inc);
  const copy = new Outbox(unsent, 'app', 'b1', signatures);
  assert.deepEqual(copy.sending(copy.restored), [true]);
  const c = again.add('inc', [], signatures.inc);
  assert.deepEqual(again.sending([c]), [false]);
});
