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

const post = (port, body = QUERY) => request(port, '/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
// Several operations in one document: the fault's field is reached through a fragment only the
// executed operation spreads; a fragment two operations spread leaves graphql 16 unable to tell
// (graphql 17 says which one ran).
const MULTI = JSON.stringify({
  query: 'query Greeting { hello } query OrderLines { ...Lines } query Quota { ...Limits } query Usage { ...Limits } fragment Lines on Query { order(id: "order-8") { total } } fragment Limits on Query { quota }',
  operationName: 'OrderLines',
});
const SHARED = JSON.stringify({ query: JSON.parse(MULTI).query, operationName: 'Usage' });

const CASES = [
  { name: 'graphql 16, CommonJS app, --require', app: 'app.cjs', module: 'graphql', preload: ['--require', REGISTER_CJS], operation: 'OrderPage', shared: undefined },
  // GraphQL Yoga's way: graphql parses and validates, @graphql-tools/executor executes (and calls graphql's locatedError).
  { name: 'graphql 16 with @graphql-tools/executor, CommonJS app, --require', app: 'app.cjs', module: 'graphql', executor: 'tools', preload: ['--require', REGISTER_CJS], operation: 'OrderPage', shared: undefined,
    // @graphql-tools/executor makes an Error of a thrown string before graphql's locatedError sees it.
    quota: { message: 'quota exceeded', type: 'Error' } },
  { name: 'graphql 17, ES module app, --import', app: 'app.mjs', module: 'graphql17', preload: ['--import', REGISTER_ESM], operation: 'OrderPage', shared: 'Usage' },
];

for (const c of CASES) {
  test(`${c.name}: resolver faults are reported with path, request and locals; deliberate errors are not; output unchanged`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `graphql-${c.module}-${c.executor ?? 'own'}`;
    const args = [join(FIXTURES, c.app), c.module, ...(c.executor ? [c.executor] : [])];
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
    const QUOTA = c.quota ?? { message: 'Unexpected error value: "quota exceeded"', type: 'NonErrorThrown' };
    assert.deepEqual(events.map((e) => e.message).sort(), [QUOTA.message, 'pricing failed for order-7 with 2 lines', 'stock service down for wh-order-7'].sort());
    for (const e of events) {
      assert.equal(e.mechanism, 'graphql');
      assert.equal(e.context.request.method, 'POST');
      assert.equal(e.context.request.url, `http://127.0.0.1:${port}/graphql`);
      assert.equal(e.context.graphql.operation, c.operation);
    }
    // A thrown string is reported as graphql wraps it, by both versions alike (no locals: not an object).
    const quota = events.find((e) => e.message.includes('quota'));
    assert.equal(quota.exception_type, QUOTA.type);
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

    assert.equal((await post(port, MULTI)).status, 200);
    const lines = await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'pricing failed for order-8 with 2 lines', 15000);
    assert.equal(lines.context.graphql.path, 'order.total');
    assert.equal(lines.context.graphql.operation, 'OrderLines');
    const before = backend.events('exception').length;
    assert.equal((await post(port, SHARED)).status, 200);
    const quotaAgain = await backend.waitFor('exception', (e) => e.environment === environment && e.message.includes('quota') && backend.events('exception').indexOf(e) >= before, 15000);
    assert.equal(quotaAgain.context.graphql.operation, c.shared);

    app.kill();
    const closed = await app.closed;
    assertSameOutput(closed, baseClosed);
  });
}
