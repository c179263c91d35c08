// Stray pauses and the app's own debugger: the agent never freezes the app and stays out of the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, startNode } from './helpers/process.mjs';
import { EXC_FIXTURES } from './helpers/exceptions.mjs';

const FILE = join(EXC_FIXTURES, 'debugger.cjs');

test('a `debugger;` statement does not stop the app; locals are captured as usual', async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, FILE], { env: agentEnv(backend, { CASE_KIND: 'plain' }), t });
  const ev = await backend.waitFor('exception', (e) => e.message.startsWith('debugger case plain'));
  assert.equal(ev.locals_status, 'captured');
  assert.equal(ev.stack_trace[0].local_variables.detail.value, 'plain-detail');
  assert.equal((await app.exited).code, 0, app.stderr());
  const { pausedMs } = JSON.parse(app.stdout().trim());
  assert.ok(pausedMs < 1000, `the debugger statement held the app ${pausedMs} ms`);
});

test('with the app\'s own --inspect, exception pauses stay off: errors are reported without locals, nothing hangs', async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--inspect=127.0.0.1:0', '--require', REGISTER_CJS, FILE], { env: agentEnv(backend, { CASE_KIND: 'inspect', KEEP_ALIVE: '1' }), t });
  const ev = await backend.waitFor('exception', (e) => e.message.startsWith('debugger case inspect'));
  assert.equal(ev.locals_status, 'unavailable');
  assert.deepEqual(ev.local_variables, {});
  // The `debugger;` statement did not hold the app (no client is attached to its inspector).
  await app.waitForOutput(/"pausedMs":\d+/);
  assert.ok(JSON.parse(app.stdout().trim()).pausedMs < 1000);
  // The app's own inspector printed its own lines; the agent printed nothing.
  assert.match(app.stderr(), /Debugger listening on ws:\/\/127\.0\.0\.1:/);
  assert.doesNotMatch(app.stderr(), /aivory-monitor/);
});
