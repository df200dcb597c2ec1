// The view's side of synchronisation: what it has applied of the server's
// view, what it shows (predictions on top), and what it does with each
// click's answer and each event. No DOM and no network here: main.js wires
// those in, and ui/test/sync.test.mjs drives this in node.
//
// A click is predicted at once (`click`), posted in order, and counted in
// flight until its answer (`answer`). Events that arrive while clicks are
// in flight are held: the page keeps showing its predictions until every
// click is answered, then applies the held events in order and shows the
// server's state, which wins over what the page predicted.
import { decodeBase64, sha256Hex } from './encoding.js';

export class Sync {
  // The page as the server rendered it: `version` and the state's bytes.
  constructor(version, stateBytes) {
    this.applied = version; // the server's version the page has applied
    this.serverState = stateBytes.slice(); // the server's state at `applied`
    this.state = stateBytes.slice(); // what the page shows
    this.answered = version; // the newest version a click's answer reported
    this.inflight = 0; // clicks predicted and not yet answered
    this.held = []; // [type, event] that came while clicks were in flight
  }

  // A click: `predict(state)` gives the predicted state (or throws when the
  // callback cannot run here). Returns the version the server will run it
  // on if no other view clicks first, and the prediction's SHA-256 (null
  // when there is none).
  click(predict) {
    const base = Math.max(this.applied, this.answered) + this.inflight;
    this.inflight += 1;
    let predicted = null;
    let error = null;
    try {
      this.state = predict(this.state);
      predicted = sha256Hex(this.state);
    } catch (e) {
      error = e;
    }
    return { base, predicted, error };
  }

  // A click's answer: the version it made (null when the click failed).
  // Returns the held events to handle now (all of them once no click is in
  // flight), after which `settle` shows the server's state.
  answer(version) {
    if (version !== null && version > this.answered) this.answered = version;
    this.inflight -= 1;
    if (this.inflight > 0) return [];
    const events = this.held;
    this.held = [];
    return events;
  }

  // No click in flight, and the server's events for every answered click
  // applied: what the page shows is the server's state. Until those events
  // come, the page keeps its prediction (the older server state would undo
  // its own answered clicks, and a click made then would be predicted on
  // it while claiming the newer version).
  settle() {
    if (this.inflight === 0 && this.applied >= this.answered) this.state = this.serverState.slice();
  }

  // An event from the stream: held while clicks are in flight (returns
  // 'held'), else handled (see `handle`).
  receive(type, event, dom) {
    if (this.inflight > 0) {
      this.held.push([type, event]);
      return 'held';
    }
    return this.handle(type, event, dom);
  }

  // Handles one event: `dom.reset(html)` replaces the view, `dom.patch(p)`
  // applies a patch. Returns what happened: 'reset', 'patched', 'skipped'
  // (already shown), or { resync: why } (a gap, or a patch that did not
  // apply: the stream must reconnect and the server will send a reset).
  handle(type, event, dom) {
    if (type === 'reset') {
      // Whatever this page knew, the server's view now starts here (after
      // a restart it may even be older than what the page had).
      this.applied = event.version;
      this.answered = event.version;
      this.serverState = decodeBase64(event.state);
      dom.reset(event.html);
      this.settle();
      return 'reset';
    }
    if (event.version <= this.applied) return 'skipped';
    if (event.from !== this.applied) {
      return { resync: `missed versions ${this.applied + 1}..${event.from}` };
    }
    try {
      // (a page that renders itself is sent no patches)
      for (const patch of event.patches || []) dom.patch(patch);
      const next = this.serverState.slice();
      for (const [offset, bytes] of event.state) next.set(decodeBase64(bytes), offset);
      if (sha256Hex(next).slice(0, 16) !== event.sha) throw new Error('state checksum differs');
      this.serverState = next;
      this.applied = event.version;
    } catch (e) {
      return { resync: `patch ${event.version} did not apply: ${e.message}` };
    }
    this.settle();
    return 'patched';
  }

  // Resynchronising: held events are dropped (the reset replaces them).
  dropHeld() {
    this.held = [];
  }
}
