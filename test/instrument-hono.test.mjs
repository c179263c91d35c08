// Hono 4 on @hono/node-server, ES module and CommonJS builds, also in a TypeScript app run by tsx.
// Where Node runs module hooks on the app's thread (22.22.3+, 24.11.1+, 26), each error Hono
// answers with a 5xx is reported as `hono` with the request, Hono's route, the status and the
// thrower's locals, whether Hono's default or the app's onError answered, with or without
// middleware; not for an HTTPException 410, an error an onError answers with 200, nor twice for one
// the app reported itself. Errors the handler catches and answers 5xx itself are reported through
// the pause where they were thrown (`http_5xx`). Without exception locals (no pause at all) Hono's
// errors are still reported. On older Node, Hono's errors are reported only through the pauses
// (`http_5xx`, no route). A breakpoint hit in a Hono route names the route. Responses and output
// are unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REGISTER_CJS, REGISTER_ESM, ROOT, assertSameOutput, cleanEnv, startListening, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { markers } from './helpers/exceptions.mjs';
import { inThreadHooks } from './helpers/node-features.mjs';
import { hitOnOkRoute, requestUserRoutes } from './fixtures/apps/http-client.mjs';

const require = createRequire(import.meta.url);
const { honoInstrumentation, honoRouteOf } = require('../dist/main/instrument/hono.js');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'hono');
const ROUTES_FILE = join(FIXTURE, 'routes.cjs');
const HOOKED = inThreadHooks();
// `degraded` last: its event is sent after its answer, through the pause, so every earlier one is in by then.
const ROUTES = ['ok', 'fail', 'async-fail', 'gone', 'unavailable', 'checked-fail', 'recovered', 'probe-after', 'bad-url', 'reported', 'invoice', 'soft', 'degraded'];
const STATUSES = [200, 500, 500, 410, 503, 500, 200, 502, 500, 503, 502, 200, 503];
/** What each reported error's event says; `answered`: Hono's error path answered it (else the handler did). */
const EXPECTED = {
  'no price for 7 (discount 0.5)': { answered: true, status: 500, route: '/users/:id/fail', frame: 'priceOf', local: ['discount', '0.5'] },
  'warehouse wh-7 offline': { answered: true, status: 500, route: '/users/:id/async-fail', local: ['warehouse', 'wh-7'] },
  'maintenance for 7': { answered: true, status: 503, route: '/users/:id/unavailable' },
  'over limit 3 for 7': { answered: true, status: 500, route: '/users/:id/checked-fail', local: ['limit', '3'] },
  // what the app threw itself, not the URL parser's error thrown after it
  'no price for 7 (discount 0)': { answered: false, status: 502, route: '/users/:id/probe-after', frame: 'priceOf', local: ['discount', '0'] },
  // only Node's URL parser threw: Hono answered it
  'Invalid URL': { answered: true, status: 500, route: '/users/:id/bad-url', local: ['target', 'callback-7'] },
  'queue full for 7': { mechanism: 'manual', route: '/users/:id/reported' },
  'invoice inv-7 locked': { answered: true, status: 502, route: '/users/:id/invoice', local: ['invoice', undefined] },
  'cache down for 7 after 3': { answered: false, status: 503, route: '/users/:id/degraded', local: ['attempt', '3'] },
};

function mechanismOf(expected, instrumented) {
  if (expected.mechanism) return expected.mechanism;
  return expected.answered && instrumented ? 'hono' : 'http_5xx';
}

async function withoutAgent(t, c) {
  const base = await startListening([...(c.loader ?? []), c.app], { env: cleanEnv({ WITH_API: '1' }), t, cwd: FIXTURE });
  const responses = await requestUserRoutes(base.port, ROUTES);
  base.child.kill('SIGTERM');
  const closed = await base.child.closed;
  assert.deepEqual(ROUTES.map((r) => responses[r].status), STATUSES);
  // Hono logs what its default handler answers with a 500.
  assert.match(closed.stderr, /Error: no price for 7/);
  return { responses, closed };
}

const CASES = [
  { name: 'ES modules', app: join(FIXTURE, 'app.mjs'), preload: ['--import', REGISTER_ESM], instrumented: HOOKED },
  { name: 'CommonJS', app: join(FIXTURE, 'app.cjs'), preload: ['--require', REGISTER_CJS], instrumented: HOOKED },
  { name: 'TypeScript by tsx', app: join(FIXTURE, 'app.mts'), loader: ['--import', 'tsx'], preload: ['--import', REGISTER_ESM], instrumented: HOOKED },
];

