// The view's event stream (docs/protocol.md, "The event stream"). The page
// opens it as a WebSocket, not an EventSource: a browser gives a host at
// most 6 HTTP/1.1 connections, and an EventSource holds one for as long
// as its tab is open, so a sixth tab left no connection for any tab's
// clicks. WebSockets are not counted there. Each message holds whole
// events in the event-stream format (WHATWG HTML §9.2.6), exactly what
// GET /events sends to a client that does not upgrade.

// The events in one message, in order: [{ type, data }]. Comments
// (keep-alives), `id` and `retry` lines carry nothing the page needs (it
// says which version it shows when it reconnects).
export function parseEvents(text) {
  const events = [];
  for (const block of text.split('\n\n')) {
    let type = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') type = value;
      if (field === 'data') data.push(value);
    }
    if (data.length) events.push({ type, data: data.join('\n') });
  }
  return events;
}

// The WebSocket URL of `path` on this page's own server.
export function streamUrl(location, path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}
