// The data-* attributes the server writes into a page (docs/protocol.md):
// one table here, one in src/dom/attributes.rs (`ATTRIBUTES`), checked
// against each other by tests/runtime.rs. The runtime reads them by these
// names only.
export const ATTRIBUTES = {
  call: 'data-call',
  args: 'data-args',
  on: 'data-on',
  bind: 'data-bind',
  bound: 'data-bound',
  key: 'data-key',
  app: 'data-app',
  build: 'data-build',
  version: 'data-version',
  state: 'data-state',
  callbacks: 'data-callbacks',
  view: 'data-view',
  viewOffset: 'data-view-offset',
};

// What the runtime adds to the page itself (its status line): not part of
// the app's view, so the view check leaves it out (check.js).
export const RUNTIME_MARK = 'data-x64wasm-runtime';
