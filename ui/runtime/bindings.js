// Bound parts of elements (docs/protocol.md): an element's data-bound is a
// JSON list of bindings, each a state field (`at`, `type`) and what follows
// it: a class (`class`, with a test), a flag property (`prop`: checked,
// disabled or hidden, with a test), focus (`prop: "focus"`, with a test:
// focused when it becomes true), the `value` (`prop: "value"`), or a
// style property (`style`, `unit`). A test is `eq` or `ne` (the field's
// text against the given text) or `bit` (that bit of an integer field).
// Applied to what the page shows after every prediction and every event.
import { readField } from './fields.js';
import { ATTRIBUTES } from './attributes.js';

// The values the page sent from each field (an event's `value`), oldest
// first, that have not come back in a patch yet: a prediction or patch
// that only echoes one of them does not overwrite a focused field the user
// has typed on in the meantime (docs/protocol.md).
const sent = new WeakMap();
const SENT_KEPT = 64;

// Notes that `value` was sent from `element`.
export function noteSent(element, value) {
  const values = sent.get(element) || [];
  values.push(value);
  if (values.length > SENT_KEPT) values.shift();
  sent.set(element, values);
}

// Whether each element's focus binding held when last applied.
const focusedBefore = new WeakMap();

// Whether a focused field keeps its own text rather than take `value`:
// it does when `value` is one it sent that has not come back yet (an
// echo). A patch (`consume`) marks that value and older ones as back; a
// value the page did not send (the app's own) is taken.
export function keepsOwnText(element, value, consume = false) {
  const doc = element.ownerDocument;
  const focused = doc !== undefined && doc !== null && doc.activeElement === element;
  const values = sent.get(element) || [];
  const echo = values.indexOf(value);
  if (consume) {
    if (echo >= 0) values.splice(0, echo + 1);
    else values.length = 0;
  }
  return focused && echo >= 0;
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
    bindings = JSON.parse(element.getAttribute(ATTRIBUTES.bound));
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
    } else if (b.prop === 'focus') {
      // focused when the test becomes true (not again while it stays so)
      const on = holds(b, text);
      if (on && !focusedBefore.get(element) && typeof element.focus === 'function') {
        element.focus();
        if (typeof element.setSelectionRange === 'function' && typeof element.value === 'string') {
          element.setSelectionRange(element.value.length, element.value.length);
        }
      }
      focusedBefore.set(element, on);
    } else if (b.prop === 'checked' || b.prop === 'disabled' || b.prop === 'hidden') {
      const on = holds(b, text);
      element[b.prop] = on;
      // the attribute too, so CSS selectors and the server's patches agree
      element.toggleAttribute(b.prop, on);
    }
  }
}
