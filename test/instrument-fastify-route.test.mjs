// fastify 4 and 5: events raised inside a request with captureException (and so breakpoint hits,
// which read the same request scope) name the route pattern fastify matched, for every kind of
// pattern and under a plugin's prefix, and for routes constrained by version or host; a URL no
// route matches names none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { request } from './fixtures/apps/http-client.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'fastify-routes.cjs');
// [method, URL, route the event must name, request headers]
const CASES = [
  ['GET', '/c/5', '/c/:n'],
  ['GET', '/health', '/health'],
  ['GET', '/api/v1/items/42', '/api/v1/items/:id'],
  ['GET', '/api/v1/items/latest', '/api/v1/items/latest'],
  ['GET', '/api/v1/items/a%20b', '/api/v1/items/:id'],
  ['GET', '/api/v1/files/a/b/c.txt?download=1', '/api/v1/files/*'],
  ['GET', '/api/v1/range/3-9', '/api/v1/range/:from-:to'],
  ['GET', '/api/v1/num/77', '/api/v1/num/:id(^\\d+)'],
  ['GET', '/api/v1/time/10:30', '/api/v1/time/10::30'],
  ['POST', '/api/v1/items/8', '/api/v1/items/:id'],
  // Without its version the same URL is the parameter route's.
  ['GET', '/api/v1/items/newest', '/api/v1/items/newest', { 'accept-version': '2.x' }],
  ['GET', '/api/v1/items/newest?plain=1', '/api/v1/items/:id'],
  ['GET', '/api/v1/orders/17', '/api/v1/orders/:orderId', { 'accept-version': '1.0.0' }],
  ['GET', '/api/v1/tenants/acme', '/api/v1/tenants/:slug', { host: 'api.example.test' }],
];

for (const framework of ['fastify', 'fastify4']) {
  test(`${framework}: captureException inside a request names the route fastify matched`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `route-${framework}`;
    const { port } = await startListening(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment, FASTIFY: framework }), t });
    await backend.waitFor('agent', (a) => a.environment === environment, 15000);
    for (const [method, url, , headers] of CASES) {
      const res = await request(port, url, { method, headers });
      assert.equal(res.status, 200, `${method} ${url}`);
    }
    for (const [method, url, route] of CASES) {
      const e = await backend.waitFor('exception', (ev) => ev.environment === environment && ev.message === `route of ${url}`, 15000);
      assert.equal(e.context.request.method, method, url);
      assert.equal(e.context.request.route, route, `${method} ${url}`);
    }
    // No route matched: fastify answers 404 itself, and nothing is reported.
    assert.equal((await request(port, '/nowhere')).status, 404);
    assert.equal((await request(port, '/api/v1/tenants/acme')).status, 404, 'the host route answers only its host');
  });
}
