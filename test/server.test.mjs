// The local development backend (`aivory-monitor server`), driven through its real process with a
// raw WebSocket client standing in for an agent (this file tests the server, not the agent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { appendFileSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startBackend, DEV_KEY, parseSseBlock } from './helpers/backend.mjs';
import { BIN, cleanEnv, runNode } from './helpers/process.mjs';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');
const THIS_FILE = fileURLToPath(import.meta.url);

/** A raw agent connection: collects every frame the server sends. */
async function rawAgent(t, url, { key = DEV_KEY, agentId = `agent-test-${Math.random().toString(16).slice(2, 10)}`, register = true } = {}) {
  const ws = new WebSocket(url, key === null ? {} : { headers: { Authorization: `Bearer ${key}` } });
  t.after(() => ws.terminate());
  const frames = [];
  const waiters = [];
  ws.on('message', (d) => {
    const f = JSON.parse(String(d));
    frames.push(f);
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred(f)) waiters.splice(i, 1)[0].resolve(f);
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => undefined);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const agent = {
    ws,
    agentId,
    frames,
    closed,
    send: (type, payload) => ws.send(JSON.stringify({ type, payload, timestamp: Date.now() })),
    next(pred, timeoutMs = 10000) {
      const found = frames.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`));
          }
        }, timeoutMs).unref();
      });
    },
  };
  if (register) {
    agent.send('register', {
      api_key: key ?? undefined, agent_id: agentId, hostname: 'test-host', environment: 'test', agent_version: '0.0.0-test',
      runtime: 'nodejs', runtimeVersion: process.version, platform: process.platform, arch: process.arch,
      capabilities: { breakpoints: true, breakpoint_status: true },
    });
    await agent.next((f) => f.type === 'registered');
  }
  return agent;
}

function exceptionPayload(agentId, over = {}) {
  return {
    id: `ev-${Math.random().toString(16).slice(2)}`, exception_type: 'TypeError', message: 'x is not a function', fingerprint: '0123456789abcdef',
    stack_trace: [{ method_name: 'handler', file_name: 'server.test.mjs', file_path: THIS_FILE, line_number: 3, column_number: 1, is_native: false, source_available: true, in_app: true }],
    local_variables: { x: { name: 'x', type: 'number', value: '1', is_null: false, is_truncated: false } },
    context: {}, captured_at: new Date().toISOString(), agent_id: agentId, environment: 'test',
    runtime: 'nodejs', runtimeVersion: process.version, platform: process.platform, arch: process.arch, mechanism: 'manual', ...over,
  };
}

test('health, register, exceptions and the API; data survives a restart', async (t) => {
  const backend = await startBackend({ t });
  const health = await backend.get('/health');
  assert.equal(health.status, 'ok');
  assert.equal(health.agents_connected, 0);
  assert.match(health.version, /^\d+\.\d+\.\d+/);

  const a = await rawAgent(t, backend.agentUrl);
  const reg = a.frames.find((f) => f.type === 'registered');
  assert.equal(reg.payload.agent_id, a.agentId);
  assert.equal(typeof reg.timestamp, 'number');
  await backend.waitFor('agent', (x) => x.agent_id === a.agentId && x.connected);
  assert.equal((await backend.get('/health')).agents_connected, 1);

  const e1 = exceptionPayload(a.agentId, { message: 'first' });
  const e2 = exceptionPayload(a.agentId, { message: 'second', captured_at: new Date(Date.now() + 1000).toISOString() });
  const other = exceptionPayload(a.agentId, { fingerprint: 'fedcba9876543210', exception_type: 'RangeError', message: 'other', captured_at: new Date(Date.now() - 5000).toISOString() });
  a.send('exception', e1);
  a.send('exception', e2);
  a.send('exception', other);
  a.send('exception', e1); // a duplicate id is stored once
  a.send('heartbeat', { timestamp: Date.now(), agent_id: a.agentId, dropped_messages: 3 });
  const live = await backend.waitFor('exception', (x) => x.id === other.id);
  assert.equal(live.group.fingerprint, 'fedcba9876543210');
  await backend.waitFor('agent', (x) => x.agent_id === a.agentId && x.last_heartbeat !== null);

  const check = async () => {
    const agents = await backend.get('/api/agents');
    const me = agents.find((x) => x.agent_id === a.agentId);
    assert.ok(me, 'agent listed');
    for (const k of ['hostname', 'environment', 'runtime', 'runtimeVersion', 'agent_version', 'platform', 'arch', 'connected_at']) assert.equal(typeof me[k], 'string', k);
    assert.equal(me.hostname, 'test-host');
    assert.deepEqual(me.capabilities, { breakpoints: true, breakpoint_status: true });
    assert.equal(me.dropped_messages, 3);
    const groups = await backend.get('/api/exceptions');
    assert.deepEqual(groups.map((g) => g.fingerprint), ['0123456789abcdef', 'fedcba9876543210']);
    assert.equal(groups[0].count, 2);
    assert.equal(groups[0].message, 'second');
    assert.equal(groups[0].last_event_id, e2.id);
    assert.deepEqual(groups[0].agent_ids, [a.agentId]);
    const one = await backend.get('/api/exceptions/0123456789abcdef');
    assert.deepEqual(one.events.map((e) => e.id), [e2.id, e1.id]);
    assert.equal(one.events[0].mechanism, 'manual');
    const full = await backend.get(`/api/events/${e1.id}`);
    assert.deepEqual(full.local_variables, e1.local_variables);
    assert.deepEqual(full.stack_trace, e1.stack_trace);
    assert.equal(typeof full.received_at, 'string');
    assert.equal((await backend.request('GET', '/api/events/nope')).status, 404);
    assert.equal((await backend.request('GET', '/api/exceptions/nope')).status, 404);
    return me;
  };
  const before = await check();
  assert.equal(before.connected, true);

  await backend.restart();
  const after = await check();
  assert.equal(after.connected, false, 'after a restart the old connection is gone');
});

test('a wrong or missing key gets an invalid_api_key error frame, then the connection closes', async (t) => {
  const backend = await startBackend({ t, keys: ['prod-key-1'] });
  for (const key of ['wrong-key', null]) {
    const a = await rawAgent(t, backend.agentUrl, { key, register: false });
    if (key === null) a.send('register', { agent_id: 'agent-nokey', hostname: 'h' });
    const err = await a.next((f) => f.type === 'error');
    assert.equal(err.payload.code, 'invalid_api_key');
    assert.equal(await a.closed, 1008);
  }
  // --key adds keys; the dev key still works unless --no-dev-key
  const ok = await rawAgent(t, backend.agentUrl, { key: 'prod-key-1' });
  assert.ok(ok.frames.some((f) => f.type === 'registered'));
  assert.ok(await rawAgent(t, backend.agentUrl, { key: DEV_KEY }));
  const health = await backend.get('/health');
  assert.equal(health.connections_rejected, 2);
  assert.match(backend.stderr(), /rejected an agent connection .*invalid API key/);
  assert.doesNotMatch(backend.stderr(), /wrong-key/, 'keys are never logged');

  const strict = await startBackend({ t, keys: ['prod-key-2'], extraArgs: ['--no-dev-key'] });
  const dev = await rawAgent(t, strict.agentUrl, { key: DEV_KEY, register: false });
  assert.equal((await dev.next((f) => f.type === 'error')).payload.code, 'invalid_api_key');
});

test('POST/DELETE /api/breakpoints reach agents as set_breakpoint/remove_breakpoint', async (t) => {
  const backend = await startBackend({ t });
  const a = await rawAgent(t, backend.agentUrl);
  const b = await rawAgent(t, backend.agentUrl);

  const bad = [
    {}, { file_path: 'x.js' }, { file_path: '', line_number: 1 }, { file_path: 'x.js', line_number: 0 },
    { file_path: 'x.js', line_number: 1.5 }, { file_path: 'x.js', line_number: 1, max_hits: 51 }, { file_path: 'x.js', line_number: 1, ttl_seconds: -1 },
    { file_path: 'x.js', line_number: 1, condition: 42 }, [],
  ];
  for (const body of bad) {
    const r = await backend.request('POST', '/api/breakpoints', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(typeof r.body.error, 'string');
  }
  assert.equal((await backend.request('POST', '/api/breakpoints', '{not json')).status, 400);

  const all = await backend.post('/api/breakpoints', { file_path: 'src/routes/users.ts', line_number: 42, condition: 'id > 3', max_hits: 5, ttl_seconds: 600 });
  assert.equal(all.agent_id, null);
  assert.equal(all.max_hits, 5);
  assert.equal(all.removed, false);
  assert.deepEqual(all.statuses, {});
  for (const agent of [a, b]) {
    const f = await agent.next((x) => x.type === 'set_breakpoint' && x.payload.id === all.id);
    assert.equal(f.payload.file_path, 'src/routes/users.ts');
    assert.equal(f.payload.line_number, 42);
    assert.equal(f.payload.condition, 'id > 3');
    assert.equal(f.payload.max_hits, 5);
    assert.ok(f.payload.ttl_seconds > 590 && f.payload.ttl_seconds <= 600);
  }
  const onlyA = await backend.post('/api/breakpoints', { file_path: '/abs/app.js', line_number: 7, agent_id: a.agentId });
  assert.equal(onlyA.max_hits, 1);
  await a.next((x) => x.type === 'set_breakpoint' && x.payload.id === onlyA.id);

  // statuses and hits from the agent
  a.send('breakpoint_status', { breakpoint_id: onlyA.id, status: 'installed', actual_line: 8 });
  await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === onlyA.id && s.status === 'installed');
  a.send('breakpoint_hit', { breakpoint_id: onlyA.id, agent_id: a.agentId, captured_at: new Date().toISOString(), file_path: '/abs/app.js', line_number: 7, stack_trace: [], local_variables: { n: { name: 'n', type: 'number', value: '2', is_null: false, is_truncated: false } }, hit_count: 1 });
  const hit = await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === onlyA.id);
  assert.equal(hit.local_variables.n.value, '2');
  const hits = await backend.get(`/api/breakpoints/${onlyA.id}/hits`);
  assert.equal(hits.length, 1);
  assert.equal(typeof hits[0].received_at, 'string');
  const listed = (await backend.get('/api/breakpoints')).find((x) => x.id === onlyA.id);
  assert.equal(listed.hit_count, 1);
  assert.equal(listed.statuses[a.agentId].status, 'installed');
  assert.equal(listed.statuses[a.agentId].actual_line, 8);

  // an agent connecting later gets the breakpoints meant for it, not the others'
  const late = await rawAgent(t, backend.agentUrl);
  await late.next((x) => x.type === 'set_breakpoint' && x.payload.id === all.id);
  assert.ok(!late.frames.some((x) => x.type === 'set_breakpoint' && x.payload.id === onlyA.id));

  await backend.del(`/api/breakpoints/${all.id}`);
  for (const agent of [a, b, late]) await agent.next((x) => x.type === 'remove_breakpoint' && x.payload.id === all.id);
  assert.equal((await backend.request('DELETE', '/api/breakpoints/bp-unknown')).status, 404);
  assert.equal((await backend.get('/api/breakpoints')).find((x) => x.id === all.id).removed, true);
  const later = await rawAgent(t, backend.agentUrl);
  assert.ok(!later.frames.some((x) => x.type === 'set_breakpoint'), 'a removed breakpoint is not sent again');

  // cross-origin writes are refused (a breakpoint condition runs code in the app)
  const r = await fetch(`${backend.httpUrl}/api/breakpoints`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body: JSON.stringify({ file_path: 'a.js', line_number: 1 }) });
  assert.equal(r.status, 403);
  const r2 = await fetch(`${backend.httpUrl}/api/breakpoints`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ file_path: 'a.js', line_number: 1 }) });
  assert.equal(r2.status, 415);
});

test('a corrupt or truncated line in a data file is skipped with one warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aivory-corrupt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startBackend({ t, dataDir: dir });
  const a = await rawAgent(t, first.agentUrl);
  const e1 = exceptionPayload(a.agentId, { message: 'kept-1' });
  a.send('exception', e1);
  await first.waitFor('exception', (x) => x.id === e1.id);
  await first.stop();
  // a garbage line in the middle, and a last line cut short by a crash mid-write
  appendFileSync(join(dir, 'exceptions.jsonl'), 'this is not json\n');
  const e2 = exceptionPayload(a.agentId, { message: 'kept-2', fingerprint: 'aaaaaaaaaaaaaaaa' });
  appendFileSync(join(dir, 'exceptions.jsonl'), JSON.stringify({ ...e2, received_at: new Date().toISOString() }) + '\n{"id":"cut","excep');

  const second = await startBackend({ t, dataDir: dir });
  const warnings = second.stderr().split('\n').filter((l) => /corrupt/.test(l));
  assert.equal(warnings.length, 1, second.stderr());
  assert.match(warnings[0], /skipped 2 corrupt lines in exceptions\.jsonl/);
  const groups = await second.get('/api/exceptions');
  assert.deepEqual(groups.map((g) => g.message).sort(), ['kept-1', 'kept-2']);
  // the next record lands on a line of its own
  const b = await rawAgent(t, second.agentUrl);
  const e3 = exceptionPayload(b.agentId, { message: 'kept-3', fingerprint: 'bbbbbbbbbbbbbbbb' });
  b.send('exception', e3);
  await second.waitFor('exception', (x) => x.id === e3.id);
  assert.equal((await second.get(`/api/events/${e3.id}`)).message, 'kept-3');
  await second.stop();
  const lines = readFileSync(join(dir, 'exceptions.jsonl'), 'utf8').split('\n').filter(Boolean);
  assert.equal(JSON.parse(lines.at(-1)).id, e3.id);
});

test('source lines only for files agents reported; static UI without traversal', async (t) => {
  const backend = await startBackend({ t });
  const a = await rawAgent(t, backend.agentUrl);
  const q = (file, line = 3, context = 1) => `/api/source?file=${encodeURIComponent(file)}&line=${line}&context=${context}`;
  assert.equal((await backend.request('GET', q(THIS_FILE))).status, 404, 'not reported yet');
  const ev = exceptionPayload(a.agentId);
  a.send('exception', ev);
  await backend.waitFor('exception', (x) => x.id === ev.id);
  const src = await backend.get(q(THIS_FILE));
  const expected = readFileSync(THIS_FILE, 'utf8').split('\n');
  assert.deepEqual(src.lines, [2, 3, 4].map((n) => ({ number: n, text: expected[n - 1] })));
  assert.equal(src.file, THIS_FILE);
  assert.equal((await backend.request('GET', q('/etc/passwd'))).status, 404);
  assert.equal((await backend.request('GET', q(THIS_FILE, 0))).status, 400);

  const home = await fetch(`${backend.httpUrl}/`);
  assert.equal(home.status, 200);
  assert.match(home.headers.get('content-type'), /text\/html/);
  await home.text();
  for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/nope.js']) {
    const res = await new Promise((resolve) => {
      const s = net.connect(backend.port, '127.0.0.1', () => s.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
    });
    assert.match(res, /^HTTP\/1\.1 404/, p);
  }
  // DNS rebinding: a foreign Host is refused on a loopback-bound server
  const rebind = await new Promise((resolve) => {
    const s = net.connect(backend.port, '127.0.0.1', () => s.write('GET /api/agents HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n'));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
  });
  assert.match(rebind, /^HTTP\/1\.1 403/);
});

test('a port in use: one clear error line and exit code 1', async (t) => {
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const { port } = blocker.address();
  const dir = mkdtempSync(join(tmpdir(), 'aivory-port-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runNode([BIN, 'server', '--port', String(port), '--data', dir], { env: cleanEnv(), timeoutMs: 15000 });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, new RegExp(`port ${port} .*already in use`));
  const bad = await runNode([BIN, 'server', '--port', 'abc'], { env: cleanEnv(), timeoutMs: 15000 });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port expects/);
});

test('bounded: an oversized frame closes that connection (1009), a flood is cut to the rate limit', async (t) => {
  const backend = await startBackend({ t });
  const a = await rawAgent(t, backend.agentUrl);
  a.send('exception', exceptionPayload(a.agentId, { message: 'x'.repeat(9 * 1024 * 1024) }));
  assert.equal(await a.closed, 1009);
  assert.deepEqual(await backend.get('/api/exceptions'), []);

  const b = await rawAgent(t, backend.agentUrl);
  const ids = [];
  for (let i = 0; i < 3000; i++) {
    const e = exceptionPayload(b.agentId, { message: `flood-${i}`, fingerprint: 'cccccccccccccccc' });
    ids.push(e.id);
    b.send('exception', e);
  }
  // the last frame of the flood is over the burst: wait for the server's one line about it instead
  await backend.waitForOutput(/sends too fast: 1 frame\(s\) dropped/, 10000, 'stderr');
  const stored = (await backend.get('/api/exceptions')).find((g) => g.fingerprint === 'cccccccccccccccc');
  assert.ok(stored.count >= 2000 && stored.count < 3000, `stored ${stored.count}`);
  assert.equal((await backend.get('/health')).status, 'ok');
});

/**
 * Opens GET /api/stream; `read(count)` collects events (id, name, data) until `count` arrived or
 * `timeoutMs` passed, then closes. The server has added the client once the headers are here.
 */
async function openStream(port, { query = '', headers = {}, timeoutMs = 5000 } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const res = await fetch(`http://127.0.0.1:${port}/api/stream${query}`, { headers, signal: ctl.signal });
  assert.equal(res.status, 200);
  const read = async (count) => {
    const events = [];
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += Buffer.from(chunk).toString('utf8');
        let end;
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const event = parseSseBlock(buf.slice(0, end));
          buf = buf.slice(end + 2);
          if (event) events.push(event);
        }
        if (events.length >= count) break;
      }
    } catch (err) {
      if (err.name !== 'AbortError') throw err;
    } finally {
      clearTimeout(timer);
      ctl.abort();
    }
    return events;
  };
  return { read };
}

