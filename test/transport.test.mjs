// The agent's WebSocket transport, end to end: a real app process with the real preload against
// the real dev backend (and, for hostile input only, a tiny ws server standing in for the network edge).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { startBackend, agentEnv, DEV_KEY } from './helpers/backend.mjs';
import { REGISTER_CJS, ROOT, cleanEnv, runNode, startNode } from './helpers/process.mjs';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');
const APP = join(ROOT, 'test', 'fixtures', 'transport', 'app.js');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

/** A port nobody listens on (reserved by listening on 0, then closed). */
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const startApp = (t, env) => startNode(['--require', REGISTER_CJS, APP], { env, t });
const messages = (events, prefix) => events.filter((e) => e.message.startsWith(prefix + '-')).map((e) => e.message);

test('register carries the agent fields; heartbeats follow at the configured interval', async (t) => {
  const backend = await startBackend({ t });
  const app = startApp(t, agentEnv(backend, { AIVORY_HEARTBEAT_INTERVAL_MS: '100', AIVORY_ENVIRONMENT: 'staging', AIVORY_RELEASE: 'shop@1.2.3', AIVORY_COMMIT: 'abcdef1234567', ON_SIGNAL: 'emit' }));
  const agent = await backend.waitFor('agent', (a) => a.connected);
  assert.match(agent.agent_id, /^agent-[0-9a-f]+-[0-9a-f]{8}$/);
  assert.equal(agent.hostname, os.hostname());
  assert.equal(agent.environment, 'staging');
  assert.equal(agent.runtime, 'nodejs');
  assert.equal(agent.runtimeVersion, process.version);
  assert.equal(agent.agent_version, VERSION);
  assert.equal(agent.platform, process.platform);
  assert.equal(agent.arch, process.arch);
  assert.deepEqual(agent.capabilities, { breakpoints: true, breakpoint_status: true });
  assert.equal(agent.git_context.version, '1.2.3');
  assert.equal(agent.git_context.project_name, 'shop');
  assert.equal(agent.git_context.commit_hash, 'abcdef1234567');

  // three heartbeats at ~100 ms: distinct last_heartbeat values
  const beats = new Set();
  await backend.waitFor('agent', (a) => {
    if (a.agent_id === agent.agent_id && a.last_heartbeat) beats.add(a.last_heartbeat);
    return beats.size >= 3;
  }, 10000);
  const listed = (await backend.get('/api/agents')).find((a) => a.agent_id === agent.agent_id);
  assert.equal(listed.connected, true);
  assert.equal(listed.dropped_messages, undefined, 'nothing dropped');
  assert.equal(app.stderr(), '', 'silent without AIVORY_DEBUG');
});

test('events produced before the backend starts are delivered, in order, once it starts', async (t) => {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/ws/monitor/agent`;
  const app = startApp(t, cleanEnv({ AIVORY_API_KEY: DEV_KEY, AIVORY_BACKEND_URL: url, AIVORY_RECONNECT_BASE_MS: '50', AIVORY_RECONNECT_MAX_MS: '400', AIVORY_DEBUG: '1', EMIT_AT_START: '5', PREFIX: 'early', LIFETIME_MS: '60000' }));
  await app.waitForOutput(/emitted 5/);
  await app.waitForOutput(/connection to ws:\/\/127\.0\.0\.1:\d+\/ws\/monitor\/agent failed/, 10000, 'stderr');
  const backend = await startBackend({ t, port });
  await backend.waitFor('exception', (e) => e.message === 'early-5');
  assert.deepEqual(messages(backend.events('exception'), 'early'), ['early-1', 'early-2', 'early-3', 'early-4', 'early-5']);
  assert.doesNotMatch(app.stderr(), new RegExp(DEV_KEY), 'the key is never logged');
});

test('a full queue drops the oldest and reports the count in a heartbeat', async (t) => {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/ws/monitor/agent`;
  const app = startApp(t, cleanEnv({ AIVORY_API_KEY: DEV_KEY, AIVORY_BACKEND_URL: url, AIVORY_RECONNECT_BASE_MS: '50', AIVORY_RECONNECT_MAX_MS: '400', AIVORY_MAX_QUEUE_LENGTH: '3', EMIT_AT_START: '10', PREFIX: 'q', LIFETIME_MS: '60000' }));
  await app.waitForOutput(/emitted 10/);
  const backend = await startBackend({ t, port });
  const agent = await backend.waitFor('agent', (a) => a.dropped_messages !== undefined);
  assert.equal(agent.dropped_messages, 7);
  await backend.waitFor('exception', (e) => e.message === 'q-10');
  assert.deepEqual(messages(backend.events('exception'), 'q'), ['q-8', 'q-9', 'q-10']);
});

