// Errors behind 5xx answers nothing reported: a Hono app (a framework the agent has no
// instrumentation for) gets an event for each handler error Hono answers with a 500, and for an
// error its own code caught before answering 503 (the one it threw itself, when Node's URL parser
// threw after it); not for an HTTPException 410, an error caught and answered 200, nor twice for one
// the app reported itself. The same for an express app bundled into
// one file (no express module to hook), and for a koa app whose error middleware swallows errors.
// Responses and output are unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REGISTER_CJS, REGISTER_ESM, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { requestUserRoutes } from './fixtures/apps/http-client.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'hono', 'app.mjs');
const ROUTES = ['ok', 'fail', 'async-fail', 'gone', 'recovered', 'probe-after', 'bad-url', 'reported', 'degraded'];
const STATUSES = [200, 500, 500, 410, 200, 502, 500, 503, 503];
const EXPECTED = {
  'no price for 7 (discount 0.5)': { mechanism: 'http_5xx', status: 500, frame: 'priceOf', local: ['discount', '0.5'] },
  'warehouse wh-7 offline': { mechanism: 'http_5xx', status: 500, local: ['warehouse', 'wh-7'] },
  // what the app threw itself, not the URL parser's error thrown after it
  'no price for 7 (discount 0)': { mechanism: 'http_5xx', status: 502, frame: 'priceOf', local: ['discount', '0'] },
  // only Node's URL parser threw: that is the one
  'Invalid URL': { mechanism: 'http_5xx', status: 500, local: ['target', 'callback-7'] },
  'queue full for 7': { mechanism: 'manual', status: undefined },
  'cache down for 7 after 3': { mechanism: 'http_5xx', status: 503, local: ['attempt', '3'] },
};

test('Hono: errors behind 5xx answers are reported once with request, status and locals; other answers are not; output unchanged', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'hono';
  const env = { WITH_API: '1' };
  const base = await startListening([APP], { env: cleanEnv(env), t });
  const without = await requestUserRoutes(base.port, ROUTES);
  base.child.kill('SIGTERM');
  const baseClosed = await base.child.closed;
  assert.deepEqual(ROUTES.map((r) => without[r].status), STATUSES);
  // Hono logs what it answers with a 500 itself.
  assert.match(baseClosed.stderr, /Error: no price for 7/);

  const { child: app, port } = await startListening(['--import', REGISTER_ESM, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment, ...env }), t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await requestUserRoutes(port, ROUTES);
  assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');

  // The last route's event is reported after its answer went out: every earlier one is in by then.
  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'cache down for 7 after 3', 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment);
  assert.deepEqual(events.map((e) => e.message).sort(), Object.keys(EXPECTED).sort(), 'one event per 5xx, none for the other answers');
  for (const e of events) {
    const expected = EXPECTED[e.message];
    assert.equal(e.mechanism, expected.mechanism, e.message);
    assert.equal(e.context.request.method, 'GET', e.message);
    assert.equal(e.context.request.status_code, expected.status, e.message);
    assert.match(e.context.request.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/users/7/[a-z-]+\\?token=\\[REDACTED\\]$`), e.message);
    assert.equal(e.locals_status, 'captured', e.message);
    if (expected.frame) assert.equal(e.stack_trace[0].method_name, expected.frame, e.message);
    if (expected.local) assert.equal(e.local_variables[expected.local[0]]?.value, expected.local[1], e.message);
  }

  app.kill('SIGTERM');
  assertSameOutput(await app.closed, baseClosed);
});

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
