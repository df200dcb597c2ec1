// Bound parts of elements (docs/protocol.md): an element's data-bound is a
// JSON list of bindings, each a state field (`at`, `type`) and what follows
// it: a class (`class`, with a test), a flag property (`prop`: checked,
// disabled or hidden, with a test), the `value` (`prop: "value"`), or a
// style property (`style`, `unit`). A test is `eq` or `ne` (the field's
// text against the given text) or `bit` (that bit of an integer field).
// Applied to what the page shows after every prediction and every event.
import { readField } from './fields.js';

// What the page last sent from each field (an event's `value`): a patch or
// prediction that only echoes it does not overwrite a focused field the
// user has typed on in the meantime.
export const lastSent = new WeakMap();

// Whether a focused field keeps its own text rather than take `value`:
// it does, unless `value` is new (not what the page itself last sent).
export function keepsOwnText(element, value) {
  const doc = element.ownerDocument;
  return doc !== undefined && doc !== null && doc.activeElement === element
    && lastSent.get(element) === value;
}

// Whether the binding's test holds for the field's text `text`.
export function holds(binding, text) {
  if ('eq' in binding) return text === binding.eq;
  if ('ne' in binding) return text !== binding.ne;
  if ('bit' in binding) return ((BigInt(text) >> BigInt(binding.bit)) & 1n) === 1n;
  return false;
}

// Applies `element`'s bindings for the state `bytes`.
export function applyBindings(element, bytes) {
  let bindings;
  try {
    bindings = JSON.parse(element.dataset.bound);
  } catch {
    return;
  }
  for (const b of bindings) {
    const text = readField(bytes, b.at, b.type);
    if (text === null) continue;
    if (b.class !== undefined) {
      element.classList.toggle(b.class, holds(b, text));
    } else if (b.style !== undefined) {
      element.style.setProperty(b.style, text + (b.unit || ''));
    } else if (b.prop === 'value') {
      if (element.value !== text && !keepsOwnText(element, text)) element.value = text;
    } else if (b.prop === 'checked' || b.prop === 'disabled' || b.prop === 'hidden') {
      const on = holds(b, text);
      element[b.prop] = on;
      // the attribute too, so CSS selectors and the server's patches agree
      element.toggleAttribute(b.prop, on);
    }
  }
}
