// Events with values (docs/protocol.md): an element's data-on attribute is
// a JSON list of {on, call, args, keys?, debounce?}; an argument is a
// constant, or {"event": "value" | "checked" | "key"}, read when the event
// fires and converted to the callback parameter's type by the rules below.

import { noteSent } from './bindings.js';
import { ATTRIBUTES } from './attributes.js';

// (name in data-on, DOM event type): the server's EVENTS (a Rust test,
// tests/runtime.rs, checks this table against that one). `blur` listens for
// focusout, which bubbles, so one listener at the root sees it.
export const EVENTS = [
  ['click', 'click'],
  ['dblclick', 'dblclick'],
  ['input', 'input'],
  ['change', 'change'],
  ['submit', 'submit'],
  ['keydown', 'keydown'],
  ['blur', 'focusout'],
];

// Integer parameter types and their ranges.
const INTEGERS = {
  i8: [-(2n ** 7n), 2n ** 7n - 1n], u8: [0n, 2n ** 8n - 1n],
  i16: [-(2n ** 15n), 2n ** 15n - 1n], u16: [0n, 2n ** 16n - 1n],
  i32: [-(2n ** 31n), 2n ** 31n - 1n], u32: [0n, 2n ** 32n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n], u64: [0n, 2n ** 64n - 1n],
};
// HTML's "valid floating-point number" (no spaces, no leading `+`).
const FLOAT = /^-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

// The element's value: its own, or for a form its first field's.
function elementValue(element) {
  if (element.tagName === 'FORM') {
    const field = Array.from(element.elements).find((e) => 'value' in e && e.type !== 'submit');
    return field ? field.value : '';
  }
  return 'value' in element ? String(element.value) : '';
}

// `raw` (a string from the page) as a parameter of `type`, or throws why not.
export function convert(raw, type) {
  if (type === 'text') return raw;
  if (type in INTEGERS) {
    if (!/^-?[0-9]+$/.test(raw)) throw new Error(`${JSON.stringify(raw)} is not a whole number`);
    const n = BigInt(raw);
    const [lo, hi] = INTEGERS[type];
    if (n < lo || n > hi) throw new Error(`${raw} is outside ${type}`);
    // 64-bit values travel as strings, which JSON numbers could round
    return type === 'i64' || type === 'u64' ? n.toString() : Number(n);
  }
  if (type === 'f64' || type === 'f32') {
    const x = Number(raw);
    if (!FLOAT.test(raw) || !Number.isFinite(x)) throw new Error(`${JSON.stringify(raw)} is not a number`);
    return x;
  }
  throw new Error(`a page value cannot be a ${type}`);
}

// The arguments of `entry` when `event` fires on `element`, for parameter
// types `params`; throws why not (an empty or invalid value runs nothing).
export function eventArgs(entry, element, event, params) {
  return entry.args.map((arg, i) => {
    if (arg === null || typeof arg !== 'object') return arg;
    switch (arg.event) {
      case 'value': {
        const raw = elementValue(element);
        noteSent(element, raw);
        return convert(raw, params[i]);
      }
      case 'checked': return Boolean(element.checked);
      case 'key': return convert(String(event.key ?? ''), params[i]);
      default: throw new Error(`unknown event value ${JSON.stringify(arg)}`);
    }
  });
}

// The data-on entries of the nearest element from `target` up to `root`
// that reacts to the DOM event `domType` (with `key` for keydown).
export function matching(root, target, domType, key) {
  const names = EVENTS.filter(([, t]) => t === domType).map(([n]) => n);
  for (let el = target; el && el !== root.parentNode; el = el.parentNode) {
    const on = el.getAttribute && el.getAttribute(ATTRIBUTES.on);
    if (!on) continue;
    let entries;
    try {
      entries = JSON.parse(on);
    } catch {
      continue;
    }
    const hits = entries.filter((e) => names.includes(e.on) && (!e.keys || e.keys.includes(key)));
    if (hits.length) return { element: el, entries: hits, all: entries };
  }
  return null;
}
