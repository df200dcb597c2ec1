// State fields as the page reads them: the scalar types a field can have,
// with their sizes in bytes and how a little-endian DataView reads them.
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
};

// The text of the field of type `type` at byte `at` of `bytes`, or null when
// the type is unknown or the field lies outside the state.
export function readField(bytes, at, type) {
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
