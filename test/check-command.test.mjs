// `aivory-monitor check`: prints the settings the agent would use here and registers once with the
// real backend: exit 0 when the backend accepts the key, 1 (with the reason) when it refuses it, when
// it cannot be reached, without a key, or with a bad option. The key is never printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REGISTER_CJS, cleanEnv, runNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';

const check = (env, args = []) => runNode([BIN, 'check', ...args], { env, cwd: mkdtempSync(join(tmpdir(), 'aivory-check-')) });

/** A port nothing listens on: taken from the system, then let go. */
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('check: registers with a backend that accepts the key, and says why not otherwise', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });

  const ok = await check(agentEnv(backend, { AIVORY_ENVIRONMENT: 'staging', AIVORY_SAMPLING_RATE: '1.7', AIVORY_IGNORE_ERRORS: 'AbortError,/^x/' }));
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, new RegExp(`^  backend: +${backend.agentUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  assert.match(ok.stdout, /^ {2}API key: +set$/m);
  assert.match(ok.stdout, /^ {2}environment: +staging$/m);
  assert.match(ok.stdout, /^ {2}ignored errors: +AbortError, \/\^x\/$/m);
  assert.match(ok.stdout, /^ {2}warning: AIVORY_SAMPLING_RATE="1\.7" is not a number from 0 to 1; using 1$/m);
  const id = /^registered as (agent-[0-9a-f]+-[0-9a-f]{8}) in \d+ ms/m.exec(ok.stdout)?.[1];
  assert.ok(id, ok.stdout);
  const agent = await backend.waitFor('agent', (a) => a.agent_id === id, 5000);
  assert.equal(agent.environment, 'staging');
  assert.equal(ok.stderr, '');
  assert.match(ok.stdout, /^ {2}preload: +not in NODE_OPTIONS \(start your app with --import aivory-monitor\/register/m);
  assert.match(ok.stdout, /^ {2}locals: +available/m);

  // Run where NODE_OPTIONS has the preload (the command itself starts no agent).
  const preloaded = await check(agentEnv(backend, { NODE_OPTIONS: `--require ${REGISTER_CJS}` }));
  assert.equal(preloaded.code, 0, preloaded.stdout + preloaded.stderr);
  assert.match(preloaded.stdout, /^ {2}preload: +in NODE_OPTIONS$/m);
  assert.equal(preloaded.stderr, '');

  const refused = await check(agentEnv(backend, { AIVORY_API_KEY: 'not-the-key-0123' }));
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /^not registered: the backend at \S+ refused the API key \(\w+\)/m);

  const port = await closedPort();
  const unreachable = await check(agentEnv(backend, { AIVORY_BACKEND_URL: `ws://127.0.0.1:${port}/ws/agent` }), ['--timeout', '2']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stdout, new RegExp(`^not registered within 2 s: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`, 'm'));

  for (const r of [ok, refused, unreachable]) {
    assert.ok(!(r.stdout + r.stderr).includes(backend.key), 'the key is never printed');
    assert.ok(!(r.stdout + r.stderr).includes('not-the-key-0123'), 'nor a wrong one');
  }

  const off = await check(cleanEnv());
  assert.equal(off.code, 1);
  assert.match(off.stdout, /^ {2}API key: +not set$/m);
  assert.match(off.stdout, /^not checked: AIVORY_API_KEY is not set/m);

  const bad = await check(cleanEnv(), ['--timeout', 'soon']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^aivory-monitor check: --timeout needs a number of seconds/m);
});
