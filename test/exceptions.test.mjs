// Exceptions with locals, end to end: real apps with the real preload, the real dev backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, REGISTER_ESM, runNode, startNode } from './helpers/process.mjs';
import { EXC_FIXTURES, frameNamed, markers, values } from './helpers/exceptions.mjs';

const fixture = (name) => join(EXC_FIXTURES, name);

test('the seed cases arrive with type, message, frames, lines, locals and context', async (t) => {
  const backend = await startBackend({ t });
  const file = fixture('seed-cases.cjs');
  const lines = markers(file);
  const app = startNode(['--require', REGISTER_CJS, file], { env: agentEnv(backend), t });

  const valueError = await backend.waitFor('exception', (e) => e.context?.case === 'value_error');
  assert.equal(valueError.exception_type, 'ValueError');
  assert.equal(valueError.message, 'age must be at least 18, got 12');
  assert.equal(valueError.locals_status, 'captured');
  assert.equal(valueError.mechanism, 'manual');
  assert.match(valueError.fingerprint, /^[0-9a-f]{16}$/);
  const validate = valueError.stack_trace[0];
  assert.equal(validate.method_name, 'validateAge');
  assert.equal(validate.file_path, file);
  assert.equal(validate.line_number, lines.value);
  assert.equal(validate.in_app, true);
  assert.deepEqual(values(validate.local_variables), { age: '12', minimum: '18' });
  assert.equal(validate.local_variables.age.type, 'number');
  // Top-level locals are the innermost in-app frame's (what the other AIVory agents send).
  assert.deepEqual(values(valueError.local_variables), { age: '12', minimum: '18' });
  // The caller is in the stack; its catch variable did not exist yet at the throw.
  const mainFrame = frameNamed(valueError, 'main');
  assert.equal(mainFrame.in_app, true);
  assert.equal(mainFrame.local_variables?.err, undefined);

  const nullProp = await backend.waitFor('exception', (e) => e.context?.case === 'null_property');
  assert.equal(nullProp.exception_type, 'TypeError');
  assert.match(nullProp.message, /Cannot read properties of null \(reading 'name'\)/);
  const read = nullProp.stack_trace[0];
  assert.equal(read.method_name, 'readProfileName');
  assert.equal(read.line_number, lines.null);
  assert.equal(read.local_variables.fallback.value, 'anonymous');
  assert.equal(read.local_variables.user.type, 'Object');
  assert.equal(read.local_variables.user.children.id.value, '7');
  assert.equal(read.local_variables.user.children.profile.is_null, true);
  assert.equal(read.local_variables.user.children.profile.type, 'null');

  const division = await backend.waitFor('exception', (e) => e.context?.case === 'division');
  assert.equal(division.exception_type, 'RangeError');
  assert.equal(division.context.tenant, 'acme');
  assert.equal(division.context.feature, 'scores');
  const avg = division.stack_trace[0];
  assert.equal(avg.method_name, 'averageScore');
  assert.equal(avg.line_number, lines.division);
  assert.deepEqual(values(avg.local_variables), { scores: 'Array(3)', count: '0', total: '240' });
  assert.deepEqual(avg.local_variables.scores.array_elements.map((v) => v.value), ['90', '80', '70']);
  assert.equal(avg.local_variables.scores.array_length, 3);

  const wrapped = await backend.waitFor('exception', (e) => e.context?.case === 'cause');
  assert.equal(wrapped.message, 'signup failed');
  assert.equal(wrapped.cause_chain.length, 1);
  assert.equal(wrapped.cause_chain[0].exception_type, 'ValueError');
  assert.equal(wrapped.cause_chain[0].message, 'age must be at least 18, got 3');
  assert.equal(wrapped.cause_chain[0].stack_trace[0].method_name, 'validateAge');
  assert.equal(wrapped.cause_chain[0].stack_trace[0].line_number, lines.value);
  // The wrapper's own throw site, with the caught cause among its locals.
  assert.equal(wrapped.stack_trace[0].method_name, 'main');
  assert.equal(wrapped.stack_trace[0].local_variables.inner.type, 'ValueError');

  // An AggregateError: its errors' messages when it has none, and the errors themselves.
  const aggregate = await backend.waitFor('exception', (e) => e.context?.case === 'aggregate');
  assert.equal(aggregate.exception_type, 'AggregateError');
  assert.equal(aggregate.message, 'connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  assert.deepEqual(aggregate.cause_chain.map((c) => [c.exception_type, c.message, c.aggregated]), [
    ['Error', 'connect ECONNREFUSED ::1:5432', true],
    ['Error', 'connect ECONNREFUSED 127.0.0.1:5432', true],
  ]);
  assert.equal(aggregate.cause_chain[0].stack_trace[0].method_name, 'refused');

  // Different throw sites, different fingerprints.
  assert.equal(new Set([valueError.fingerprint, nullProp.fingerprint, division.fingerprint]).size, 3);
  const { code } = await app.exited;
  assert.equal(code, 0, app.stderr());
  assert.equal(app.stderr(), '');
});

