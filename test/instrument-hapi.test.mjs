// hapi 21: errors hapi answers with a 500 are reported with the request, its route and the
// thrower's locals; a Boom 404 is not; a Boom 503, which hapi does not announce, is reported when
// its answer goes out (http_5xx); responses and the app's output are identical to a run without
// the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { requestUserRoutes } from './fixtures/apps/http-client.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'hapi', 'app.cjs');
// The last 500 comes last: its event arriving means every earlier one has arrived (one ordered connection).
const ROUTES = ['missing', 'unavailable', 'boom', 'async-boom'];

test('hapi: 500s and other 5xx answers are reported with request, route and locals; a Boom 404 is not; output unchanged', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'hapi';
  const base = await startListening([APP], { env: cleanEnv(), t });
  const without = await requestUserRoutes(base.port, ROUTES);
  base.child.kill();
  const baseClosed = await base.child.closed;

  const { child: app, port } = await startListening(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await requestUserRoutes(port, ROUTES);
  assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');
  assert.deepEqual(ROUTES.map((r) => got[r].status), [404, 503, 500, 500]);

  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'hapi async-boom order-7', 15000);
  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'user store down for 7', 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment);
  assert.deepEqual(events.map((e) => e.message).sort(), ['hapi async-boom order-7', 'hapi boom 7 after 14', 'user store down for 7']);
  for (const e of events) {
    const unavailable = e.message === 'user store down for 7';
    assert.equal(e.mechanism, unavailable ? 'http_5xx' : 'hapi');
    assert.equal(e.context.request.method, 'GET');
    assert.equal(e.context.request.status_code, unavailable ? 503 : 500);
    assert.match(e.context.request.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/users/7/[a-z-]+\\?token=\\[REDACTED\\]$`));
  }
  const unavailable = events.find((e) => e.message === 'user store down for 7');
  assert.equal(unavailable.context.request.route, '/users/{id}/unavailable');
  assert.equal(unavailable.locals_status, 'captured');
  const boom = events.find((e) => e.message.startsWith('hapi boom'));
  assert.equal(boom.context.request.route, '/users/{id}/boom');
  assert.equal(boom.locals_status, 'captured');
  assert.equal(boom.stack_trace[0].method_name, 'loadUser');
  assert.equal(boom.local_variables.attempts?.value, '14');
  assert.equal(boom.local_variables.user?.children?.plan?.value, 'pro');
  const asyncBoom = events.find((e) => e.message.startsWith('hapi async-boom'));
  assert.equal(asyncBoom.context.request.route, '/users/{id}/async-boom');
  assert.equal(asyncBoom.locals_status, 'captured');
  assert.equal(asyncBoom.local_variables.orderId?.value, 'order-7');

  app.kill();
  const closed = await app.closed;
  assertSameOutput(closed, baseClosed);
});
