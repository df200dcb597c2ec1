// Bound fields and export arguments (runtime/fields.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readField, wasmValue, utf8Prefix } from '../runtime/fields.js';

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

test('text in the state reads as FixedStr::as_str does', () => {
  // (length field, bytes, capacity 4, text) — the Rust test
  // any_bytes_read_as_their_valid_prefix has the same table
  const cases = [
    [3, [0x61, 0x62, 0x63, 0x64], 'abc'],
    [99, [0x61, 0x62, 0x63, 0x64], 'abcd'],
    [4, [0x61, 0xff, 0x63, 0x64], 'a'],
    [4, [0x61, 0x62, 0xe6, 0x9d], 'ab'],
    [0, [0x61, 0x62, 0x63, 0x64], ''],
  ];
  for (const [len, bytes, text] of cases) {
    const state = new Uint8Array(9);
    new DataView(state.buffer).setUint32(1, len, true);
    state.set(bytes, 5);
    assert.equal(readField(state, 1, 'text4'), text, JSON.stringify(bytes));
  }
  assert.equal(readField(new Uint8Array(6), 0, 'text4'), null, 'past the end');
  const nul = new Uint8Array([3, 0, 0, 0, 0x61, 0, 0x62, 0]);
  assert.equal(readField(nul, 0, 'text4'), 'a\uFFFDb', 'NUL shows as in the server\'s HTML');
  const encode = (s) => new TextEncoder().encode(s);
  for (const s of ['', 'é', '東京', '🦀', 'a\u00e9\u6771\u{1f980}']) assert.equal(utf8Prefix(encode(s)), s);
  // overlong, surrogate, past U+10FFFF, truncated
  for (const bytes of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0xa6]]) {
    assert.equal(utf8Prefix(new Uint8Array([0x7a, ...bytes])), 'z', JSON.stringify(bytes));
  }
});

test('event values convert by the HTML rules the protocol states', async () => {
  const { convert } = await import('../runtime/events.js');
  // (raw value, parameter type, argument or null when nothing runs)
  const cases = [
    ['', 'text', ''], ['héllo 東京 🦀', 'text', 'héllo 東京 🦀'],
    ['42', 'i32', 42], ['-7', 'i32', -7], ['', 'i32', null], ['4.5', 'i32', null], [' 4', 'i32', null],
    ['2147483648', 'i32', null], ['-1', 'u32', null], ['4294967295', 'u32', 4294967295],
    ['9007199254740993', 'i64', '9007199254740993'], ['18446744073709551615', 'u64', '18446744073709551615'],
    ['0.25', 'f64', 0.25], ['-.5e3', 'f64', -500], ['1e999', 'f64', null], ['', 'f64', null],
    ['+1', 'f64', null], ['abc', 'f64', null], ['1.', 'f64', null],
  ];
  for (const [raw, type, want] of cases) {
    let got;
    try {
      got = convert(raw, type);
    } catch {
      got = null;
    }
    assert.equal(got, want, `${JSON.stringify(raw)} as ${type}`);
  }
});
