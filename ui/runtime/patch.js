// DOM patches as the server sends them (docs/protocol.md): [op, path, ...].
// Paths start at the app's top node (the root element's first child) and
// index childNodes. The op codes are the server's PATCH_OPS (a Rust test,
// tests/runtime.rs, checks this table against that one).

import { keepsOwnText } from './bindings.js';

function fragment(html) {
  const template = document.createElement('template');
  template.innerHTML = html;
  return template.content;
}

export const OPS = {
  // [t, path, text]: set a text node's text
  t: (node, p) => { node.textContent = p[2]; },
  // [a, path, name, value]: set an attribute (and the property a user
  // changes: a field's value, unless it is focused and only echoes what
  // the page sent, and a checkbox's checked)
  a: (node, p) => {
    node.setAttribute(p[2], p[3]);
    if (p[2] === 'value' && 'value' in node && !keepsOwnText(node, p[3], true)) node.value = p[3];
    if (p[2] === 'checked' && 'checked' in node) node.checked = true;
  },
  // [r, path, name]: remove an attribute (and clear those properties)
  r: (node, p) => {
    node.removeAttribute(p[2]);
    if (p[2] === 'value' && 'value' in node && !keepsOwnText(node, '', true)) node.value = '';
    if (p[2] === 'checked' && 'checked' in node) node.checked = false;
  },
  // [R, path, html]: replace the node
  R: (node, p) => { node.replaceWith(fragment(p[2])); },
  // [i, path, index, html]: insert a child at index
  i: (node, p) => { node.insertBefore(fragment(p[3]), node.childNodes[p[2]] || null); },
  // [d, path]: remove the node
  d: (node) => { node.remove(); },
  // [m, path, from, to]: move a child from one index to another
  m: (node, p) => {
    const moved = node.childNodes[p[2]];
    if (!moved) throw new Error('no child to move');
    moved.remove();
    node.insertBefore(moved, node.childNodes[p[3]] || null);
  },
};

function nodeAt(root, path) {
  let node = root.firstChild;
  for (const i of path) node = node && node.childNodes[i];
  if (!node) throw new Error('no node at ' + JSON.stringify(path));
  return node;
}

export function applyPatch(root, patch) {
  const op = OPS[patch[0]];
  if (!op) throw new Error('unknown patch ' + patch[0]);
  op(nodeAt(root, patch[1]), patch);
}

// The fields after the path of each op, by name, in PATCH_OPS order (the
// server's table: tests/runtime.rs checks the two agree).
export const FIELDS = {
  t: ['text'],
  a: ['name', 'value'],
  r: ['name'],
  R: ['html'],
  i: ['index', 'html'],
  d: [],
  m: ['from', 'to'],
};

// The fields that are numbers; the others are text (NUMBER_FIELDS in
// src/dom/wire.rs).
export const NUMBER_FIELDS = ['index', 'from', 'to'];

// The patches the view module writes (src/dom/wire.rs):
// a count, then each patch as its op's row in FIELDS, the path's length
// and indices, and its fields (u32 little-endian; text as length + UTF-8).
export function decodePatches(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const codes = Object.keys(FIELDS);
  let at = 0;
  const u32 = () => {
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const patches = [];
  for (let n = u32(); n > 0; n -= 1) {
    const code = codes[view.getUint8(at)];
    at += 1;
    if (code === undefined) throw new Error('unknown patch op ' + view.getUint8(at - 1));
    const path = [];
    for (let k = u32(); k > 0; k -= 1) path.push(u32());
    const patch = [code, path];
    for (const field of FIELDS[code]) {
      if (NUMBER_FIELDS.includes(field)) {
        patch.push(u32());
      } else {
        const length = u32();
        patch.push(decoder.decode(bytes.subarray(at, at + length)));
        at += length;
      }
    }
    patches.push(patch);
  }
  if (at !== bytes.length) throw new Error(`patch bytes: ${bytes.length - at} left over`);
  return patches;
}
