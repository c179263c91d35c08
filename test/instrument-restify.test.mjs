// restify 11 and 12 (CommonJS app, ES module app, and an app with handleUncaughtExceptions): every
// error restify answers with a 5xx (an async handler's rejection, next(err) from a handler or a
// `use` handler, a restify-errors 5xx, next(err) twice, next(err) from a callback that lost the
// request's async context, a handler that answered 502 before passing its error on) is reported
// once as `restify`, with the request, restify's route, the status and the thrower's locals;
// restify's 4xx answers (NotFoundError, a GoneError, unknown routes, 405) are not, nor an error the
// app's restifyError listener answers with 200; an error that listener reports with
// captureException is reported once, by the app. A synchronous throw that restify's domain catches
// is reported once, as restify answers it (not as a crash). A breakpoint hit in a restify handler names the route.
// Responses, the app's output and what the app sees of its server are unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { markers } from './helpers/exceptions.mjs';
import { hitOnOkRoute, request, requestUserRoutes } from './fixtures/apps/http-client.mjs';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'restify');
const ROUTES_FILE = join(FIXTURE, 'routes.cjs');
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

const VERSIONS = [
  // restify 11 loads spdy, whose http-deceiver calls process.binding('http_parser'): gone in Node 24.
  { name: 'restify 11', pkg: 'restify', skip: NODE_MAJOR >= 24 && `restify 11 does not load on Node ${NODE_MAJOR} (spdy needs process.binding('http_parser'))` },
  { name: 'restify 12', pkg: 'restify12', skip: NODE_MAJOR < 22 && `restify 12 needs Node 22 or later (this is Node ${NODE_MAJOR})` },
];

/**
 * What each reported error's event says. `frame`: the top frame's function; `local`: a local of
 * the throwing frame and its value; `captured: false`: never thrown (no pause, no locals).
 */
const EXPECTED = {
  'warehouse wh-7 offline': { status: 500, route: '/users/:id/async-fail', frame: 'asyncFail', local: ['warehouse', 'wh-7'] },
  'no price for 7 (discount 0.5)': { status: 500, route: '/users/:id/next-fail', frame: 'priceOf', local: ['discount', '0.5'] },
  'ledger locked for 7': { status: 500, route: '/users/:id/internal', captured: false },
  // restify's own error for a rejection with a value that is not an Error
  'Async middleware rejected without an error': { status: 500, route: '/users/:id/rejected-value', captured: false },
  'quota check failed for 7: 11/10': { status: 500, route: '/users/:id/use-fail', frame: 'audit', local: ['quota'] },
  'import batch-7 failed': { status: 500, route: '/users/:id/twice', frame: 'twice', local: ['batch', 'batch-7'] },
  // reported by the app's restifyError listener, before restify answered
  'queue full for 7 at depth 40': { mechanism: 'manual', route: '/users/:id/reported', frame: 'reported', local: ['depth', '40'] },
  'upstream billing-7 timed out': { status: 502, route: '/users/:id/answered-first', frame: 'answeredFirst', local: ['upstream', 'billing-7'] },
  'receipt-7 not stored': { status: 502, route: '/users/:id/fails-after-answer', frame: 'failsAfterAnswer', local: ['receipt', 'receipt-7'] },
  // next(err) where the request's async context was lost: reported at once, with restify's default answer
  'card for 7 declined (1250)': { status: 500, route: '/users/:id/lost-context', frame: 'charge', local: ['cents', '1250'] },
  'stock service down for 7 after 3': { status: 503, route: '/users/:id/unavailable', frame: 'reserve', local: ['attempts', '3'] },
  // handleUncaughtExceptions: restify's domain catches it (after Node's crash monitor saw it) and answers 500
  'restify sync-fail 7 after 14': { status: 500, route: '/users/:id/sync-fail', frame: 'loadUser', local: ['attempts', '14'] },
};
const ALL_ROUTES = ['ok', 'async-fail', 'next-fail', 'internal', 'rejected-value', 'use-fail', 'twice', 'reported', 'missing', 'gone', 'soft', 'answered-first', 'fails-after-answer', 'lost-context'];

/**
 * GETs each route under /users/7, then an unknown path and a POST to a GET route (restify's 404
 * and 405), then `unavailable`, whose 503 is reported after every earlier answer (one ordered
 * connection to the backend): once its event is in, every event of the run is.
 */
