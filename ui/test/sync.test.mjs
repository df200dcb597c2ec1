// The view's synchronisation state machine (runtime/sync.js), driven as the
// page drives it, without a browser: node --test ui/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sync } from '../runtime/sync.js';
import { sha256Hex } from '../runtime/encoding.js';

const bytes = (...b) => Uint8Array.from(b);
const b64 = (u8) => btoa(String.fromCharCode(...u8));
// A DOM that records what it was told.
const recorder = () => {
  const log = [];
  return { log, reset: (html) => log.push(['reset', html]), patch: (p) => log.push(['patch', p]) };
};
// A patch event from `from` to `version` setting byte 0 to `value`.
const patchEvent = (from, version, value, state = bytes(0, 0)) => {
  const next = state.slice();
  next[0] = value;
  return {
    from, version, patches: [['t', [0], String(value)]],
    state: [[0, b64(bytes(value))]], sha: sha256Hex(next).slice(0, 16),
  };
};
const increment = (s) => { const n = s.slice(); n[0] += 1; return n; };

test('a click predicts at once, on the version the server will run it on', () => {
  const sync = new Sync(5, bytes(0, 0));
  const first = sync.click(increment);
  const second = sync.click(increment);
  assert.deepEqual([first.base, second.base], [5, 6]);
  assert.deepEqual(sync.state, bytes(2, 0));
  assert.equal(first.predicted, sha256Hex(bytes(1, 0)));
  assert.equal(sync.inflight, 2);
});

test('events wait while clicks are in flight, then apply in order', () => {
  const sync = new Sync(0, bytes(0, 0));
  const dom = recorder();
  sync.click(increment);
  sync.click(increment);
  assert.equal(sync.receive('patch', patchEvent(0, 1, 1), dom), 'held');
  assert.equal(sync.receive('patch', patchEvent(1, 2, 2, bytes(1, 0)), dom), 'held');
  assert.deepEqual(dom.log, [], 'nothing applied yet');
  assert.deepEqual(sync.state, bytes(2, 0), 'the prediction is shown');
  assert.deepEqual(sync.answer(1), [], 'one click still in flight');
  const released = sync.answer(2);
  assert.equal(released.length, 2);
  for (const [type, event] of released) assert.equal(sync.handle(type, event, dom), 'patched');
  sync.settle();
  assert.equal(sync.applied, 2);
  assert.deepEqual(sync.state, bytes(2, 0), "the server's state is shown");
  assert.equal(dom.log.length, 2);
});

test("the server's state wins over a wrong prediction", () => {
  const sync = new Sync(0, bytes(0, 0));
  sync.click((s) => bytes(9, 9)); // a prediction the server will not confirm
  sync.receive('patch', patchEvent(0, 1, 1), recorder());
  for (const [type, event] of sync.answer(1)) sync.handle(type, event, recorder());
  sync.settle();
  assert.deepEqual(sync.state, bytes(1, 0));
});

test('an answer before its event keeps the prediction until the event comes', () => {
  const sync = new Sync(0, bytes(0, 0));
  sync.click(increment);
  assert.deepEqual(sync.answer(1), [], 'answered; its event is still on the way');
  sync.settle();
  assert.deepEqual(sync.state, bytes(1, 0), 'not the older server state');
  const next = sync.click(increment);
  assert.equal(next.base, 1);
  assert.equal(next.predicted, sha256Hex(bytes(2, 0)), 'predicted on the state of version 1');
  sync.receive('patch', patchEvent(0, 1, 1), recorder());
  for (const [type, event] of sync.answer(2)) sync.handle(type, event, recorder());
  sync.settle();
  assert.deepEqual(sync.state, bytes(2, 0), 'still predicted: version 2 has not come');
  assert.equal(sync.handle('patch', patchEvent(1, 2, 2, bytes(1, 0)), recorder()), 'patched');
  assert.deepEqual(sync.state, bytes(2, 0), "the server's state");
});

test('a failed click still releases the events held behind it', () => {
  const sync = new Sync(0, bytes(0, 0));
  sync.click(increment);
  sync.receive('patch', patchEvent(0, 1, 1), recorder());
  assert.equal(sync.answer(null).length, 1);
  assert.equal(sync.answered, 0, 'no version was reported');
});

test('a prediction that cannot run leaves the state and still counts the click', () => {
  const sync = new Sync(3, bytes(4, 0));
  const { base, predicted, error } = sync.click(() => { throw new Error('trap'); });
  assert.equal(base, 3);
  assert.equal(predicted, null);
  assert.equal(error.message, 'trap');
  assert.deepEqual(sync.state, bytes(4, 0));
  assert.equal(sync.inflight, 1);
});

test('gaps, stale events and bad checksums', () => {
  const sync = new Sync(2, bytes(0, 0));
  const dom = recorder();
  assert.equal(sync.handle('patch', patchEvent(1, 2, 1), dom), 'skipped', 'already shown');
  assert.deepEqual(sync.handle('patch', patchEvent(3, 4, 1), dom), { resync: 'missed versions 3..3' });
  const bad = patchEvent(2, 3, 1);
  bad.sha = '0000000000000000';
  const outcome = sync.handle('patch', bad, dom);
  assert.deepEqual(outcome, { resync: 'patch 3 did not apply: state checksum differs' });
  assert.equal(sync.applied, 2, 'nothing applied');
  assert.deepEqual(sync.serverState, bytes(0, 0));
});

test('a reset replaces everything, even with an older version', () => {
  const sync = new Sync(10, bytes(5, 5));
  const dom = recorder();
  assert.equal(sync.handle('reset', { version: 3, html: '<p>x</p>', state: b64(bytes(7, 7)) }, dom), 'reset');
  assert.deepEqual([sync.applied, sync.answered], [3, 3]);
  assert.deepEqual(sync.state, bytes(7, 7));
  assert.deepEqual(dom.log, [['reset', '<p>x</p>']]);
});
