// The view check (docs/protocol.md): a hash of the app root's DOM in the
// canonical form of src/dom/check.rs, which the server
// sends for each version. JSON, so both sides write strings alike: an
// element is [tag, [[name, value], …], [child, …]] (attributes sorted by
// name, class tokens sorted, `style` and `value` left out), a text node
// its string; NUL reads as U+FFFD and CR LF and CR as LF, as after parsing.
import { sha256Hex } from './encoding.js';
import { RUNTIME_MARK } from './attributes.js';

// Left out of the check: UNCHECKED_ATTRIBUTES in check.rs (tests/runtime.rs
// checks the two agree).
export const UNCHECKED_ATTRIBUTES = ['style', 'value'];

const parsed = (text) => text.replace(/\0/g, '\uFFFD').replace(/\r\n?/g, '\n');
const byName = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function canonical(node) {
  if (node.nodeType === 3) return parsed(node.data); // text
  if (node.nodeType !== 1) return null; // comments and the like
  const attributes = [...node.attributes]
    .filter((a) => !UNCHECKED_ATTRIBUTES.includes(a.name))
    .map((a) => {
      if (a.name !== 'class') return [a.name, parsed(a.value)];
      const tokens = [...new Set(a.value.split(/[\t\n\f\r ]+/).filter(Boolean))].sort();
      return [a.name, tokens.join(' ')];
    })
    .sort(byName);
  return [node.localName, attributes, [...node.childNodes].map(canonical).filter((c) => c !== null)];
}

// The first 16 hex digits of the SHA-256 of the root's content, canonical.
// (The runtime's own elements in the root, its status, are not the view.)
export function viewHash(root) {
  const runtime = (n) => n.nodeType === 1 && [...n.attributes].some((a) => a.name === RUNTIME_MARK);
  const view = [...root.childNodes].filter((n) => !runtime(n));
  const text = JSON.stringify(view.map(canonical).filter((c) => c !== null));
  return sha256Hex(new TextEncoder().encode(text)).slice(0, 16);
}
