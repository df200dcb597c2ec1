// The event stream's messages (runtime/stream.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvents, streamUrl } from '../runtime/stream.js';

test('messages are read as the server writes events', () => {
  // (message, events) — the server's chunks (server/events.rs)
  const cases = [
    ['retry: 1000\n\n', []],
    [': keep-alive\n\n', []],
    ['id: 3\nevent: patch\ndata: {"from":2}\n\n', [{ type: 'patch', data: '{"from":2}' }]],
    ['retry: 1000\n\nid: 4\nevent: reset\ndata: {"version":4}\n\n', [{ type: 'reset', data: '{"version":4}' }]],
    ['id: 1\nevent: patch\ndata: a\n\nid: 2\nevent: patch\ndata: b\n\n',
      [{ type: 'patch', data: 'a' }, { type: 'patch', data: 'b' }]],
    ['event: patch\ndata: a\ndata: b\n\n', [{ type: 'patch', data: 'a\nb' }]],
    ['event:patch\ndata:x: y\n\n', [{ type: 'patch', data: 'x: y' }]],
    ['data: plain\n\n', [{ type: 'message', data: 'plain' }]],
  ];
  for (const [message, events] of cases) assert.deepEqual(parseEvents(message), events, message);
});

test('the stream is on the page\'s own server', () => {
  assert.equal(streamUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, '/events?since=1'), 'ws://127.0.0.1:8080/events?since=1');
  assert.equal(streamUrl({ protocol: 'https:', host: 'app.example' }, '/events'), 'wss://app.example/events');
});
