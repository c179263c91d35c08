// GraphQL: what resolvers throw is reported with the field's path, the request and the thrower's
// locals, although graphql answers 200 with an `errors` entry (a thrown string as graphql wraps it); a GraphQLError thrown on purpose and
// an error with a 4xx status are not; responses and the app's output are unchanged.
// graphql 16 (CommonJS, wrapped through the require hook) and graphql 17 (its tracing channel;
// ES modules on Node 22.12+, CommonJS on Node 20).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { request } from './fixtures/apps/http-client.mjs';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'graphql');
const QUERY = JSON.stringify({ query: 'query OrderPage { order(id: "order-7") { id total stock } forbidden missing quota hello }', operationName: 'OrderPage' });

const post = (port) => request(port, '/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: QUERY });

const CASES = [
  { name: 'graphql 16, CommonJS app, --require', app: 'app.cjs', module: 'graphql', preload: ['--require', REGISTER_CJS], operation: undefined },
  { name: 'graphql 17, ES module app, --import', app: 'app.mjs', module: 'graphql17', preload: ['--import', REGISTER_ESM], operation: 'OrderPage' },
];

for (const c of CASES) {
  test(`${c.name}: resolver faults are reported with path, request and locals; deliberate errors are not; output unchanged`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `graphql-${c.module}`;
    const args = [join(FIXTURES, c.app), c.module];
    const base = await startListening(args, { env: cleanEnv(), t });
    const without = await post(base.port);
    base.child.kill();
    const baseClosed = await base.child.closed;
    assert.equal(without.status, 200);
    assert.deepEqual(JSON.parse(without.body).errors.map((e) => e.path.join('.')), ['order.total', 'forbidden', 'missing', 'quota', 'order.stock']);

    const { child: app, port } = await startListening([...c.preload, ...args], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
    await backend.waitFor('agent', (a) => a.environment === environment, 15000);
    const got = await post(port);
    assert.deepEqual(got, without, 'HTTP response identical to the run without the agent');

    // The async fault is the last error of the operation: once its event is in, any other would be too.
    await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'stock service down for wh-order-7', 15000);
    const events = backend.events('exception').filter((e) => e.environment === environment);
    assert.deepEqual(events.map((e) => e.message).sort(), ['Unexpected error value: "quota exceeded"', 'pricing failed for order-7 with 2 lines', 'stock service down for wh-order-7']);
    for (const e of events) {
      assert.equal(e.mechanism, 'graphql');
      assert.equal(e.context.request.method, 'POST');
      assert.equal(e.context.request.url, `http://127.0.0.1:${port}/graphql`);
      assert.equal(e.context.graphql.operation, c.operation);
    }
    // A thrown string is reported as graphql wraps it, by both versions alike (no locals: not an object).
    const quota = events.find((e) => e.message.includes('quota'));
    assert.equal(quota.exception_type, 'NonErrorThrown');
    assert.equal(quota.context.graphql.path, 'quota');
    const pricing = events.find((e) => e.message.startsWith('pricing'));
    assert.equal(pricing.context.graphql.path, 'order.total');
    assert.equal(pricing.locals_status, 'captured');
    assert.equal(pricing.stack_trace[0].method_name, 'priceOf');
    assert.equal(pricing.local_variables.discount?.value, '0.15');
    assert.equal(pricing.local_variables.lines?.value, '2');
    const stock = events.find((e) => e.message.startsWith('stock'));
    assert.equal(stock.context.graphql.path, 'order.stock');
    assert.equal(stock.locals_status, 'captured');
    assert.equal(stock.local_variables.warehouse?.value, 'wh-order-7');

    app.kill();
    const closed = await app.closed;
    assertSameOutput(closed, baseClosed);
  });
}
