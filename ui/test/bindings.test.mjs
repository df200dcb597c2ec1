// Bound parts of elements (runtime/bindings.js), on a stand-in element.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyBindings, holds, keepsOwnText, noteSent } from '../runtime/bindings.js';
import { ATTRIBUTES } from '../runtime/attributes.js';

function element(bindings, focused = false) {
  const classes = new Set();
  const attributes = new Set();
  const doc = { activeElement: null };
  const el = {
    getAttribute: (name) => (name === ATTRIBUTES.bound ? JSON.stringify(bindings) : null),
    classList: { toggle: (c, on) => (on ? classes.add(c) : classes.delete(c)) },
    style: { props: {}, setProperty(k, v) { this.props[k] = v; } },
    toggleAttribute: (a, on) => (on ? attributes.add(a) : attributes.delete(a)),
    value: '',
    ownerDocument: doc,
    classes,
    attributes,
  };
  if (focused) doc.activeElement = el;
  return el;
}

test('tests of a field hold as the server decides them', () => {
  // (binding, field text, holds)
  const cases = [
    [{ eq: '1' }, '1', true], [{ eq: '1' }, '0', false], [{ ne: '0' }, '2', true],
    [{ bit: 0 }, '5', true], [{ bit: 1 }, '5', false], [{ bit: 63 }, '-1', true],
    [{ bit: 2 }, '18446744073709551615', true], [{ eq: 'ab' }, 'ab', true],
  ];
  for (const [binding, text, want] of cases) assert.equal(holds(binding, text), want, JSON.stringify([binding, text]));
});

test('bindings follow the state', () => {
  const state = new Uint8Array(16);
  const view = new DataView(state.buffer);
  view.setUint8(0, 1);
  view.setFloat64(8, 42.5, true);
  const el = element([
    { at: 0, type: 'u8', eq: '1', class: 'completed' },
    { at: 0, type: 'u8', ne: '0', prop: 'checked' },
    { at: 0, type: 'u8', eq: '0', prop: 'hidden' },
    { at: 8, type: 'f64', style: 'width', unit: '%' },
  ]);
  applyBindings(el, state);
  assert.deepEqual([...el.classes], ['completed']);
  assert.equal(el.checked, true);
  assert.equal(el.hidden, false);
  assert.deepEqual([...el.attributes], ['checked']);
  assert.equal(el.style.props.width, '42.5%');
  view.setUint8(0, 0);
  applyBindings(el, state);
  assert.deepEqual([...el.classes], []);
  assert.equal(el.checked, false);
  assert.deepEqual([...el.attributes], ['hidden']);
});

test('a focused field keeps its text against an echo, not against a new value', () => {
  const state = new Uint8Array(12);
  new DataView(state.buffer).setUint32(0, 2, true);
  state.set([0x61, 0x62], 4); // "ab"
  const binding = [{ at: 0, type: 'text8', prop: 'value' }];
  const typing = element(binding, true);
  typing.value = 'abc'; // typed on after "ab" was sent
  noteSent(typing, 'a');
  noteSent(typing, 'ab');
  applyBindings(typing, state);
  assert.equal(typing.value, 'abc', 'the echo of what was sent does not win');
  new DataView(state.buffer).setUint32(0, 0, true); // the app cleared it
  applyBindings(typing, state);
  assert.equal(typing.value, '', 'a value the page did not send does');
  const idle = element(binding, false);
  noteSent(idle, 'ab');
  new DataView(state.buffer).setUint32(0, 2, true);
  applyBindings(idle, state);
  assert.equal(idle.value, 'ab', 'an unfocused field takes the value');
});

test('echoes come back in order: each patch of one marks it and older ones back', () => {
  const field = element([], true);
  for (const v of ['b', 'bu', 'buy', 'buy']) noteSent(field, v);
  // (patched value, kept) in the order patches arrive
  const cases = [['b', true], ['buy', true], ['buy', true], ['', false], ['buy', false]];
  for (const [value, kept] of cases) assert.equal(keepsOwnText(field, value, true), kept, value);
  assert.equal(keepsOwnText(element([], false), 'b', true), false, 'an unfocused field takes every value');
});