test('backend killed and restarted mid-stream: the agent reconnects and loses nothing it queued', async (t) => {
  const backend = await startBackend({ t });
  const app = startApp(t, agentEnv(backend, { AIVORY_DEBUG: '1', ON_SIGNAL: 'emit', BATCH: '5', PREFIX: 'mid' }));
  await app.waitForOutput(/ready/);
  const first = await backend.waitFor('agent', (a) => a.connected);
  app.child.kill('SIGUSR2');
  await backend.waitFor('exception', (e) => e.message === 'mid-5');

  await backend.stop('SIGKILL');
  await app.waitForOutput(/connection to \S+ closed/, 10000, 'stderr');
  app.child.kill('SIGUSR2');
  await app.waitForOutput(/emitted 10/);
  app.child.kill('SIGUSR2');
  await app.waitForOutput(/emitted 15/);

  await backend.start();
  const again = await backend.waitFor('agent', (a) => a.connected && a.connected_at > first.connected_at);
  assert.equal(again.agent_id, first.agent_id, 'same agent id for the life of the process');
  await backend.waitFor('exception', (e) => e.message === 'mid-15');
  const got = messages(backend.events('exception'), 'mid');
  assert.deepEqual(got, Array.from({ length: 15 }, (_, i) => `mid-${i + 1}`));
  // and the data of before the crash is still there
  const groups = await backend.get('/api/exceptions');
  assert.equal(groups.filter((g) => g.message.startsWith('mid-')).reduce((s, g) => s + g.count, 0), 15);
});

test('a wrong key: one stderr line, no reconnect storm', async (t) => {
  const backend = await startBackend({ t });
  const r = await runNode(['--require', REGISTER_CJS, APP], {
    env: agentEnv(backend, { AIVORY_API_KEY: 'not-the-key', AIVORY_RECONNECT_BASE_MS: '10', EMIT_AT_START: '3', LIFETIME_MS: '1500' }),
    timeoutMs: 20000,
  });
  assert.equal(r.code, 0);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^\[aivory-monitor\] the backend at ws:\/\/127\.0\.0\.1:\d+\/ws\/monitor\/agent refused the API key \(invalid_api_key\); not reconnecting/);
  assert.doesNotMatch(r.stderr, /not-the-key/);
  const health = await backend.get('/health');
  // with a 10 ms back-off a storm would be dozens of connections in 1.5 s
  assert.equal(health.connections_total, 1);
  assert.equal(health.connections_rejected, 1);
  assert.deepEqual(await backend.get('/api/exceptions'), []);
});

/**
 * A tiny WebSocket server standing in for the network edge (hostile or slow backends only): records
 * every connection's headers and frames; `onRegister(ws, conn, frame, req)` decides what to answer.
 */
async function edgeServer(t, onRegister) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 64 * 1024 * 1024 });
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
  await new Promise((r) => wss.on('listening', r));
  const conns = [];
  const received = [];
  const waiters = [];
  wss.on('connection', (ws, req) => {
    const conn = { headers: req.headers, frames: [], registeredSent: false, framesBeforeRegistered: [] };
    conns.push(conn);
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      conn.frames.push(f);
      if (!conn.registeredSent) conn.framesBeforeRegistered.push(f);
      received.push(f);
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred(f)) waiters.splice(i, 1)[0].resolve(f);
      if (f.type === 'register') onRegister(ws, conn, f, req);
    });
  });
  const accept = (ws, conn, f) => {
    conn.registeredSent = true;
    ws.send(JSON.stringify({ type: 'registered', payload: { agent_id: f.payload.agent_id }, timestamp: Date.now() }));
  };
  const next = (pred, ms = 10000) => {
    const f = received.find(pred);
    if (f) return Promise.resolve(f);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      waiters.push(w);
      setTimeout(() => reject(new Error(`no matching frame; got ${JSON.stringify(received.map((x) => [x.type, x.payload?.message]))}`)), ms).unref();
    });
  };
  return { port: wss.address().port, conns, received, next, accept };
}

test('a backend refusing the upgrade with HTTP 401 stops reconnects too (one line)', async (t) => {
  let attempts = 0;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient: (_info, cb) => { attempts++; cb(false, 401, 'Unauthorized'); } });
  t.after(() => wss.close());
  await new Promise((r) => wss.on('listening', r));
  const r = await runNode(['--require', REGISTER_CJS, APP], {
    env: cleanEnv({ AIVORY_API_KEY: 'k-401', AIVORY_BACKEND_URL: `ws://127.0.0.1:${wss.address().port}/ws/agent`, AIVORY_RECONNECT_BASE_MS: '10', EMIT_AT_START: '1', LIFETIME_MS: '1000' }),
    timeoutMs: 20000,
  });
  assert.equal(r.code, 0);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /refused the API key \(HTTP 401\); not reconnecting/);
  assert.equal(attempts, 1);
});

