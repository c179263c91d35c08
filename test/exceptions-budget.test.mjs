// The pause budget, the per-site cap and the per-fingerprint rate limit, end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, startNode } from './helpers/process.mjs';
import { EXC_FIXTURES } from './helpers/exceptions.mjs';

test('a hot throw site: 5 captures per site, pauses off when the budget is spent, 20 events per fingerprint, then locals again', async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'budget.cjs')], { env: agentEnv(backend), t });
  const after = await backend.waitFor('exception', (e) => e.message === 'other after-refill');
  assert.equal((await app.exited).code, 0, app.stderr());
  assert.equal(after.locals_status, 'captured', 'pauses are armed again once the budget refilled');
  assert.equal(after.stack_trace[0].local_variables.label.value, 'after-refill');

  const hot = backend.events('exception').filter((e) => e.message === 'hot site');
  assert.equal(hot.length, 20, 'the rate limit lets 20 events of one fingerprint through per minute');
  assert.equal(new Set(hot.map((e) => e.fingerprint)).size, 1);
  const statuses = hot.map((e) => e.locals_status);
  assert.deepEqual(statuses.slice(0, 5), ['captured', 'captured', 'captured', 'captured', 'captured']);
  assert.deepEqual(hot.slice(0, 5).map((e) => e.stack_trace[0].local_variables.iteration.value), ['0', '1', '2', '3', '4']);
  assert.ok(statuses.slice(5).every((s) => s === 'unavailable' || s === 'budget'), statuses.join());
  assert.ok(statuses.includes('budget'), 'the budget ran out within the loop');
  for (const e of hot.slice(5)) assert.deepEqual(e.local_variables, {});
});
