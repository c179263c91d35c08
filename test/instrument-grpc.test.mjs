// @grpc/grpc-js: an error a handler throws (grpc-js answers UNKNOWN and logs nothing) is reported
// with the method and the thrower's locals, and so is one the handler caught before answering
// INTERNAL; statuses a handler chose (NOT_FOUND, FAILED_PRECONDITION) are not. Every call's
// answer and the server's output are the same as without the agent. Each call has its own scope:
// a user a handler or an interceptor sets stays in its call (concurrent unary and bidi calls on
// one connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const { OrdersService } = require('./fixtures/apps/grpc-service.cjs');
const APP = join(ROOT, 'test', 'fixtures', 'apps', 'grpc-server.cjs');
const Client = grpc.makeGenericClientConstructor(OrdersService, 'Orders');
const METHODS = ['Get', 'Find', 'Refund', 'Price', 'Cancel'];

/** Calls each method in turn with { id: 'o-7' }: { method: { code, details } | { response } }. */
async function callAll(port) {
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const out = {};
  try {
    for (const method of METHODS) {
      out[method] = await new Promise((resolve) => {
        client[method]({ id: 'o-7' }, (err, response) => resolve(err ? { code: err.code, details: err.details } : { response }));
      });
    }
  } finally {
    client.close();
  }
  return out;
}

test('grpc-js: handler errors behind server-fault statuses are reported with method and locals; chosen statuses are not; answers unchanged', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'grpc';
  const base = await startListening([APP], { env: cleanEnv(), t });
  const without = await callAll(base.port);
  base.child.kill('SIGTERM');
  const baseClosed = await base.child.closed;
  assert.deepEqual(without.Get, { response: { id: 'o-7' } });
  assert.deepEqual(without.Price, { code: grpc.status.UNKNOWN, details: 'Unknown error' });
  assert.deepEqual(without.Cancel, { code: grpc.status.INTERNAL, details: 'try later' });

  const { child, port } = await startListening(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await callAll(port);
  assert.deepEqual(got, without, 'answers identical to the run without the agent');

  // Cancel is called last: its event arriving means every earlier one has arrived.
  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'ledger locked for o-7 (attempt 2)', 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment);
  assert.deepEqual(events.map((e) => e.message), ['no price for o-7 at rate 0.9', 'ledger locked for o-7 (attempt 2)']);
  const [price, cancel] = events;
  for (const e of events) assert.equal(e.mechanism, 'grpc', e.message);
  assert.deepEqual(price.context.grpc, { status_code: grpc.status.UNKNOWN, method: '/shop.Orders/Price' });
  assert.deepEqual(cancel.context.grpc, { status_code: grpc.status.INTERNAL, method: '/shop.Orders/Cancel' });
  assert.equal(price.stack_trace[0].method_name, 'priceOf');
  assert.equal(price.locals_status, 'captured');
  assert.equal(price.local_variables.rate?.value, '0.9');
  assert.equal(cancel.local_variables.attempt?.value, '2');

  child.kill('SIGTERM');
  assertSameOutput(await child.closed, baseClosed);
});

test('grpc-js: each call has its own scope: the user a handler or an interceptor sets stays in its call, concurrent unary and bidi calls on one connection, none outside', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'grpc-scope';
  const { child, port } = await startListening(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  // 16 unary calls at once (within the 20 events a minute one fingerprint may send), answered in
  // an order other than the one they came in.
  const ids = Array.from({ length: 16 }, (_, i) => `u-${i}`);
  const unary = ids.map((id, i) => new Promise((resolve, reject) => {
    client.Whoami({ id, delay: (i * 7) % 25 }, (err, res) => (err ? reject(err) : resolve(res)));
  }));
  // Two bidi calls whose messages interleave on the same connection.
  const chat = (from, texts) => new Promise((resolve, reject) => {
    const call = client.Chat();
    const got = [];
    call.on('data', (m) => got.push(m.ok));
    call.on('error', reject);
    call.on('end', () => resolve(got));
    let i = 0;
    const next = () => {
      if (i === texts.length) return call.end();
      call.write({ from, text: texts[i++] });
      setTimeout(next, 5);
    };
    next();
  });
  // 8 calls whose user an interceptor sets from their metadata.
  const audits = ids.slice(0, 8).map((id, i) => new Promise((resolve, reject) => {
    const metadata = new grpc.Metadata();
    metadata.set('x-user', `auditor-${id}`);
    client.Audit({ id, delay: (i * 5) % 17 }, metadata, (err, res) => (err ? reject(err) : resolve(res)));
  }));
  const [answers, audited, ann, bob] = await Promise.all([Promise.all(unary), Promise.all(audits), chat('ann', ['a1', 'a2', 'a3']), chat('bob', ['b1', 'b2', 'b3'])]);
  assert.deepEqual(answers.map((a) => a.id), ids);
  assert.deepEqual(audited.map((a) => a.id), ids.slice(0, 8));
  assert.deepEqual([ann, bob], [['a1', 'a2', 'a3'], ['b1', 'b2', 'b3']]);

  const mine = (e) => e.environment === environment;
  for (const id of ids) {
    const e = await backend.waitFor('exception', (x) => mine(x) && x.message === `whoami ${id}`, 15000);
    assert.equal(e.context.user?.id, id, `the user of call ${id}`);
    assert.deepEqual(e.context.grpc, { method: '/shop.Orders/Whoami' });
  }
  for (const id of ids.slice(0, 8)) {
    const e = await backend.waitFor('exception', (x) => mine(x) && x.message === `audit ${id}`, 15000);
    assert.equal(e.context.user?.id, `auditor-${id}`, `the user the interceptor set for call ${id}`);
  }
  for (const [from, texts] of [['ann', ['a1', 'a2', 'a3']], ['bob', ['b1', 'b2', 'b3']]]) {
    for (const text of texts) {
      const e = await backend.waitFor('exception', (x) => mine(x) && x.message === `chat ${from}: ${text}`, 15000);
      assert.equal(e.context.user?.id, from, `${from}'s message ${text}`);
      assert.deepEqual(e.context.grpc, { method: '/shop.Orders/Chat' });
    }
  }
  // No user leaked out of the calls.
  child.kill('SIGUSR2');
  const outside = await backend.waitFor('exception', (x) => mine(x) && x.message === 'outside any call', 15000);
  assert.equal(outside.context.user, undefined);
  assert.equal(outside.context.grpc, undefined);
});