test('garbage from the backend is ignored; register goes first and alone; the agent keeps working', async (t) => {
  const edge = await edgeServer(t, (ws, conn, f) => {
    const garbage = ['not json', '[1,2,3]', '{"type":42}', 'null', '{"type":"registered","payload":"x"}', '{"type":"set_breakpoint","payload":{}}',
      '{"type":"set_breakpoint","payload":{"id":"b1","file_path":"a.js","line_number":-4}}', '{"type":"remove_breakpoint","payload":{"id":7}}',
      '{"type":"no_such_type","payload":{}}', '{"type":"error","payload":{"code":"rate_limited","message":"slow down"}}', '{"type":"error","payload":{}}'];
    for (const g of garbage) ws.send(g);
    ws.send(Buffer.from([0, 1, 2, 3]), { binary: true });
    if (edge.conns.length === 1) {
      // too big for the agent's maxPayload: it drops this connection and comes back
      ws.send('{"type":"configure","payload":{"x":"' + 'y'.repeat(2 * 1024 * 1024) + '"}}');
      return;
    }
    // frames are read in order: the garbage is processed before this
    edge.accept(ws, conn, f);
    ws.send('{"type":"configure","payload":[]}');
  });
  const { conns, next } = edge;
  const url = `ws://127.0.0.1:${edge.port}/ws/agent?token=secret-query`;
  const app = startApp(t, cleanEnv({ AIVORY_API_KEY: 'key-123', AIVORY_BACKEND_URL: url, AIVORY_RECONNECT_BASE_MS: '20', AIVORY_DEBUG: '1', AIVORY_RELEASE: 'abc1234', EMIT_AT_START: '2', PREFIX: 'g', ON_SIGNAL: 'emit', BATCH: '1' }));
  await next((f) => f.type === 'exception' && f.payload.message === 'g-2');
  app.child.kill('SIGUSR2');
  await next((f) => f.type === 'exception' && f.payload.message === 'g-3');
  // The worker's debug lines reach the app's stderr through its main thread, which can lag behind
  // the frames the backend already has: wait for the line of the last frame the edge sent.
  await app.waitForOutput(/ignored a configure frame without an object payload/, 10000, 'stderr').catch(() => undefined);

  assert.ok(conns.length >= 2, 'reconnected after the oversized frame');
  for (const c of conns) {
    assert.equal(c.headers.authorization, 'Bearer key-123');
    assert.equal(c.frames[0].type, 'register');
    assert.deepEqual(c.framesBeforeRegistered.map((f) => f.type), ['register'], 'nothing but register before registered');
  }
  const reg = conns[0].frames[0];
  assert.equal(typeof reg.timestamp, 'number');
  const p = reg.payload;
  assert.deepEqual(Object.keys(p).sort(), ['agent_id', 'agent_version', 'api_key', 'arch', 'capabilities', 'environment', 'git_context', 'hostname', 'platform', 'runtime', 'runtimeVersion']);
  assert.equal(p.api_key, 'key-123');
  assert.equal(p.runtime, 'nodejs');
  assert.equal(p.environment, 'production');
  assert.equal(p.git_context.commit_hash, 'abc1234');
  assert.equal(p.git_context.source, 'agent');
  assert.equal(conns[1].frames[0].payload.agent_id, p.agent_id);

  const err = app.stderr();
  for (const line of err.split('\n').filter(Boolean)) assert.match(line, /^\[aivory-monitor\] debug: /, 'only debug lines');
  for (const reason of ['a frame that is not JSON', 'a frame without a type', 'a registered frame without an object payload', 'a set_breakpoint frame without id', 'a remove_breakpoint frame without id', 'a frame of unknown type "no_such_type"', 'a binary frame', 'an error frame without a code', 'a configure frame without an object payload']) {
    assert.ok(err.includes(`ignored ${reason}`), `debug line for ${reason}\n${err}`);
  }
  assert.match(err, /backend error rate_limited/);
  assert.doesNotMatch(err, /secret-query|key-123/, 'no query string, no key in logs');
});

