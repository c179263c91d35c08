// Next.js (`next start`, App Router and Pages Router, built by the test: Next 16 with Turbopack, and
// Next 15.3 with webpack, which reports errors through its server class): every error Next catches
// and answers itself is reported once, with Next's route pattern, router kind and route type, the
// request, and the locals of the frame that threw, in the app's own source files (through the
// build's source maps: Turbopack's are index maps): route handlers, pages, a server component failing after
// the page began streaming (answered 200), a server action, a Pages Router API route and
// getServerSideProps. An error a route handler catches and answers 503 is reported through its
// answer, with Next's route; notFound() is not an error. Responses and output are unchanged, and a
// breakpoint on a route handler's source line is hit, with the route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, cleanEnv, runNode, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { markers } from './helpers/exceptions.mjs';

const FIXTURES = join(ROOT, 'test', 'fixtures');
const NEXT_ENV = { NEXT_TELEMETRY_DISABLED: '1' };
/** The two apps: the Next 16 fixture, and the same app and pages copied into the Next 15.3 workspace. */
const VERSIONS = [
  { label: 'Next.js 16', dir: join(FIXTURES, 'nextjs') },
  // Next 15.3 gives a server action's error context a revalidate reason too. On Node 20 and 22 it
  // throws inside Node's web streams about ten times per answer (Node 24 no longer throws there):
  // past the agent's allowance for such pauses it backs off (README, Limits), so from the second
  // error on, locals may be left out ("budget"). Its React's Suspense exceptions (thrown in the
  // app's webpack chunks) are control flow: they take nothing from the budget.
  {
    label: 'Next.js 15.3', dir: join(FIXTURES, 'nextjs15'), copyFrom: join(FIXTURES, 'nextjs'), actionContext: { revalidate_reason: 'stale' },
    mayBackOff: Number(process.versions.node.split('.')[0]) < 24,
  },
];

/** The requests, in order, each with the status it gets. */
const REQUESTS = [
  { path: '/ok', status: 200 },
  { path: '/api/orders/41', status: 500 },
  { path: '/api/orders/42?caught=1', status: 503 },
  { path: '/page-err', status: 500 },
  { path: '/stream-err', status: 200 },
  { path: '/missing', status: 404 },
  { path: '/action', status: 500, action: true },
  { path: '/api/legacy', status: 500 },
  { path: '/props', status: 500 },
];

/** The first error the requests cause. */
const REPORTED_FIRST = 'order 41 over limit';

/** What each error's event carries, for the app in `dir`. */
const expectedIn = (dir, actionContext = {}) => {
  const app = (...parts) => join(dir, ...parts);
  return {
  'order 41 over limit': {
    mechanism: 'nextjs', route: '/api/orders/[id]', nextjs: { router_kind: 'App Router', route_path: '/api/orders/[id]', route_type: 'route' },
    file: app('app', 'api', 'orders', '[id]', 'route.js'), marker: 'route', local: (l) => l.order.children.total.value === '120',
  },
  'order 42 is locked': {
    mechanism: 'http_5xx', status: 503, route: '/api/orders/[id]', file: app('app', 'api', 'orders', '[id]', 'route.js'), marker: 'caught', local: (l) => l.order.children.id.value === '42',
  },
  'page render failed for alice': {
    mechanism: 'nextjs', route: '/page-err', nextjs: { router_kind: 'App Router', route_path: '/page-err', route_type: 'render', render_source: 'react-server-components' },
    file: app('app', 'page-err', 'page.js'), marker: 'page', local: (l) => l.userName.value === 'alice',
  },
  'streamed component failed with 7 widgets': {
    mechanism: 'nextjs', route: '/stream-err', nextjs: { router_kind: 'App Router', route_path: '/stream-err', route_type: 'render', render_source: 'react-server-components' },
    file: app('app', 'stream-err', 'page.js'), marker: 'stream', local: (l) => l.widgetCount.value === '7',
  },
  'checkout failed at 99': {
    mechanism: 'nextjs', route: '/action', nextjs: { router_kind: 'App Router', route_path: '/action', route_type: 'action', render_source: 'react-server-components-payload', ...actionContext },
    file: app('app', 'action', 'actions.js'), marker: 'action', local: (l) => l.cartTotal.value === '99',
  },
  'pages api failed for L-9': {
    mechanism: 'nextjs', route: '/api/legacy', nextjs: { router_kind: 'Pages Router', route_path: '/api/legacy', route_type: 'route' },
    file: app('pages', 'api', 'legacy.js'), marker: 'legacy', local: (l) => l.legacyId.value === 'L-9',
  },
  'props failed for k1': {
    mechanism: 'nextjs', route: '/props', nextjs: { router_kind: 'Pages Router', route_path: '/props', route_type: 'render' },
    file: app('pages', 'props.js'), marker: 'props', local: (l) => l.propsKey.value === 'k1',
  },
  };
};

