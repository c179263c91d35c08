// NestJS 11 on express and on fastify: errors Nest answers itself (its exception filters) are
// reported with the request, its route and the thrower's locals; client errors (HttpException
// 4xx, a filter answering 422) are not; every response is identical to a run without the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, cleanEnv, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { request } from './fixtures/apps/http-client.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'nestjs', 'app.cjs');
// The event of the last one proves every earlier one has arrived (one ordered connection).
const ROUTES = ['boom', 'async-boom', 'missing', 'unavailable', 'filtered', 'filtered-500'];

async function exercise(t, platform, args, env) {
  const app = startNode([...args, APP], { env: { ...env, PLATFORM: platform }, t });
  const [, port] = await app.waitForOutput(/listening (\d+)/, 20000);
  return { app, port: Number(port) };
}

async function responses(port) {
  const out = {};
  for (const route of ROUTES) out[route] = await request(port, `/users/7/${route}?token=secret-token`);
  return out;
}

for (const [platform, preload] of [['express', ['--require', REGISTER_CJS]], ['fastify', ['--import', REGISTER_ESM]]]) {
  test(`NestJS on ${platform}: errors Nest answers are reported, client errors are not, responses unchanged`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `nest-${platform}`;
    const base = await exercise(t, platform, [], cleanEnv());
    const without = await responses(base.port);
    base.app.kill();

    const { app, port } = await exercise(t, platform, preload, agentEnv(backend, { AIVORY_ENVIRONMENT: environment }));
    await backend.waitFor('agent', (a) => a.environment === environment, 15000);
    const got = await responses(port);
    assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');
    assert.deepEqual(ROUTES.map((r) => got[r].status), [500, 500, 404, 503, 422, 500]);

    await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'domain 500 for 7', 15000);
    const events = backend.events('exception').filter((e) => e.environment === environment);
    const byMessage = Object.fromEntries(events.map((e) => [e.message, e]));
    assert.deepEqual(Object.keys(byMessage).sort(), ['domain 500 for 7', 'nest async-boom order-7', 'nest boom 7 after 14', 'user store down for 7'].sort());
    assert.equal(events.length, 4);

    const expected = {
      'nest boom 7 after 14': { route: '/users/:id/boom', status: 500 },
      'nest async-boom order-7': { route: '/users/:id/async-boom', status: 500 },
      'user store down for 7': { route: '/users/:id/unavailable', status: 503 },
      'domain 500 for 7': { route: '/users/:id/filtered-500', status: 500 },
    };
    for (const [message, { route, status }] of Object.entries(expected)) {
      const r = byMessage[message].context.request;
      assert.equal(byMessage[message].mechanism, 'nestjs', message);
      assert.equal(r.method, 'GET', message);
      assert.equal(r.route, route, message);
      assert.equal(r.status_code, status, message);
      assert.match(r.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/users/7/[a-z0-9-]+\\?token=\\[REDACTED\\]$`), message);
    }
    const boom = byMessage['nest boom 7 after 14'];
    assert.equal(boom.locals_status, 'captured');
    assert.equal(boom.stack_trace[0].method_name, 'loadUser');
    assert.equal(boom.local_variables.attempts?.value, '14');
    assert.equal(boom.local_variables.user?.children?.plan?.value, 'pro');
    assert.equal(byMessage['nest async-boom order-7'].local_variables.orderId?.value, 'order-7');
    app.kill();
    const closed = await app.closed;
    assert.equal(closed.stderr, '', 'nothing on the app\'s stderr');
  });
}
