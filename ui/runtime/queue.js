// The page's queue of clicks (docs/protocol.md, "Click ids, retries and
// the queue"). Every click gets an id, PAGE:SEQ, and waits here, in order,
// until the server has answered it; main.js sends what waits, up to BATCH
// at a time in one request, and sends it again, with the same ids, until
// it is answered (the server answers a click it already ran with its first
// answer, and runs it no second time). The queue is kept in the tab's
// sessionStorage, so a reload or a restarted tab sends what waited.
// No DOM and no network here: ui/test/queue.test.mjs drives it in node.

// Calls sent in one request at most (the server takes up to 64).
export const BATCH = 32;
// Clicks that may wait at most; past it a click is refused, and said so.
export const QUEUE_MAX = 1000;

const random = () => [...crypto.getRandomValues(new Uint8Array(12))]
  .map((b) => b.toString(16).padStart(2, '0')).join('');

export class Outbox {
  // The queue of app `app`, build `build`, kept in `storage` (null: in
  // memory only). `signatures`: the callbacks of this build.
  constructor(storage, app, build, signatures) {
    this.storage = storage;
    this.key = `x64wasm:clicks:${app}`;
    this.build = build;
    const kept = this.read();
    // A new page id each load: a duplicated tab copies sessionStorage, and
    // two tabs counting on under one id would name different clicks alike
    // (the server would take the second for the first, sent again). What
    // waited keeps the ids it was given.
    this.page = random();
    this.seq = 0;
    this.items = [];
    // What waited when the page (re)loaded: this build's, to send again;
    // another build's only where the callback is still there with the same
    // signature (the rest is `dropped`, for the page to say so).
    this.restored = [];
    this.dropped = [];
    // whether the last write to storage failed
    this.unsaved = false;
    for (const item of kept.items || []) {
      // (what waited may have been sent: by this tab before the reload,
      // or by the tab this one duplicates)
      item.sent = true;
      const same = kept.build === build
        || JSON.stringify(signatures[item.call] || null) === item.signature;
      (same ? this.restored : this.dropped).push(item);
    }
    this.write();
  }

  read() {
    if (!this.storage) return {};
    try {
      return JSON.parse(this.storage.getItem(this.key) || '{}');
    } catch (e) {
      return {};
    }
  }

  write() {
    if (!this.storage) return;
    const value = { build: this.build, items: [...this.restored, ...this.items] };
    try {
      this.storage.setItem(this.key, JSON.stringify(value));
      this.unsaved = false;
    } catch (e) {
      // full or refused: the queue lives on in memory, and a reload would
      // lose what waits (main.js says so)
      this.unsaved = true;
    }
  }

  // A click to send: its item (with its id), or null when QUEUE_MAX wait.
  add(call, args, signature) {
    if (this.length >= QUEUE_MAX) return null;
    this.seq += 1;
    const item = { id: `${this.page}:${this.seq}`, call, args, signature: JSON.stringify(signature || null) };
    this.items.push(item);
    this.write();
    return item;
  }

  // A restored item, predicted again: it waits with the new ones, first.
  readd(item) {
    this.restored = this.restored.filter((r) => r !== item);
    this.items.push(item);
    this.write();
  }

  get length() {
    return this.items.length + this.restored.length;
  }

  // The next calls to send, oldest first.
  next() {
    return this.items.slice(0, BATCH);
  }

  // `items` (of next()) are about to be sent: for each, whether it was
  // sent before (the server may have run it; kept with the queue, so a
  // reload knows too). A click sent for the first time has never run, so
  // the server runs it even for a page it does not remember; one sent
  // again it runs only when it can tell it never did.
  sending(items) {
    const before = items.map((item) => item.sent === true);
    for (const item of items) item.sent = true;
    this.write();
    return before;
  }

  // The first `n` were answered: they wait no longer.
  answered(n) {
    this.items.splice(0, n);
    this.write();
  }
}
