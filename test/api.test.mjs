import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { cleanEnv, REGISTER_CJS, ROOT, runNode } from './helpers/process.mjs';
import { join } from 'node:path';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'api');

/** A loopback port with nothing listening: an unreachable backend. */
async function deadPort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

test('no API key: one line says monitoring is off, the app is otherwise untouched', async () => {
  const plain = await runNode([join(FIXTURES, 'print-and-exit.cjs')], { env: cleanEnv({ APP_EXIT_CODE: '3' }) });
  const withAgent = await runNode(['--require', REGISTER_CJS, join(FIXTURES, 'print-and-exit.cjs')], { env: cleanEnv({ APP_EXIT_CODE: '3' }) });
  assert.equal(withAgent.code, plain.code);
  assert.equal(withAgent.code, 3);
  assert.equal(withAgent.stdout, plain.stdout);
  const extra = withAgent.stderr.replace(plain.stderr, '');
  assert.equal(extra, '[aivory-monitor] AIVORY_API_KEY is not set; monitoring is off\n');
});

test('the API never throws, whatever it is given, and init() is idempotent', async () => {
  const port = await deadPort();
  const r = await runNode([join(FIXTURES, 'hostile-calls.cjs')], {
    env: cleanEnv({ AIVORY_API_KEY: 'test-key-not-secret', AIVORY_BACKEND_URL: `ws://127.0.0.1:${port}/ws/agent` }),
  });
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.deepEqual(result.threw, []);
  assert.equal(result.ids.length, 14);
  for (const id of result.ids) assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(new Set(result.ids).size, 14);
  assert.deepEqual(result.flushTypes, ['boolean', 'boolean', 'boolean', 'undefined']);
  assert.equal(result.afterShutdown, '', 'no events after shutdown');
  const warnings = r.stderr.split('\n').filter((l) => l.includes('called again with different options'));
  assert.ok(warnings.length >= 1, r.stderr);
  for (const line of r.stderr.split('\n').filter(Boolean)) assert.match(line, /^\[aivory-monitor\] /);
  assert.doesNotMatch(r.stderr, /test-key-not-secret/);
});

test('bad environment values: one warning each on stderr, the app runs', async () => {
  const port = await deadPort();
  const r = await runNode(['--require', REGISTER_CJS, join(FIXTURES, 'print-and-exit.cjs')], {
    env: cleanEnv({
      AIVORY_API_KEY: 'test-key-not-secret',
      AIVORY_BACKEND_URL: `ws://127.0.0.1:${port}/ws/agent`,
      AIVORY_SAMPLING_RATE: '1.7',
      AIVORY_MAX_DEPTH: 'abc',
    }),
  });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'hello from the app\n');
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('[aivory-monitor]'));
  assert.deepEqual(ours, [
    '[aivory-monitor] AIVORY_SAMPLING_RATE="1.7" is not a number from 0 to 1; using 1',
    '[aivory-monitor] AIVORY_MAX_DEPTH="abc" is not an integer from 0 to 100; using 10',
  ]);
});
