// Errors behind 5xx answers nothing reported: an express app bundled into one file (no express
// module to hook) gets an event for its handled 5xx errors, and a koa app whose error middleware
// swallows errors for those it answers 5xx. Responses and output are unchanged. (Hono:
// instrument-hono.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REGISTER_CJS, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { requestUserRoutes } from './fixtures/apps/http-client.mjs';

test('express bundled into one file: its handled 5xx errors are reported with route and locals; output unchanged', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aivory-bundle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'app.js');
  await build({ entryPoints: [join(ROOT, 'test', 'fixtures', 'bundled', 'app.cjs')], bundle: true, platform: 'node', outfile: bundle, logLevel: 'silent' });
  const bundled = await readFile(bundle, 'utf8');
  assert.doesNotMatch(bundled, /require\("express"\)/, 'express is inside the bundle');

  const backend = await startBackend({ t });
  const environment = 'bundled-express';
  const routes = ['missing', 'boom'];
  const base = await startListening([bundle], { env: cleanEnv(), t, cwd: dir });
  const without = await requestUserRoutes(base.port, routes);
  base.child.kill('SIGTERM');
  const baseClosed = await base.child.closed;
  assert.deepEqual(routes.map((r) => without[r].status), [404, 500]);

  const { child: app, port } = await startListening(['--require', REGISTER_CJS, bundle], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t, cwd: dir });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await requestUserRoutes(port, routes);
  assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');
  const event = await backend.waitFor('exception', (e) => e.environment === environment, 15000);
  assert.equal(event.message, 'bundled boom for 7 with 3');
  assert.equal(event.mechanism, 'http_5xx');
  assert.equal(event.context.request.route, '/users/:id/boom');
  assert.equal(event.context.request.status_code, 500);
  assert.equal(event.locals_status, 'captured');
  assert.equal(event.stack_trace[0].method_name, 'loadUser');
  assert.equal(event.local_variables.cart?.children?.items?.value, '3');

  app.kill('SIGTERM');
  assertSameOutput(await app.closed, baseClosed);
  // The 404 came first and its error reached express too: had it been reported, it would be first.
  assert.deepEqual(backend.events('exception').filter((e) => e.environment === environment).map((e) => e.message), ['bundled boom for 7 with 3']);
});

test("koa: an error the app's own middleware swallows is reported when it answers 5xx, not when it answers 200", { timeout: 60_000 }, async (t) => {
  const app = join(ROOT, 'test', 'fixtures', 'apps', 'koa-swallow.cjs');
  const backend = await startBackend({ t });
  const environment = 'koa-swallow';
  const routes = ['fallback', 'busy'];
  const base = await startListening([app], { env: cleanEnv(), t });
  const without = await requestUserRoutes(base.port, routes);
  base.child.kill('SIGTERM');
  const baseClosed = await base.child.closed;
  assert.deepEqual(routes.map((r) => without[r].status), [200, 503]);

  const { child, port } = await startListening(['--require', REGISTER_CJS, app], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await requestUserRoutes(port, routes);
  assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');
  const event = await backend.waitFor('exception', (e) => e.environment === environment, 15000);
  assert.equal(event.message, 'no slot for 7 (0 free)');
  assert.equal(event.mechanism, 'http_5xx');
  assert.equal(event.context.request.status_code, 503);
  assert.match(event.context.request.url, /\/users\/7\/busy\?token=\[REDACTED\]$/);
  assert.equal(event.local_variables.slots?.children?.free?.value, '0');
  child.kill('SIGTERM');
  assertSameOutput(await child.closed, baseClosed);
  // The fallback's error was thrown first: had it been reported, its event would have come first.
  assert.equal(backend.events('exception').filter((e) => e.environment === environment).length, 1);
});
