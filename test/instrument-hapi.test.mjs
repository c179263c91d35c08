// hapi 21: errors hapi answers with a 500 are reported with the request, its route and the
// thrower's locals; deliberate Boom answers (404, 503) are not; responses and the app's output are
// identical to a run without the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, cleanEnv, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { request } from './fixtures/apps/http-client.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'hapi', 'app.cjs');
// The last 500 comes last: its event arriving means every earlier one has arrived (one ordered connection).
const ROUTES = ['missing', 'unavailable', 'boom', 'async-boom'];

async function run(t, args, env) {
  const app = startNode([...args, APP], { env, t });
  const [, port] = await app.waitForOutput(/listening (\d+)/, 20000);
  return { app, port: Number(port) };
}

async function responses(port) {
  const out = {};
  for (const route of ROUTES) out[route] = await request(port, `/users/7/${route}?token=secret-token`);
  return out;
}

test('hapi: 500s are reported with request, route and locals; Boom answers are not; output unchanged', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'hapi';
  const base = await run(t, [], cleanEnv());
  const without = await responses(base.port);
  base.app.kill();
  const baseClosed = await base.app.closed;

  const { app, port } = await run(t, ['--require', REGISTER_CJS], agentEnv(backend, { AIVORY_ENVIRONMENT: environment }));
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await responses(port);
  assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');
  assert.deepEqual(ROUTES.map((r) => got[r].status), [404, 503, 500, 500]);

  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'hapi async-boom order-7', 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment);
  assert.deepEqual(events.map((e) => e.message).sort(), ['hapi async-boom order-7', 'hapi boom 7 after 14']);
  for (const e of events) {
    assert.equal(e.mechanism, 'hapi');
    assert.equal(e.context.request.method, 'GET');
    assert.equal(e.context.request.status_code, 500);
    assert.match(e.context.request.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/users/7/[a-z-]+\\?token=\\[REDACTED\\]$`));
  }
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
  assert.equal(closed.stderr, baseClosed.stderr, "the app's stderr is the same as without the agent");
  assert.equal(closed.stdout.replace(/listening \d+/, ''), baseClosed.stdout.replace(/listening \d+/, ''));
});
