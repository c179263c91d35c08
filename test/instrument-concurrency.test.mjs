// 200 interleaved async requests, each setting its own user and context: every event carries the
// user and request of the request that raised it (AsyncLocalStorage entered per request). And https.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startNode } from './helpers/process.mjs';
import { startBackend, agentEnv } from './helpers/backend.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'concurrency.cjs');
const N = 200;
const ROUTES = { http: undefined, 'http-body': undefined, express5: '/c/:n', fastify5: '/c/:n', koa3: '/c/:n', hapi21: '/c/{n}' };

/** GET, or POST with `body` (http-body reads it with the request's own events). */
function send(port, path, agent, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, method: body === undefined ? 'GET' : 'POST' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const framework of ['http', 'http-body', 'express5', 'fastify5', 'koa3', 'hapi21']) {
  test(`${framework}: ${N} concurrent requests keep their own user and context`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `concurrency-${framework}`;
    const app = startNode(['--require', 'aivory-monitor/register', APP], { env: agentEnv(backend, { FRAMEWORK: framework, AIVORY_ENVIRONMENT: environment }), t });
    const [, port] = await app.waitForOutput(/listening (\d+)/, 20000);
    await backend.waitFor('agent', (a) => a.environment === environment, 15000);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
    t.after(() => agent.destroy());
    const body = (n) => (framework === 'http-body' ? JSON.stringify({ n }) : undefined);
    const statuses = await Promise.all(Array.from({ length: N }, (_, n) => send(Number(port), `/c/${n}`, agent, body(n))));
    assert.deepEqual(new Set(statuses), new Set([500]));

    for (let n = 0; n < N; n++) {
      const e = await backend.waitFor('exception', (ev) => ev.environment === environment && ev.message === `c ${n}`, 20000);
      assert.deepEqual(e.context.user, { id: `user-${n}`, username: `name-${n}` }, `event ${n} user`);
      assert.equal(e.context.n, n, `event ${n} context`);
      assert.match(e.context.request.url, new RegExp(`/c/${n}$`), `event ${n} request`);
      // koa's and hapi's come through captureException: the route of the framework's request object kept for the request
      assert.equal(e.context.request.route, ROUTES[framework], `event ${n} route`);
    }
    assert.equal(backend.events('exception').filter((e) => e.environment === environment).length, N);
  });
}

test('https: the request scope and the https URL (express 5 over TLS)', { timeout: 30_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'https';
  const app = startNode(['--import', 'aivory-monitor/register', join(ROOT, 'test', 'fixtures', 'apps', 'https.mjs')], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
  const [, port] = await app.waitForOutput(/listening (\d+)/, 20000);
  const ca = readFileSync(join(ROOT, 'test', 'fixtures', 'apps', 'tls', 'cert.pem'));
  const statuses = await Promise.all([1, 2].map((n) => new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: Number(port), path: `/secure/${n}`, ca, headers: { 'x-user': String(n) } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  })));
  assert.deepEqual(statuses, [500, 500]);
  for (const n of [1, 2]) {
    const e = await backend.waitFor('exception', (ev) => ev.environment === environment && ev.message === `secure boom ${n}`);
    assert.equal(e.context.request.url, `https://127.0.0.1:${port}/secure/${n}`);
    assert.equal(e.context.request.route, '/secure/:id');
    assert.equal(e.context.request.status_code, 500);
    assert.deepEqual(e.context.user, { id: `tls-${n}` });
  }
});
