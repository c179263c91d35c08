// A JavaScript heap that reaches its limit: reported (HeapOutOfMemory) during the pause V8 makes for
// the debugger near the limit, with the stack, the locals of the app's frames and the request, and
// written to the backend before the app goes on to its crash, which stays what it is without the
// agent. Without the debugger (exception locals off) V8 makes no such pause: nothing is reported.
// Node's own near-limit work goes on as without the agent: a thread at its heap limit is ended
// alone (ERR_WORKER_OUT_OF_MEMORY), and --heapsnapshot-near-heap-limit still writes its snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { frameNamed } from './helpers/exceptions.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'heap-limit.cjs');
const HEAP = '--max-old-space-size=32';
const OUT_OF_MEMORY = /FATAL ERROR: .*JavaScript heap out of memory/;

/** The answer to a request that the process dies in: the client's error code. */
function dyingRequest(port, path) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => resolve(`answered ${res.statusCode}`)).on('error', (err) => resolve(err.code));
  });
}

/** Runs the app under the agent until the request kills it; returns its agent's events and how it ended. */
async function runUnderAgent(t, environment, extra = {}) {
  const backend = await startBackend({ t });
  const { child, port } = await startListening([HEAP, '--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment, ...extra }), t });
  const agent = await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const answer = await dyingRequest(port, '/import?batch=nightly&token=s3cret');
  const closed = await child.closed;
  // Its connection is gone: the backend has everything the agent sent.
  await backend.waitFor('agent', (a) => a.agent_id === agent.agent_id && a.connected === false, 15000);
  return { answer, closed, events: backend.events('exception').filter((e) => e.environment === environment) };
}

test('a request that runs the JavaScript heap to its limit is reported before Node ends the process, with stack, locals and request; the crash is as without the agent', { timeout: 90_000 }, async (t) => {
  const base = await startListening([HEAP, APP], { env: cleanEnv(), t });
  const baseAnswer = await dyingRequest(base.port, '/import?batch=nightly&token=s3cret');
  const baseClosed = await base.child.closed;
  assert.match(baseClosed.stderr, OUT_OF_MEMORY);

  const { answer, closed, events } = await runUnderAgent(t, 'heap-limit');
  assert.equal(answer, baseAnswer, 'the client sees the same end of its request');
  assert.deepEqual([closed.code, closed.signal], [baseClosed.code, baseClosed.signal], 'the process ends the same way');
  assert.match(closed.stderr, OUT_OF_MEMORY);

  assert.equal(events.length, 1, JSON.stringify(events.map((e) => e.message)));
  const [event] = events;
  assert.equal(event.exception_type, 'HeapOutOfMemory');
  assert.equal(event.mechanism, 'heap_limit');
  assert.match(event.message, /^The JavaScript heap reached its size limit \(\d+\.\d MB in use\)$/);
  const importing = frameNamed(event, 'importRows');
  assert.equal(importing.local_variables.batch?.value, 'nightly');
  assert.ok(Number(importing.local_variables.imported?.value) > 0, JSON.stringify(importing.local_variables));
  assert.equal(event.context.request.method, 'GET');
  assert.match(event.context.request.url, /\/import\?batch=nightly&token=/);
  assert.doesNotMatch(JSON.stringify(event), /s3cret/, 'the query secret is redacted, in the request and in the locals');
  const { heap_used_bytes: used, rss_bytes: rss } = event.context.memory;
  assert.ok(used > 16 * 2 ** 20 && used < 256 * 2 ** 20, `heap in use: ${used}`);
  assert.ok(rss > used, `rss ${rss}, heap ${used}`);
});

test('with exception locals off the debugger is not attached, V8 makes no pause at the heap limit, and nothing is reported', { timeout: 90_000 }, async (t) => {
  const { closed, events } = await runUnderAgent(t, 'heap-limit-off', { AIVORY_MAX_PAUSES_PER_SECOND: '0' });
  assert.match(closed.stderr, OUT_OF_MEMORY);
  assert.deepEqual(events, []);
});

test("a worker thread's heap at its limit: reported from the thread, which Node then ends as without the agent (ERR_WORKER_OUT_OF_MEMORY), and the service goes on", { timeout: 90_000 }, async (t) => {
  const app = join(ROOT, 'test', 'fixtures', 'apps', 'thread-heap-limit.cjs');
  const get = async (port, path) => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
  const base = await startListening([app], { env: cleanEnv(), t });
  assert.equal(await get(base.port, '/import?batch=nightly'), 'thread failed: ERR_WORKER_OUT_OF_MEMORY');
  assert.equal(await get(base.port, '/'), 'ok');

  const backend = await startBackend({ t });
  const { child, port } = await startListening(['--require', REGISTER_CJS, app], { env: agentEnv(backend, { AIVORY_DEBUG: 'true' }), t });
  await backend.waitFor('agent');
  // The thread's debugger, through which V8 reports its heap limit, is on a second after it started.
  await child.waitForOutput(/worker thread \d+: exception locals armed/, 20_000, 'stderr');
  assert.equal(await get(port, '/import?batch=nightly'), 'thread failed: ERR_WORKER_OUT_OF_MEMORY', 'the thread ends as without the agent');
  assert.equal(await get(port, '/'), 'ok', 'the service goes on');
  const event = await backend.waitFor('exception', (e) => e.exception_type === 'HeapOutOfMemory', 15_000);
  assert.equal(event.mechanism, 'heap_limit');
  assert.ok(event.context.thread?.id > 0, JSON.stringify(event.context));
  assert.match(event.message, /^The JavaScript heap reached its size limit \(\d+\.\d MB in use\)$/);
  const importing = frameNamed(event, 'importRows');
  assert.equal(importing.local_variables.batch?.value, 'nightly');
  // The thread's own heap (24 MB of old generation), not the main thread's.
  const { heap_used_bytes: used } = event.context.memory;
  assert.ok(used > 16 * 2 ** 20 && used < 64 * 2 ** 20, `heap in use: ${used}`);
  child.child.kill();
  const closed = await child.closed;
  assert.doesNotMatch(closed.stderr, /FATAL ERROR/);
});

test('with --heapsnapshot-near-heap-limit, Node still writes its heap snapshot after the agent reported the heap limit', { timeout: 120_000 }, async (t) => {
  const snapshotsIn = (dir) => readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
  const run = async (args, env, backend) => {
    const dir = mkdtempSync(join(tmpdir(), 'aivory-heap-snapshot-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const { child, port } = await startListening(['--heapsnapshot-near-heap-limit=1', HEAP, ...args, APP], { env, t, cwd: dir });
    // The agent registers once its inspector is armed: the heap's report then has its locals.
    if (backend) await backend.waitFor('agent', undefined, 15_000);
    await dyingRequest(port, '/import?batch=nightly');
    return { closed: await child.closed, snapshots: snapshotsIn(dir) };
  };
  const base = await run([], cleanEnv());
  assert.equal(base.snapshots.length, 1, 'Node writes one snapshot without the agent');

  const backend = await startBackend({ t });
  const { closed, snapshots } = await run(['--require', REGISTER_CJS], agentEnv(backend), backend);
  assert.equal(snapshots.length, 1, `with the agent too:\n${closed.stderr.slice(0, 2000)}`);
  assert.match(closed.stderr, /Wrote snapshot to /);
  assert.match(closed.stderr, OUT_OF_MEMORY);
  assert.deepEqual([closed.code, closed.signal], [base.closed.code, base.closed.signal]);
  const event = await backend.waitFor('exception', (e) => e.exception_type === 'HeapOutOfMemory', 15_000);
  assert.equal(frameNamed(event, 'importRows').local_variables.batch?.value, 'nightly');
});
