// Pure units of the transport: the bounded queue, the back-off and the backend frame checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { BoundedQueue } = require('../dist/worker/transport/queue.js');
const { reconnectDelay } = require('../dist/worker/transport/backoff.js');
const { parseBackendFrame, MAX_BACKEND_FRAME_BYTES } = require('../dist/worker/transport/frames.js');
const { parseServerArgs } = require('../dist/server/cli.js');

test('queue: bounded by count, oldest dropped first, drops counted once', () => {
  const q = new BoundedQueue(3, 1024 * 1024);
  for (const s of ['a', 'b', 'c', 'd', 'e']) q.push(s);
  assert.equal(q.length, 3);
  assert.equal(q.droppedTotal, 2);
  assert.equal(q.takeDropped(), 2);
  assert.equal(q.takeDropped(), 0);
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], ['c', 'd', 'e', undefined]);
  assert.equal(q.bytes, 0);
});

test('queue: bounded by bytes (UTF-8), a frame larger than the bound is itself dropped', () => {
  const q = new BoundedQueue(100, 10);
  q.push('12345');
  q.push('é'.repeat(2)); // 4 bytes
  assert.equal(q.bytes, 9);
  q.push('xx'); // 11 > 10: the oldest goes
  assert.equal(q.length, 2);
  assert.equal(q.bytes, 6);
  assert.equal(q.push('x'.repeat(11)), 1);
  assert.equal(q.length, 2);
  assert.equal(q.droppedTotal, 2);
});

test('queue: failed frames go back in front, in order, within the bounds', () => {
  const q = new BoundedQueue(4, 1000);
  q.push('c');
  q.push('d');
  q.unshiftAll(['a', 'b']);
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], ['a', 'b', 'c', 'd']);
  const small = new BoundedQueue(2, 1000);
  small.push('c');
  small.unshiftAll(['a', 'b']);
  assert.deepEqual([small.shift(), small.shift()], ['b', 'c']);
  assert.equal(small.droppedTotal, 1);
});

test('queue: long runs stay correct across internal compaction', () => {
  const q = new BoundedQueue(100000, 10 * 1024 * 1024);
  let next = 0;
  for (let i = 0; i < 20000; i++) {
    q.push(String(i));
    if (i % 3 !== 0) assert.equal(q.shift(), String(next++));
  }
  while (q.length) assert.equal(q.shift(), String(next++));
  assert.equal(next, 20000);
  assert.equal(q.droppedTotal, 0);
  assert.equal(q.bytes, 0);
});

test('back-off: full jitter under a doubling ceiling, capped, never a tight loop', () => {
  assert.equal(reconnectDelay(0, 1000, 60000, () => 1), 1000);
  assert.equal(reconnectDelay(3, 1000, 60000, () => 1), 8000);
  assert.equal(reconnectDelay(10, 1000, 60000, () => 1), 60000);
  assert.equal(reconnectDelay(1000, 1000, 60000, () => 1), 60000);
  assert.equal(reconnectDelay(5, 1000, 60000, () => 0.5), 16000);
  assert.equal(reconnectDelay(0, 1000, 60000, () => 0), 100, 'floor: a tenth of the base');
  for (let i = 0; i < 1000; i++) {
    const d = reconnectDelay(4, 1000, 60000);
    assert.ok(d >= 100 && d <= 16000);
  }
});

test('backend frames: known types with their fields pass, everything else is a reason', () => {
  const ok = (text) => parseBackendFrame(Buffer.from(text), false);
  assert.deepEqual(ok('{"type":"registered","payload":{"agent_id":"a"},"timestamp":5}'), { ok: true, frame: { type: 'registered', payload: { agent_id: 'a' }, timestamp: 5 } });
  assert.equal(ok('{"type":"registered"}').ok, true, 'registered without payload is accepted');
  const sb = ok('{"type":"set_breakpoint","payload":{"id":"b","file_path":"src/a.ts","line_number":3,"condition":"x>1","max_hits":2,"ttl_seconds":60,"extra":{"a":1}}}');
  assert.deepEqual(sb.frame.payload, { id: 'b', file_path: 'src/a.ts', line_number: 3, condition: 'x>1', max_hits: 2, ttl_seconds: 60 });
  assert.deepEqual(ok('{"type":"remove_breakpoint","payload":{"id":"b"}}').frame.payload, { id: 'b' });
  assert.deepEqual(ok('{"type":"configure","payload":{"sampling_rate":0.5}}').frame.payload, { sampling_rate: 0.5 });
  assert.equal(ok('{"type":"error","payload":{"code":"invalid_api_key"}}').frame.payload.code, 'invalid_api_key');
  for (const bad of ['', 'x', '1', 'null', '[]', '{}', '{"type":1}', '{"type":"set_breakpoint","payload":{"id":"b","file_path":"a","line_number":0}}',
    '{"type":"set_breakpoint","payload":{"id":"","file_path":"a","line_number":1}}', '{"type":"remove_breakpoint","payload":{}}', '{"type":"configure","payload":"x"}',
    '{"type":"error","payload":{"code":5}}', '{"type":"hello","payload":{}}', '{"type":"__proto__","payload":{}}']) {
    const r = ok(bad);
    assert.equal(r.ok, false, bad);
    assert.equal(typeof r.reason, 'string');
  }
  assert.equal(parseBackendFrame(Buffer.from('{}'), true).reason, 'a binary frame');
  assert.ok(MAX_BACKEND_FRAME_BYTES >= 64 * 1024 && MAX_BACKEND_FRAME_BYTES <= 16 * 1024 * 1024);
});

test('server arguments', () => {
  assert.deepEqual(parseServerArgs([]), { port: 19999, host: '127.0.0.1', dataDir: './.aivory', keys: [], devKey: true });
  assert.deepEqual(parseServerArgs(['--port', '0', '--host=0.0.0.0', '--data', '/tmp/x', '--key', 'a', '--key=b', '--no-dev-key']), { port: 0, host: '0.0.0.0', dataDir: '/tmp/x', keys: ['a', 'b'], devKey: false });
  for (const bad of [['--port'], ['--port', '-1'], ['--port', '70000'], ['--port', 'x'], ['--key'], ['--nope'], ['--no-dev-key']]) {
    assert.equal(typeof parseServerArgs(bad), 'string', bad.join(' '));
  }
});
