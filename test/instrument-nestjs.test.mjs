// NestJS 11 (CommonJS) on express and on fastify, and NestJS 12 (ES modules only) on express:
// errors Nest answers itself (its exception filters) are reported with the request, its route and
// the thrower's locals; client errors (HttpException 4xx, a filter answering 422) are not; every
// response is identical to a run without the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { requestUserRoutes } from './fixtures/apps/http-client.mjs';

const FIXTURES = join(ROOT, 'test', 'fixtures');
// The event of the last one proves every earlier one has arrived (one ordered connection).
const ROUTES = ['boom', 'async-boom', 'missing', 'unavailable', 'filtered', 'filtered-500'];
const STATUSES = [500, 500, 404, 503, 422, 500];
const EXPECTED = {
  'nest boom 7 after 14': { route: '/users/:id/boom', status: 500 },
  'nest async-boom order-7': { route: '/users/:id/async-boom', status: 500 },
  'user store down for 7': { route: '/users/:id/unavailable', status: 503 },
  'domain 500 for 7': { route: '/users/:id/filtered-500', status: 500 },
};

/** Node versions whose module.registerHooks can take the agent's load hook (nodejs/node#59929). */
function inThreadHooks() {
  const [major, minor, patch] = process.versions.node.split('.').map(Number);
  if (major === 22) return minor > 22 || (minor === 22 && patch >= 3);
  if (major === 24) return minor > 11 || (minor === 11 && patch >= 1);
  return major >= 25;
}

const CASES = [
  { name: 'NestJS 11 on express', app: join(FIXTURES, 'nestjs', 'app.cjs'), platform: 'express', preload: ['--require', REGISTER_CJS], reported: true },
  { name: 'NestJS 11 on fastify', app: join(FIXTURES, 'nestjs', 'app.cjs'), platform: 'fastify', preload: ['--import', REGISTER_ESM], reported: true },
  { name: 'NestJS 12 (ES modules)', app: join(FIXTURES, 'nestjs12', 'app.mjs'), platform: 'express', preload: ['--import', REGISTER_ESM], reported: inThreadHooks() },
];

for (const c of CASES) {
  const title = c.reported
    ? `${c.name}: errors Nest answers are reported, client errors are not, responses unchanged`
    : `${c.name} on Node ${process.versions.node}: not reported (no in-thread module hooks), responses unchanged`;
  test(title, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `nest-${c.name}`;
    const start = (args, env) => startListening([...args, c.app], { env: { ...env, PLATFORM: c.platform }, t, cwd: join(c.app, '..') });
    const base = await start([], cleanEnv());
    const without = await requestUserRoutes(base.port, ROUTES);
    base.child.kill();

    const env = agentEnv(backend, { AIVORY_ENVIRONMENT: environment, AIVORY_DEBUG: c.reported ? '' : '1' });
    const { child, port } = await start(c.preload, env);
    await backend.waitFor('agent', (a) => a.environment === environment, 15000);
    const got = await requestUserRoutes(port, ROUTES);
    assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');
    assert.deepEqual(ROUTES.map((r) => got[r].status), STATUSES);

    if (!c.reported) {
      // Said in debug mode; without it the app's output is untouched (the cases above).
      await child.waitForOutput(/NestJS 12\.\d+\.\d+ is ES modules only; its handled errors are reported on Node 22\.22\.3\+, 24\.11\.1\+ and 26\+/, 5000, 'stderr');
      return;
    }
    await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'domain 500 for 7', 15000);
    const events = backend.events('exception').filter((e) => e.environment === environment);
    const byMessage = Object.fromEntries(events.map((e) => [e.message, e]));
    assert.deepEqual(Object.keys(byMessage).sort(), Object.keys(EXPECTED).sort());
    assert.equal(events.length, 4);
    for (const [message, { route, status }] of Object.entries(EXPECTED)) {
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
    child.kill();
    const closed = await child.closed;
    assert.equal(closed.stderr, '', "nothing on the app's stderr");
  });
}
