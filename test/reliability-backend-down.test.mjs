// Backend faults at the TCP level, against the real dev backend once it "recovers": down (every
// connection reset) and hanging in the WebSocket upgrade. The app's pace and memory stay flat,
// reconnects back off, and what was queued meanwhile is delivered once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { APP, startBlackhole } from './helpers/edge.mjs';
import { REGISTER_CJS, startNode } from './helpers/process.mjs';
import { assertAppUnaffected, emitBatch, windowOf } from './helpers/reliability.mjs';

const startApp = (t, backend, port, extra) =>
  startNode(['--require', REGISTER_CJS, APP], {
    env: agentEnv(backend, { AIVORY_BACKEND_URL: `ws://127.0.0.1:${port}/ws/monitor/agent`, WORK: '1', STATS_MS: '250', BATCH: '5', ...extra }),
    t,
  });
const seqMessages = (backend, prefix) => backend.events('exception').map((e) => e.message).filter((m) => m.startsWith(`${prefix}-`));

test('backend down (every connection reset): reconnects back off, the app is unaffected, the queue is delivered on recovery', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const edge = await startBlackhole(t, backend.port);
  edge.switchTo('reset');
  // AIVORY_RECONNECT_BASE_MS=100 (agentEnv): without back-off that is ~10 attempts a second.
  const app = startApp(t, backend, edge.port, { PREFIX: 'down', AIVORY_RECONNECT_MAX_MS: '1600' });
  await app.waitForOutput(/ready/);
  await emitBatch(app, 5);
  await windowOf(4000);
  const attempts = edge.accepted.length;
  t.diagnostic(`${attempts} connection attempts in 4 s`);
  assert.ok(attempts >= 2, 'it kept trying');
  // Ceilings of 100, 200, 400, 800, then 1600 ms with full jitter: about 9 (a storm would be ~70).
  assert.ok(attempts <= 20, `${attempts} attempts in 4 s`);
  await emitBatch(app, 10);

  edge.switchTo('forward');
  await backend.waitFor('exception', (e) => e.message === 'down-10', 15_000);
  assert.deepEqual(seqMessages(backend, 'down'), Array.from({ length: 10 }, (_, i) => `down-${i + 1}`), 'all of it, once, in order');
  assertAppUnaffected(t, app);
  assert.equal(app.stderr(), '', 'silent');
});

test('backend accepts TCP but never answers the upgrade: the attempt times out and is retried; nothing is lost', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const edge = await startBlackhole(t, backend.port);
  const app = startApp(t, backend, edge.port, { PREFIX: 'hang', AIVORY_DEBUG: '1' });
  await app.waitForOutput(/ready/);
  await emitBatch(app, 5);
  // The agent gives up on a handshake that gets no answer (10 s) and tries again.
  await app.waitForOutput(/connection to \S+ failed: Opening handshake has timed out/, 20_000, 'stderr');
  await edge.waitAccepted(2, 5000);
  assert.ok(edge.accepted.length <= 3, `${edge.accepted.length} connections`);
  await emitBatch(app, 10);

  edge.switchTo('forward');
  await backend.waitFor('exception', (e) => e.message === 'hang-10', 20_000);
  assert.deepEqual(seqMessages(backend, 'hang'), Array.from({ length: 10 }, (_, i) => `hang-${i + 1}`));
  assertAppUnaffected(t, app);
  for (const line of app.stderr().split('\n').filter(Boolean)) assert.match(line, /^\[aivory-monitor\] debug: /);
});
