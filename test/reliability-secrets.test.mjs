// Secrets: the API key and values the agent redacts never appear in a frame it sends (beyond the
// Authorization header and register's api_key, which the protocol requires), in a log line, or in
// the dev server's stored data. wss:// verifies certificates by default. The dev server binds to
// 127.0.0.1 unless told otherwise. (Unknown keys refused: server.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { APP, FIXTURES, markerLine, startEdge } from './helpers/edge.mjs';
import { BIN, REGISTER_CJS, cleanEnv, startNode } from './helpers/process.mjs';
import { TLS_CERT, startTlsBackend } from './helpers/tls-backend.mjs';

const FILE = join(FIXTURES, 'secrets.cjs');
const KEY = 'fake-agent-key-5f3a9c1e';
const SECRETS = { SECRET_PASSWORD: 'pw-fake-81d2e7', SECRET_TOKEN: 'tok-fake-c0ffee42' };

function assertNoSecret(text, where) {
  for (const s of [KEY, ...Object.values(SECRETS)]) assert.ok(!text.includes(s), `${where} contains ${s}`);
}

/** Every file under dir, read as text. */
function readTree(dir) {
  let all = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    all += statSync(p).isDirectory() ? readTree(p) : readFileSync(p, 'latin1');
  }
  return all;
}

test('frames and log lines: the key only in the Authorization header and register.api_key; redacted values nowhere', { timeout: 60_000 }, async (t) => {
  const edge = await startEdge(t, {
    onRegister(conn) {
      conn.accept();
      conn.send({ type: 'set_breakpoint', payload: { id: 'bp-login', file_path: 'reliability/secrets.cjs', line_number: markerLine(FILE, 'login'), max_hits: 3 } });
    },
  });
  const app = startNode(['--require', REGISTER_CJS, FILE], { env: cleanEnv({ AIVORY_API_KEY: KEY, AIVORY_BACKEND_URL: edge.url, AIVORY_DEBUG: '1', ...SECRETS }), t });
  const thrown = await edge.next((f) => f.type === 'exception' && f.payload.message.startsWith('login failed'));
  const quoted = await edge.next((f) => f.type === 'exception' && f.payload.message.startsWith('config rejected'));
  await edge.next((f) => f.type === 'breakpoint_hit' && f.payload.hit_count === 3, 15_000);

  // What was captured is there, with the secrets replaced.
  const locals = thrown.payload.local_variables;
  assert.equal(locals.secret.value, '[REDACTED]');
  assert.equal(locals.api_key.value, '[REDACTED]');
  assert.equal(thrown.payload.context.token, '[REDACTED]');
  assert.equal(thrown.payload.context.note, 'ok');
  assert.match(quoted.payload.message, /AIVORY_API_KEY=\[REDACTED\]/);
  const hit = edge.frames('breakpoint_hit')[0].payload.local_variables;
  assert.equal(hit.password.value, '[REDACTED]');
  assert.equal(hit.copyOfAgentKey.value, '[REDACTED]', 'the agent key is redacted by value, whatever the name');
  assert.equal(hit.settings.children.db.children.host.value, 'db.internal');

  for (const c of edge.conns) {
    assert.equal(c.headers.authorization, `Bearer ${KEY}`);
    const [register, ...rest] = c.raw;
    assert.equal(JSON.parse(register).payload.api_key, KEY);
    assertNoSecret(register.replace(`"api_key":"${KEY}"`, ''), 'register beyond api_key');
    for (const frame of rest) assertNoSecret(frame, `a ${JSON.parse(frame).type} frame`);
  }
  assert.ok(app.stderr().length > 0, 'debug lines were written');
  assertNoSecret(app.stderr(), 'the debug log');
  assertNoSecret(app.stdout(), 'stdout');
});

test("the dev server's stored data and output never hold the key or redacted values", { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t, keys: [KEY] });
  const app = startNode(['--require', REGISTER_CJS, FILE], { env: agentEnv(backend, { AIVORY_API_KEY: KEY, ...SECRETS }), t });
  await app.waitForOutput(/ready/);
  const bp = await backend.post('/api/breakpoints', { file_path: 'reliability/secrets.cjs', line_number: markerLine(FILE, 'login'), max_hits: 2 });
  await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'exhausted');
  await backend.waitFor('exception', (e) => e.message.startsWith('config rejected'));
  await backend.waitFor('exception', (e) => e.message.startsWith('login failed'));
  // Everything the server persisted and everything its API serves.
  const api = JSON.stringify([await backend.get('/api/agents'), await backend.get('/api/exceptions'), await backend.get('/api/breakpoints')]);
  const stored = readTree(backend.dataDir);
  assert.match(stored, /login failed/, 'the events were stored');
  assertNoSecret(stored, 'the data folder');
  assertNoSecret(api, 'the API');
  await backend.stop();
  assertNoSecret(backend.stdout() + backend.stderr(), 'the server output');
});

test('wss:// verifies the certificate by default: a self-signed backend gets no connection, trusted it works', { timeout: 60_000 }, async (t) => {
  const backend = await startTlsBackend(t);
  const untrusted = startNode(['--require', REGISTER_CJS, APP], { env: cleanEnv({ AIVORY_API_KEY: KEY, AIVORY_BACKEND_URL: backend.url, AIVORY_DEBUG: '1', AIVORY_RECONNECT_BASE_MS: '100' }), t });
  await untrusted.waitForOutput(/connection to wss:\/\/127\.0\.0\.1:\d+\/ws\/agent failed: self[- ]signed certificate/, 15_000, 'stderr');
  await untrusted.waitForOutput(/connecting to \S+ \(attempt 2\)/, 15_000, 'stderr');
  assert.equal(backend.frames.length, 0, 'nothing was sent: no register, no key');
  assert.ok(backend.tlsErrors() >= 1);
  assert.doesNotMatch(untrusted.stderr(), /connecting to ws:\/\//, 'never downgraded to ws://');
  untrusted.kill();

  // The same backend, its certificate trusted the standard way: the agent connects (the check above can fail).
  const trusted = startNode(['--require', REGISTER_CJS, APP], { env: cleanEnv({ AIVORY_API_KEY: KEY, AIVORY_BACKEND_URL: backend.url, NODE_EXTRA_CA_CERTS: TLS_CERT }), t });
  await backend.waitForFrame(() => true);
  assert.equal(backend.frames[0].type, 'register');
  trusted.kill();
});

test('the dev server listens on 127.0.0.1 unless --host says otherwise', { timeout: 30_000 }, async (t) => {
  const server = startNode([BIN, 'server', '--port', '0', '--data', join(os.tmpdir(), `aivory-bind-${process.pid}`)], { env: cleanEnv(), t });
  const m = await server.waitForOutput(/listening on http:\/\/([^:]+):(\d+)/, 15_000);
  assert.equal(m[1], '127.0.0.1');
  const port = Number(m[2]);
  const connect = (host) =>
    new Promise((resolve) => {
      const s = net.connect(port, host);
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err) => resolve(err.code));
    });
  assert.equal(await connect('127.0.0.1'), 'connected');
  const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!external) {
    t.diagnostic('no non-loopback IPv4 interface here: only the listening address is checked');
    return;
  }
  assert.equal(await connect(external.address), 'ECONNREFUSED', `reachable on ${external.address}`);
});