async function requestAll(dir, port) {
  const actionId = Object.keys(JSON.parse(readFileSync(join(dir, '.next', 'server', 'server-reference-manifest.json'), 'utf8')).node)[0];
  const out = [];
  for (const r of REQUESTS) {
    const init = r.action
      ? { method: 'POST', headers: { 'next-action': actionId, 'content-type': 'text/plain;charset=UTF-8', accept: 'text/x-component' }, body: '[]' }
      : {};
    const res = await fetch(`http://127.0.0.1:${port}${r.path}`, init);
    out.push({ path: r.path, status: res.status, type: res.headers.get('content-type'), body: await res.text() });
  }
  return out;
}

const nextBin = (dir) => createRequire(join(dir, 'package.json')).resolve('next/dist/bin/next');

/** `next start` on a free port: { child, port }. */
async function startNext(t, dir, env, preload = []) {
  const child = startNode([...preload, nextBin(dir), 'start', dir, '-H', '127.0.0.1', '-p', '0'], { env, t, cwd: dir });
  const [, port] = await child.waitForOutput(/http:\/\/127\.0\.0\.1:(\d+)/, 30000);
  return { child, port: Number(port) };
}

/**
 * Next's output but for what changes from run to run: the port, timings, random ids, Node's
 * event-loop frames below a microtask (see below), and the digest Next gives
 * an error (a hash of its formatted stack: React formats some stacks inside its own temporary
 * Error.prepareStackTrace, and on a loaded machine which read comes first varies). The stack lines
 * themselves are still compared.
 */