test('an app pointed at a dead backend exits as fast as without the agent', async (t) => {
  const port = await freePort();
  const env = (extra) => cleanEnv({ AIVORY_API_KEY: DEV_KEY, AIVORY_BACKEND_URL: `ws://127.0.0.1:${port}/ws/monitor/agent`, ...extra });
  const timed = async (args, e) => {
    const start = process.hrtime.bigint();
    const r = await runNode(args, { env: e, timeoutMs: 20000 });
    return { ...r, ms: Number(process.hrtime.bigint() - start) / 1e6 };
  };
  for (const scenario of [{ EMIT_AT_START: '3' }, { CRASH_AT_MS: '50' }]) {
    const bare = await timed([APP], env(scenario));
    // An exit flush allowed to wait a minute: an agent that waited for a backend it cannot reach
    // would be killed at runNode's 20 s deadline instead of exiting by itself.
    const withAgent = await timed(['--require', REGISTER_CJS, APP], env({ ...scenario, AIVORY_EXIT_FLUSH_TIMEOUT_MS: '60000' }));
    assert.equal(withAgent.signal, null, 'exited by itself');
    assert.equal(withAgent.code, bare.code, JSON.stringify(scenario));
    assert.equal(withAgent.stderr, bare.stderr, 'same output');
    t.diagnostic(`${JSON.stringify(scenario)}: ${withAgent.ms.toFixed(0)} ms with the agent, ${bare.ms.toFixed(0)} ms without`);
  }
});

test('a crash while connected: pending events are delivered before the process exits', async (t) => {
  const backend = await startBackend({ t });
  // ~3 MB of events just before the crash: more than the socket takes at once, so the exit must wait for them
  const app = startApp(t, agentEnv(backend, { ON_SIGNAL: 'crash', BIG_BEFORE_CRASH: '15', PREFIX: 'big' }));
  await app.waitForOutput(/ready/);
  await backend.waitFor('agent', (a) => a.connected);
  app.child.kill('SIGUSR2');
  const { code } = await app.exited;
  assert.equal(code, 1);
  assert.match(app.stderr(), /Error: crash-now/);
  const ev = await backend.waitFor('exception', (e) => e.message === 'crash-now', 5000);
  assert.equal(ev.mechanism, 'uncaught');
  const big = backend.events('exception').filter((e) => e.message.startsWith('big-'));
  assert.equal(big.length, 15);
  assert.equal(Object.keys(big[0].context.part0).length, 100);
});

test('flush() resolves true once delivered, false when the backend is down; shutdown() closes', async (t) => {
  const backend = await startBackend({ t });
  const up = await runNode(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { EMIT_AT_START: '10', PREFIX: 'fl', FLUSH_MS: '5000', SHUTDOWN: '1' }), timeoutMs: 20000 });
  assert.match(up.stdout, /flush true/);
  assert.match(up.stdout, /shutdown done/);
  // flush said true: all 10 must already be stored (no waiting here beyond the SSE round trip)
  await backend.waitFor('exception', (e) => e.message === 'fl-10', 5000);
  assert.equal(messages(backend.events('exception'), 'fl').length, 10);
  const agent = (await backend.get('/api/agents'))[0];
  assert.equal(agent.connected, false, 'shutdown closed the connection');

  const port = await freePort();
  const down = await runNode(['--require', REGISTER_CJS, APP], { env: cleanEnv({ AIVORY_API_KEY: DEV_KEY, AIVORY_BACKEND_URL: `ws://127.0.0.1:${port}/ws`, EMIT_AT_START: '1', FLUSH_MS: '300' }), timeoutMs: 20000 });
  assert.match(down.stdout, /flush false/);
  assert.equal(down.stderr, '');
});

test('a crash while the backend reads slowly: the exit waits (bounded) until pending events are written', async (t) => {
  let paused;
  const edge = await edgeServer(t, (ws, conn, f, req) => {
    edge.accept(ws, conn, f);
    paused = ws;
  });
  const app = startApp(t, cleanEnv({ AIVORY_API_KEY: DEV_KEY, AIVORY_BACKEND_URL: `ws://127.0.0.1:${edge.port}/ws/agent`, ON_SIGNAL: 'crash', BIG_BEFORE_CRASH: '15', BIG_PARTS: '5', PREFIX: 'slow', AIVORY_MAX_QUEUE_BYTES: String(64 * 1024 * 1024) }));
  await app.waitForOutput(/ready/);
  await edge.next((f) => f.type === 'register');
  // stop reading: of ~15 MB of events, only what the kernel buffers hold (a few MB) can leave the
  // agent before we read again
  paused.pause();
  app.child.kill('SIGUSR2');
  await app.waitForOutput(/emitted 15/);
  setTimeout(() => paused.resume(), 300);
  const { code } = await app.exited;
  assert.equal(code, 1);
  await edge.next((f) => f.type === 'exception' && f.payload.message === 'crash-now', 5000);
  assert.equal(edge.received.filter((f) => f.type === 'exception' && f.payload.message.startsWith('slow-')).length, 15);
});
