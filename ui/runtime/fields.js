// State fields as the page reads them: the scalar types a field can have,
// with their sizes in bytes and how a little-endian DataView reads them,
// and text (`textN`, the library's FixedStr<N>).
// The names and sizes are the transpiler's SCALAR_TYPES (a Rust test,
// tests/runtime.rs, checks this table against that one).

export const TYPES = {
  i8: { size: 1, read: (v, at) => String(v.getInt8(at)) },
  u8: { size: 1, read: (v, at) => String(v.getUint8(at)) },
  i16: { size: 2, read: (v, at) => String(v.getInt16(at, true)) },
  u16: { size: 2, read: (v, at) => String(v.getUint16(at, true)) },
  i32: { size: 4, read: (v, at) => String(v.getInt32(at, true)) },
  u32: { size: 4, read: (v, at) => String(v.getUint32(at, true)) },
  i64: { size: 8, read: (v, at) => v.getBigInt64(at, true).toString() },
  u64: { size: 8, read: (v, at) => v.getBigUint64(at, true).toString() },
  f32: { size: 4, read: (v, at) => String(v.getFloat32(at, true)) },
  f64: { size: 8, read: (v, at) => String(v.getFloat64(at, true)) },
  bool: { size: 1, read: (v, at) => (v.getUint8(at) ? 'true' : 'false') },
  // A pointer is never shown; its size is x86's.
  ptr: { size: 8, read: () => null },
  // A text argument (pointer and length); text in the state is `textN`.
  text: { size: 16, read: () => null },
};

// The longest valid UTF-8 prefix of `bytes`, as a string (what the
// server's FixedStr::as_str reads from the same bytes).
export function utf8Prefix(bytes) {
  let end = 0;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const [n, min] = b < 0x80 ? [1, 0] : b >= 0xc2 && b < 0xe0 ? [2, 0x80]
      : b >= 0xe0 && b < 0xf0 ? [3, 0x800] : b >= 0xf0 && b < 0xf5 ? [4, 0x10000] : [0, 0];
    if (n === 0 || i + n > bytes.length) break;
    let cp = n === 1 ? b : b & (0xff >> (n + 1));
    let ok = true;
    for (let k = 1; k < n; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) { ok = false; break; }
      cp = (cp << 6) | (c & 0x3f);
    }
    // overlong forms, surrogates and code points past U+10FFFF are invalid
    if (!ok || cp < min || (cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff) break;
    i += n;
    end = i;
  }
  return new TextDecoder().decode(bytes.subarray(0, end));
}

// A FixedStr<N> at `at`: a little-endian u32 length, then N bytes.
function readText(bytes, at, capacity) {
  if (at + 4 + capacity > bytes.byteLength) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = Math.min(view.getUint32(at, true), capacity);
  // NUL shows as U+FFFD, as in the server's HTML
  return utf8Prefix(bytes.subarray(at + 4, at + 4 + len)).replace(/\0/g, '\uFFFD');
}

// The text of the field of type `type` at byte `at` of `bytes`, or null when
// the type is unknown or the field lies outside the state.
export function readField(bytes, at, type) {
  const text = /^text([0-9]+)$/.exec(type);
  if (text) return readText(bytes, at, Number(text[1]));
  const t = TYPES[type];
  if (!t || at + t.size > bytes.byteLength) return null;
  return t.read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at);
}

// The value a JSON argument gives to an export parameter of `type`.
export function wasmValue(value, type) {
  switch (type) {
    case 'i64': return BigInt.asIntN(64, BigInt(value));
    case 'u64': return BigInt.asIntN(64, BigInt(value));
    case 'bool': return value ? 1 : 0;
    default: return Number(value);
  }
}