const stable = (text) =>
  text
    // Next 15's RSC payload keys the page's metadata with a random id per request. First: an id
    // such as `g6ms-...` would otherwise be taken for a duration below.
    .replace(/(\\"\$1\\",\\")[\w-]{22}\\"/g, '$1KEY\\"')
    // Node's own frames below a microtask that ran between two timers or immediates
    // (runNextTicks): whether two come due together is timing, with or without the agent.
    .replace(/\n {4}at (?:runNextTicks|process\.processTimers|process\.processImmediate) \(node:internal\/[^)\n]*\)/g, '')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\d+(\.\d+)?m?s\b/g, 'N ms')
    .replace(/(digest(?:\\?")?\s*[:=]\s*\\?["'])\d+/g, '$1DIGEST')
    .replace(/\$RX\("([^"]+)","\d+"/g, '$$RX("$1","DIGEST"');

for (const { label, dir, copyFrom, actionContext, mayBackOff = false } of VERSIONS) {
  test(`${label}: errors Next answers itself are reported once with its route, the request and locals in the source files; output unchanged; a breakpoint hits`, { timeout: 240_000 }, async (t) => {
    if (copyFrom) {
      for (const sub of ['app', 'pages']) {
        rmSync(join(dir, sub), { recursive: true, force: true });
        cpSync(join(copyFrom, sub), join(dir, sub), { recursive: true });
      }
    }
    const built = await runNode([nextBin(dir), 'build', dir], { env: cleanEnv(NEXT_ENV), cwd: dir, timeoutMs: 180_000 });
    assert.equal(built.code, 0, `next build failed:\n${built.stdout}\n${built.stderr}`);
    const EXPECTED = expectedIn(dir, actionContext);
    const ORDER_ROUTE = join(dir, 'app', 'api', 'orders', '[id]', 'route.js');

    const base = await startNext(t, dir, cleanEnv(NEXT_ENV));
    const without = await requestAll(dir, base.port);
    base.child.kill('SIGTERM');
    const baseClosed = await base.child.closed;
    assert.deepEqual(without.map((r) => r.status), REQUESTS.map((r) => r.status));
    assert.match(without[4].body, /dashboard/, 'the streamed page answered with its shell');

    const backend = await startBackend({ t });
    const environment = 'nextjs';
    const { child, port } = await startNext(t, dir, agentEnv(backend, { AIVORY_ENVIRONMENT: environment, ...NEXT_ENV }), ['--require', REGISTER_CJS]);
    // Next's start-up is heavy on a loaded machine (tests run four at a time): the agent may take a while.
    await backend.waitFor('agent', (a) => a.environment === environment, 40000);
    const got = await requestAll(dir, port);
    // A streamed page's parts (its shell, the error boundary's script, the RSC payload) are flushed
    // in the order they are ready, which varies from run to run: compared as a set of parts.
    const parts = (r) => ({ ...r, body: stable(r.body).replace(/<\/body><\/html>$/, '').split('<script').sort() });
    assert.deepEqual(got.map(parts), without.map(parts), 'HTTP responses identical to the run without the agent');

    // Requests ran one after another and events travel in order: once the last one's is in, any
    // second report of an earlier request would be in too.
    await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'props failed for k1', 15000);
    const events = backend.events('exception').filter((e) => e.environment === environment);
    assert.deepEqual(events.map((e) => e.message).sort(), Object.keys(EXPECTED).sort(), 'one event per error, none for the 200, the 404 or the streamed shell');
    for (const e of events) {
      const expected = EXPECTED[e.message];
      assert.equal(e.mechanism, expected.mechanism, e.message);
      assert.match(e.context.request.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/`), e.message);
      if (expected.route !== undefined) assert.equal(e.context.request.route, expected.route, e.message);
      if (expected.status !== undefined) assert.equal(e.context.request.status_code, expected.status, e.message);
      assert.deepEqual(e.context.nextjs, expected.nextjs, e.message);
      const top = e.stack_trace[0];
      assert.equal(top.file_path, expected.file, `${e.message}: the source file, through the build's source map`);
      assert.equal(top.line_number, markers(expected.file)[expected.marker], e.message);
      if (mayBackOff && e.message !== REPORTED_FIRST && e.locals_status === 'budget') continue;
      assert.equal(e.locals_status, 'captured', e.message);
      assert.ok(expected.local(e.local_variables), `${e.message}: locals ${JSON.stringify(e.local_variables).slice(0, 400)}`);
    }

    // A breakpoint on the route handler's source line: installed through the source map (the chunk is loaded).
    const line = markers(ORDER_ROUTE).order;
    assert.ok(line > 0, 'the LINE:order marker');
    const bp = await backend.post('/api/breakpoints', { file_path: 'app/api/orders/[id]/route.js', line_number: line });
    const installed = await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'installed', 15000);
    assert.equal(installed.actual_line, line);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/orders/7?caught=1`)).status, 503);
    const hit = await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === bp.id, 15000);
    assert.equal(hit.file_path, ORDER_ROUTE);
    assert.equal(hit.line_number, line);
    assert.equal(hit.local_variables.id.value, '7');
    assert.match(hit.context.request.url, /\/api\/orders\/7\?caught=1$/);
    assert.equal(hit.context.request.route, '/api/orders/[id]');

    child.kill('SIGTERM');
    const closed = await child.closed;
    assert.equal(stable(closed.stderr), stable(baseClosed.stderr), "Next's stderr is the same as without the agent");
    assert.equal(stable(closed.stdout), stable(baseClosed.stdout), "Next's stdout is the same as without the agent");
  });
}