async function exercise(port, routes) {
  const out = await requestUserRoutes(port, routes);
  out.unknown = await request(port, '/nope?token=secret-token');
  out.post = await request(port, '/users/7/ok?token=secret-token', { method: 'POST' });
  Object.assign(out, await requestUserRoutes(port, ['unavailable']));
  return out;
}

/** Node prints deprecation warnings with its process id (restify 11's spdy causes one). */
function withoutPid(closed) {
  return { ...closed, stderr: closed.stderr.replace(/\(node:\d+\)/g, '(node:PID)') };
}

async function scenario(t, { version, app, preload, routes, guarded = false, statuses, expected, breakpoint = false }) {
  const backend = await startBackend({ t });
  const environment = `restify-${version.pkg}-${preload[0]}-${guarded ? 'guarded' : 'plain'}`;
  const appEnv = { RESTIFY_PACKAGE: version.pkg, WITH_API: '1', GUARDED: guarded ? '1' : '0' };

  const base = await startListening([app], { env: cleanEnv(appEnv), t });
  const without = await exercise(base.port, routes);
  base.child.kill('SIGTERM');
  const baseClosed = withoutPid(await base.child.closed);
  assert.deepEqual(Object.fromEntries(Object.entries(without).map(([k, v]) => [k, v.status])), statuses, 'the answers restify gives without the agent');
  assert.match(baseClosed.stdout, /^listeners restifyError=1 /m, "the app's own restifyError listener");

  // The routes throw about ten times within a second: all of them get their pause (locals).
  const env = agentEnv(backend, { AIVORY_ENVIRONMENT: environment, AIVORY_MAX_PAUSES_PER_SECOND: '50', ...appEnv });
  const { child, port } = await startListening([...preload, app], { env, t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await exercise(port, routes);
  assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');

  await backend.waitFor('exception', (e) => e.environment === environment && e.message.startsWith('stock service down'), 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment);
  assert.deepEqual(events.map((e) => e.message).sort(), [...expected].sort(), 'one event per 5xx, none for the 4xx answers and the answer the listener chose');
  for (const e of events) {
    const want = EXPECTED[e.message];
    assert.equal(e.mechanism, want.mechanism ?? 'restify', e.message);
    assert.equal(e.context.request.method, 'GET', e.message);
    assert.equal(e.context.request.route, want.route, e.message);
    assert.match(e.context.request.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/users/7/[a-z-]+\\?token=\\[REDACTED\\]$`), e.message);
    if (want.status !== undefined) assert.equal(e.context.request.status_code, want.status, e.message);
    if (want.captured === false) {
      assert.notEqual(e.locals_status, 'captured', e.message);
      continue;
    }
    assert.equal(e.locals_status, 'captured', e.message);
    assert.equal(e.stack_trace[0].method_name, want.frame, e.message);
    const [name, value] = want.local;
    assert.ok(name in e.local_variables, `${e.message}: ${name} in ${Object.keys(e.local_variables)}`);
    if (value !== undefined) assert.equal(e.local_variables[name].value, value, e.message);
  }
  const sync = events.find((e) => e.message.startsWith('restify sync-fail'));
  if (sync) assert.equal(sync.local_variables.user?.children?.plan?.value, 'pro');

  if (breakpoint) {
    // A breakpoint in a restify handler: its hit carries the request and restify's route.
    const hit = await hitOnOkRoute(backend, port, 'restify/routes.cjs', markers(ROUTES_FILE).ok);
    assert.equal(hit.context.request.route, '/users/:id/ok');
  }

  child.kill('SIGTERM');
  const closed = withoutPid(await child.closed);
  assertSameOutput(closed, baseClosed);
  assert.match(closed.stdout, /^_onHandlerError name=_onHandlerError length=4 prototype=object$/m);
}

const PLAIN_STATUSES = {
  ok: 200, 'async-fail': 500, 'next-fail': 500, internal: 500, 'rejected-value': 500, 'use-fail': 500, twice: 500, reported: 500,
  missing: 404, gone: 410, soft: 200, 'answered-first': 502, 'fails-after-answer': 502, 'lost-context': 500, unknown: 404, post: 405, unavailable: 503,
};

for (const version of VERSIONS) {
  test(`${version.name} (CommonJS): errors behind 5xx answers are reported once as restify with request, route, status and locals; 4xx answers are not; a breakpoint hit names the route; output unchanged`, { timeout: 90_000, skip: version.skip }, async (t) => {
    await scenario(t, {
      version,
      app: join(FIXTURE, 'app.cjs'),
      preload: ['--require', REGISTER_CJS],
      routes: ALL_ROUTES,
      statuses: PLAIN_STATUSES,
      expected: Object.keys(EXPECTED).filter((m) => !m.startsWith('restify sync-fail')),
      breakpoint: true,
    });
  });

  test(`${version.name} (ES module app, --import): restify's own files still load through require and are instrumented`, { timeout: 90_000, skip: version.skip }, async (t) => {
    await scenario(t, {
      version,
      app: join(FIXTURE, 'app.mjs'),
      preload: ['--import', REGISTER_ESM],
      routes: ['ok', 'missing', 'next-fail', 'async-fail'],
      statuses: { ok: 200, missing: 404, 'next-fail': 500, 'async-fail': 500, unknown: 404, post: 405, unavailable: 503 },
      expected: ['no price for 7 (discount 0.5)', 'warehouse wh-7 offline', 'stock service down for 7 after 3'],
    });
  });

  test(`${version.name} with handleUncaughtExceptions: a handler's synchronous throw, caught by restify's domain, is reported once as restify with its 500 (not as a crash); rejections as restify`, { timeout: 90_000, skip: version.skip }, async (t) => {
    await scenario(t, {
      version,
      app: join(FIXTURE, 'app.cjs'),
      preload: ['--require', REGISTER_CJS],
      guarded: true,
      routes: ['ok', 'missing', 'async-fail', 'sync-fail'],
      statuses: { ok: 200, missing: 404, 'async-fail': 500, 'sync-fail': 500, unknown: 404, post: 405, unavailable: 503 },
      expected: ['warehouse wh-7 offline', 'restify sync-fail 7 after 14', 'stock service down for 7 after 3'],
    });
  });

  test(`${version.name} with handleUncaughtExceptions and the app's own 'uncaughtException' listener: its 503 is reported as restify; a listener that throws ends the process (code 7) and the crash is delivered first`, { timeout: 90_000, skip: version.skip }, async (t) => {
    const backend = await startBackend({ t });
    const app = join(FIXTURE, 'app.cjs');
    for (const listener of ['answer', 'throw']) {
      const environment = `restify-${version.pkg}-listener-${listener}`;
      const appEnv = { RESTIFY_PACKAGE: version.pkg, GUARDED: '1', UNCAUGHT_LISTENER: listener };
      const base = await startListening([app], { env: cleanEnv(appEnv), t });
      const without = await requestUserRoutes(base.port, ['sync-fail']);
      if (listener === 'answer') base.child.kill('SIGTERM');
      const baseClosed = withoutPid(await base.child.closed);

      const env = agentEnv(backend, { AIVORY_ENVIRONMENT: environment, ...appEnv });
      const { child, port } = await startListening(['--require', REGISTER_CJS, app], { env, t });
      await backend.waitFor('agent', (a) => a.environment === environment, 15000);
      const got = await requestUserRoutes(port, ['sync-fail']);
      assert.deepEqual(got, without, 'the answer (or the failed request) is the same as without the agent');
      const event = await backend.waitFor('exception', (e) => e.environment === environment, 15000);
      assert.equal(event.message, 'restify sync-fail 7 after 14');
      assert.equal(event.context.request.route, '/users/:id/sync-fail');
      assert.equal(event.local_variables.attempts?.value, '14');
      if (listener === 'answer') {
        assert.equal(got['sync-fail'].status, 503);
        assert.equal(event.mechanism, 'restify');
        assert.equal(event.context.request.status_code, 503);
        child.kill('SIGTERM');
      } else {
        assert.equal(baseClosed.code, 7, `without the agent the listener's error ends the process with code 7\n${baseClosed.stderr}`);
        assert.equal(event.mechanism, 'uncaught');
        assert.equal(event.context.request.status_code, undefined);
      }
      const closed = withoutPid(await child.closed);
      assert.equal(closed.code, baseClosed.code);
      assert.equal(closed.stdout.replace(/listening \d+/, ''), baseClosed.stdout.replace(/listening \d+/, ''));
      // The listener runs inside restify's error method, which the agent wraps: its error's stack has
      // that one frame of the agent's more.
      const agentFrame = /^ {4}at \S*_onHandlerError.* \(\S+\/dist\/main\/start\.js:\d+:\d+\)\n/m;
      assert.equal(closed.stderr.replace(agentFrame, ''), baseClosed.stderr);
      assert.equal(backend.events('exception').filter((e) => e.environment === environment).length, 1, 'one event');
    }
  });
}
