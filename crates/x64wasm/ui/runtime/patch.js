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