for (const c of CASES) {
  test(`Hono (${c.name}): errors behind 5xx answers are reported once with request, ${c.instrumented ? "Hono's mechanism and route, " : ''}status and locals; other answers are not; a breakpoint hit ${c.instrumented ? 'names the route' : 'has the request'}; output unchanged`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `hono-${c.name}`;
    const base = await withoutAgent(t, c);

    // The routes throw 14 times within a second or so: all of them get their pause (locals).
    const env = agentEnv(backend, { AIVORY_ENVIRONMENT: environment, WITH_API: '1', AIVORY_MAX_PAUSES_PER_SECOND: '50' });
    const { child: app, port } = await startListening([...c.preload, ...(c.loader ?? []), c.app], { env, t, cwd: FIXTURE });
    await backend.waitFor('agent', (a) => a.environment === environment, 15000);
    const got = await requestUserRoutes(port, ROUTES);
    assert.deepEqual(got, base.responses, 'HTTP responses identical to the run without the agent');

    await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'cache down for 7 after 3', 15000);
    const events = backend.events('exception').filter((e) => e.environment === environment);
    assert.deepEqual(events.map((e) => e.message).sort(), Object.keys(EXPECTED).sort(), 'one event per 5xx, none for the other answers');
    for (const e of events) {
      const expected = EXPECTED[e.message];
      assert.equal(e.mechanism, mechanismOf(expected, c.instrumented), e.message);
      assert.equal(e.context.request.method, 'GET', e.message);
      assert.equal(e.context.request.status_code, expected.status, e.message);
      assert.equal(e.context.request.route, c.instrumented ? expected.route : undefined, e.message);
      assert.match(e.context.request.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/users/7/[a-z-]+\\?token=\\[REDACTED\\]$`), e.message);
      if (expected.mechanism === 'manual') continue;
      assert.equal(e.locals_status, 'captured', e.message);
      if (expected.frame) assert.equal(e.stack_trace[0].method_name, expected.frame, e.message);
      const [name, value] = expected.local ?? [];
      if (name) assert.ok(name in e.local_variables, `${e.message}: ${name} in ${Object.keys(e.local_variables)}`);
      if (value !== undefined) assert.equal(e.local_variables[name].value, value, e.message);
    }

    // A breakpoint in a Hono handler: its hit carries the request and, with the hook, Hono's route.
    const hit = await hitOnOkRoute(backend, port, 'hono/routes.cjs', markers(ROUTES_FILE).ok);
    assert.equal(hit.context.request.route, c.instrumented ? '/users/:id/ok' : undefined);

    app.kill('SIGTERM');
    assertSameOutput(await app.closed, base.closed);
  });
}

for (const c of CASES.slice(0, 2)) {
  test(`Hono (${c.name}) without exception locals (AIVORY_MAX_PAUSES_PER_SECOND=0): ${c.instrumented ? 'the errors Hono answers with a 5xx are still reported' : 'only what the app reports itself is reported (no pause, and no hook on this Node)'}`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `hono-no-pauses-${c.name}`;
    const base = await withoutAgent(t, c);
    const env = agentEnv(backend, { AIVORY_ENVIRONMENT: environment, WITH_API: '1', AIVORY_MAX_PAUSES_PER_SECOND: '0' });
    const { child, port } = await startListening([...c.preload, c.app], { env, t, cwd: FIXTURE });
    await backend.waitFor('agent', (a) => a.environment === environment, 15000);
    const got = await requestUserRoutes(port, ROUTES);
    assert.deepEqual(got, base.responses, 'HTTP responses identical to the run without the agent');
    // The app reports one error itself last, during its request: its event comes after every earlier one.
    assert.equal((await requestUserRoutes(port, ['reported'])).reported.status, 503);
    const reportedTwice = () => backend.events('exception').filter((e) => e.environment === environment && e.message === 'queue full for 7').length === 2;
    await backend.waitFor('exception', reportedTwice, 15000);
    child.kill('SIGTERM');
    assertSameOutput(await child.closed, base.closed);

    const answered = Object.keys(EXPECTED).filter((m) => EXPECTED[m].answered);
    const expected = [...(c.instrumented ? answered : []), 'queue full for 7', 'queue full for 7'];
    const events = backend.events('exception').filter((e) => e.environment === environment);
    assert.deepEqual(events.map((e) => e.message).sort(), expected.sort());
    for (const e of events) {
      if (e.mechanism === 'manual') continue;
      assert.equal(e.mechanism, 'hono', e.message);
      assert.equal(e.context.request.route, EXPECTED[e.message].route, e.message);
      assert.equal(e.context.request.status_code, EXPECTED[e.message].status, e.message);
      assert.notEqual(e.locals_status, 'captured', e.message);
    }
  });
}

test("the load hook adds one statement at the end of three lines of Hono's files (ES module and CommonJS builds) and moves none of Hono's code", () => {
  const dist = join(ROOT, 'node_modules', 'hono', 'dist');
  for (const build of ['', 'cjs']) {
    for (const [file, added] of [['hono-base.js', 2], ['compose.js', 1]]) {
      const path = join(dist, build, file);
      const url = pathToFileURL(path).href;
      const key = file.replace('.js', '');
      assert.equal(honoInstrumentation.fileOf(url), key, url);
      const source = readFileSync(path, 'utf8');
      const out = honoInstrumentation.rewrite(key, url, source);
      assert.equal(typeof out, 'string', `${url} rewritten`);
      const before = source.split('\n');
      const after = out.split('\n');
      assert.equal(after.length, before.length, `${url}: same lines`);
      const changed = before.filter((line, i) => after[i] !== line);
      assert.equal(changed.length, added, `${url}: lines with a statement added`);
      before.forEach((line, i) => assert.ok(after[i].startsWith(line), `${url}:${i + 1} starts as before`));
      for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) assert.match(after[i].slice(before[i].length), /^try\{globalThis\[Symbol\.for\("aivory-monitor\.hono-(context|error)"\)\]\?\.\([\w$]+(, [\w$]+)?\)\}catch\{\}$/);
      // a layout it does not know is left as it is
      assert.equal(honoInstrumentation.rewrite(key, url, source.replaceAll('onError', 'onFailure').replaceAll('handleError', 'handleFailure')), undefined);
    }
  }
  assert.equal(honoInstrumentation.fileOf(pathToFileURL(join(dist, 'context.js')).href), undefined);
  assert.equal(honoInstrumentation.fileOf('file:///app/src/hono-base.js'), undefined);
});

test("Hono's route: the last matched route a method registered, else the last one; nothing from what is not a Context", () => {
  const context = (routes) => ({ req: { matchedRoutes: routes } });
  assert.equal(honoRouteOf(context([{ method: 'ALL', path: '/*' }, { method: 'GET', path: '/users/:id' }, { method: 'ALL', path: '/users/*' }])), '/users/:id');
  assert.equal(honoRouteOf(context([{ method: 'ALL', path: '/*' }, { method: 'ALL', path: '/files/*' }])), '/files/*');
  assert.equal(honoRouteOf(context([])), undefined);
  assert.equal(honoRouteOf({ req: { get matchedRoutes() { throw new Error('no'); } } }), undefined);
  assert.equal(honoRouteOf(undefined), undefined);
  assert.equal(honoRouteOf({ req: { matchedRoutes: 'x' } }), undefined);
});

/**
 * The fixture app in a folder of its own whose node_modules has only Hono and its Node server
 * (links to the repository's): this repository also has BullMQ, whose file the hook would wait for too.
 */
function appWithOnlyHono(t, app) {
  const dir = mkdtempSync(join(tmpdir(), 'aivory-hono-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules', '@hono'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules', 'hono'), join(dir, 'node_modules', 'hono'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', '@hono', 'node-server'), join(dir, 'node_modules', '@hono', 'node-server'), 'dir');
  for (const file of [app, ROUTES_FILE]) copyFileSync(file, join(dir, file.slice(FIXTURE.length + 1)));
  return { dir, app: join(dir, app.slice(FIXTURE.length + 1)) };
}

for (const c of CASES.slice(0, 2)) {
  const title = `Hono (${c.name}): the module load hook is there only until both of Hono's files have loaded`;
  test(title, { skip: !c.instrumented && `Node ${process.versions.node} has no in-thread module hooks` }, async (t) => {
    const env = cleanEnv({ AIVORY_API_KEY: 'test-key-not-secret', AIVORY_BACKEND_URL: 'ws://127.0.0.1:9/ws', AIVORY_DEBUG: '1' });
    const isolated = appWithOnlyHono(t, c.app);
    const app = startNode([...c.preload, isolated.app], { env, t, cwd: isolated.dir });
    await app.waitForOutput(/listening \d+/, 20000);
    const stderr = (await app.waitForOutput(/module load hook removed[^\n]*\n/, 5000, 'stderr')).input;
    const lines = stderr.split('\n');
    const at = (re) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/module load hook registered for Hono/) >= 0, stderr);
    const base = at(/instrumented Hono [\d.]+ \(\S*\/hono\/dist\/(cjs\/)?hono-base\.js\)/);
    const compose = at(/instrumented Hono [\d.]+ \(\S*\/hono\/dist\/(cjs\/)?compose\.js\)/);
    assert.ok(base >= 0 && compose >= 0, stderr);
    assert.ok(at(/module load hook removed/) > Math.max(base, compose), stderr);
    app.kill();
  });
}
