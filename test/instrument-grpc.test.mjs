// @grpc/grpc-js: an error a handler throws (grpc-js answers UNKNOWN and logs nothing) is reported
// with the method and the thrower's locals, and so is one the handler caught before answering
// INTERNAL; statuses a handler chose (NOT_FOUND, FAILED_PRECONDITION) are not. Every call's
// answer and the server's output are the same as without the agent.
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