test('an uncaught crash (CommonJS) arrives with the locals of every app frame; the process dies as without the agent', async (t) => {
  const backend = await startBackend({ t });
  const file = fixture('uncaught.cjs');
  const lines = markers(file);
  const plain = await runNode([file]);
  const withAgent = await runNode(['--require', REGISTER_CJS, file], { env: agentEnv(backend) });
  assert.equal(withAgent.code, 1);
  assert.equal(withAgent.code, plain.code);
  assert.equal(withAgent.stderr, plain.stderr);

  const ev = await backend.waitFor('exception', (e) => e.message === 'crash at level2 (deep-3)');
  assert.equal(ev.mechanism, 'uncaught');
  assert.equal(ev.locals_status, 'captured');
  const l3 = frameNamed(ev, 'level3');
  const l2 = frameNamed(ev, 'level2');
  const l1 = frameNamed(ev, 'level1');
  assert.deepEqual([l3.line_number, l2.line_number, l1.line_number], [lines.throw, lines.level2, lines.level1]);
  assert.deepEqual(values(l3.local_variables), { depth: '3', label: 'level2', marker: 'deep-3' });
  assert.deepEqual(values(l2.local_variables), { items: 'Array(3)', count: '3' });
  assert.deepEqual(values(l1.local_variables), { items: 'Array(3)' });
  assert.equal(l3.local_variables.label.type, 'string');
  // No module wrapper noise, no globals.
  for (const f of [l3, l2, l1]) for (const name of ['require', 'module', 'exports', '__filename', '__dirname', 'agentReady', 'level1']) {
    assert.equal(f.local_variables[name], undefined, `${name} in ${f.method_name}`);
  }
});

test('an uncaught crash from an ES module arrives with locals', async (t) => {
  const backend = await startBackend({ t });
  const file = fixture('uncaught.mjs');
  const lines = markers(file);
  const plain = await runNode([file]);
  const withAgent = await runNode(['--import', REGISTER_ESM, file], { env: agentEnv(backend) });
  assert.equal(withAgent.code, plain.code);
  assert.equal(withAgent.stderr, plain.stderr);
  const ev = await backend.waitFor('exception', (e) => e.message === 'order 314 is corrupt');
  assert.equal(ev.exception_type, 'TypeError');
  const explode = frameNamed(ev, 'explode');
  assert.equal(explode.file_path, file);
  assert.equal(explode.line_number, lines.throw);
  assert.deepEqual(values(explode.local_variables), { orderId: '314', reason: 'order 314 is corrupt' });
  const proc = frameNamed(ev, 'process');
  assert.equal(proc.line_number, lines.process);
  assert.deepEqual(values(proc.local_variables), { orderId: '314', attempt: '1' });
});

test('locals are the values at the throw, not what they became afterwards', async (t) => {
  const backend = await startBackend({ t });
  const file = fixture('mutated.cjs');
  const app = startNode(['--require', REGISTER_CJS, file], { env: agentEnv(backend), t });
  const ev = await backend.waitFor('exception', (e) => e.message === 'mutation test');
  const work = frameNamed(ev, 'work');
  assert.equal(work.line_number, markers(file).throw);
  assert.equal(work.local_variables.step.value, 'throwing');
  assert.equal(work.local_variables.state.children.count.value, '1');
  const main = frameNamed(ev, 'main');
  assert.equal(main.local_variables.state.children.count.value, '1');
  assert.equal((await app.exited).code, 0);
});

test('async functions, promise chains and rejections in executors (ES module)', async (t) => {
  const backend = await startBackend({ t });
  const file = fixture('async-chains.mjs');
  const lines = markers(file);
  const app = startNode(['--import', REGISTER_ESM, file], { env: agentEnv(backend), t });

  const asyncEv = await backend.waitFor('exception', (e) => e.context?.case === 'async');
  const fetchUser = frameNamed(asyncEv, 'fetchUser');
  assert.equal(fetchUser.line_number, lines.async);
  assert.deepEqual(values(fetchUser.local_variables), { id: '42', url: '/users/42' });
  assert.ok(asyncEv.stack_trace.some((f) => f.method_name === 'loadProfile'), 'async caller frame is in the stack');

  const chain = await backend.waitFor('exception', (e) => e.context?.case === 'chain');
  assert.equal(chain.exception_type, 'TypeError');
  const top = chain.stack_trace[0];
  assert.equal(top.line_number, lines.chain);
  assert.equal(top.local_variables.total.value, '120');
  assert.equal(top.local_variables.order.children.orderId.value, '9');

  const executor = await backend.waitFor('exception', (e) => e.context?.case === 'executor');
  const ex = executor.stack_trace[0];
  assert.equal(ex.line_number, lines.executor);
  // A closure variable the function uses.
  assert.equal(ex.local_variables.budget.value, '3');
  assert.equal((await app.exited).code, 0, app.stderr());
});
