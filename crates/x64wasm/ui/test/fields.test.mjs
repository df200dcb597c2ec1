// Bound fields and export arguments (runtime/fields.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readField, wasmValue } from '../runtime/fields.js';

test('fields read as the server renders them', () => {
  const state = new Uint8Array(16);
  const view = new DataView(state.buffer);
  view.setBigInt64(0, -5n, true);
  view.setFloat64(8, 0.5, true);
  // (type, offset, text)
  const cases = [
    ['i64', 0, '-5'], ['u8', 0, '251'], ['i8', 0, '-5'], ['f64', 8, '0.5'],
    ['bool', 8, 'false'], ['u64', 0, '18446744073709551611'], ['f64', 9, null], ['nope', 0, null],
  ];
  for (const [type, at, text] of cases) assert.equal(readField(state, at, type), text, `${type} at ${at}`);
});

test('arguments take the export types', () => {
  assert.equal(wasmValue('1152921504606846976', 'i64'), 1152921504606846976n);
  assert.equal(wasmValue('18446744073709551615', 'u64'), -1n);
  assert.equal(wasmValue(true, 'bool'), 1);
  assert.equal(wasmValue(3, 'i32'), 3);
});