test('the live stream replays what a client missed: since=0 from the start of this server run, Last-Event-ID after that event', async (t) => {
  const backend = await startBackend({ t });
  const agent = await rawAgent(t, backend.agentUrl);
  agent.send('exception', exceptionPayload(agent.agentId, { message: 'first' }));
  agent.send('exception', exceptionPayload(agent.agentId, { message: 'second' }));
  await backend.waitFor('exception', (e) => e.message === 'second');

  // a client attaching now, asking for everything held: the register and both exceptions, in order
  const all = await (await openStream(backend.port, { query: '?since=0' })).read(3);
  assert.deepEqual(all.map((e) => [e.name, e.data.agent_id === agent.agentId, e.data.message]), [
    ['agent', true, undefined], ['exception', true, 'first'], ['exception', true, 'second'],
  ]);
  const ids = all.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  assert.ok(ids.every((id) => /^[0-9a-f]+-\d+$/.test(id)), ids.join());

  // EventSource reconnecting after the first exception: only what came after it
  const after = await (await openStream(backend.port, { headers: { 'last-event-id': ids[1] } })).read(1);
  assert.deepEqual(after.map((e) => e.data.message), ['second']);
  // without since/Last-Event-ID nothing old is replayed: the first event is the next new one
  const plain = await openStream(backend.port);
  agent.send('exception', exceptionPayload(agent.agentId, { message: 'third' }));
  assert.deepEqual((await plain.read(1)).map((e) => e.data.message), ['third']);

  // an id of an earlier server run: the new run starts again at 1, so everything it holds is replayed
  await backend.restart();
  const again = await rawAgent(t, backend.agentUrl);
  const fresh = await (await openStream(backend.port, { headers: { 'last-event-id': ids[2] } })).read(1);
  assert.equal(fresh[0]?.name, 'agent');
  assert.equal(fresh[0].data.agent_id, again.agentId);
  assert.notEqual(fresh[0].id.split('-')[0], ids[0].split('-')[0], 'another run, another id prefix');
});
