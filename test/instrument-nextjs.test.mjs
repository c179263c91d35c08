// Next.js (`next start`, App Router and Pages Router, built by the test with Turbopack): every
// error Next catches and answers itself is reported once, with Next's route pattern, router kind
// and route type, the request, and the locals of the frame that threw, in the app's own source
// files (Turbopack's index source maps): route handlers, pages, a server component failing after
// the page began streaming (answered 200), a server action, a Pages Router API route and
// getServerSideProps. An error a route handler catches and answers 503 is reported through its
// answer, with Next's route; notFound() is not an error. Responses and output are unchanged, and a
// breakpoint on a route handler's source line is hit, with the route.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, cleanEnv, runNode, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { markers } from './helpers/exceptions.mjs';

const APP_DIR = join(ROOT, 'test', 'fixtures', 'nextjs');
const NEXT_BIN = createRequire(import.meta.url).resolve('next/dist/bin/next');
const NEXT_ENV = { NEXT_TELEMETRY_DISABLED: '1' };
const ORDER_ROUTE = join(APP_DIR, 'app', 'api', 'orders', '[id]', 'route.js');

const ACTION_ID = () => Object.keys(JSON.parse(readFileSync(join(APP_DIR, '.next', 'server', 'server-reference-manifest.json'), 'utf8')).node)[0];

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

const app = (...parts) => join(APP_DIR, ...parts);
const EXPECTED = {
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
    mechanism: 'nextjs', route: '/action', nextjs: { router_kind: 'App Router', route_path: '/action', route_type: 'action', render_source: 'react-server-components-payload' },
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

async function requestAll(port) {
  const out = [];
  for (const r of REQUESTS) {
    const init = r.action
      ? { method: 'POST', headers: { 'next-action': ACTION_ID(), 'content-type': 'text/plain;charset=UTF-8', accept: 'text/x-component' }, body: '[]' }
      : {};
    const res = await fetch(`http://127.0.0.1:${port}${r.path}`, init);
    out.push({ path: r.path, status: res.status, type: res.headers.get('content-type'), body: await res.text() });
  }
  return out;
}

/** `next start` on a free port: { child, port }. */
async function startNext(t, env, preload = []) {
  const child = startNode([...preload, NEXT_BIN, 'start', APP_DIR, '-H', '127.0.0.1', '-p', '0'], { env, t, cwd: APP_DIR });
  const [, port] = await child.waitForOutput(/http:\/\/127\.0\.0\.1:(\d+)/, 30000);
  return { child, port: Number(port) };
}

/**
 * Next's output but for what changes from run to run: the port, timings, and the digest Next gives
 * an error (a hash of its formatted stack: React formats some stacks inside its own temporary
 * Error.prepareStackTrace, and on a loaded machine which read comes first varies). The stack lines
 * themselves are still compared.
 */
const stable = (text) =>
  text
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\d+(\.\d+)?m?s\b/g, 'N ms')
    .replace(/(digest(?:\\?")?\s*[:=]\s*\\?["'])\d+/g, '$1DIGEST')
    .replace(/\$RX\("([^"]+)","\d+"/g, '$$RX("$1","DIGEST"');

before(async () => {
  const built = await runNode([NEXT_BIN, 'build', APP_DIR], { env: cleanEnv(NEXT_ENV), cwd: APP_DIR, timeoutMs: 180_000 });
  assert.equal(built.code, 0, `next build failed:\n${built.stdout}\n${built.stderr}`);
});

test('Next.js: errors Next answers itself are reported once with its route, the request and locals in the source files; output unchanged; a breakpoint hits', { timeout: 120_000 }, async (t) => {
  const base = await startNext(t, cleanEnv(NEXT_ENV));
  const without = await requestAll(base.port);
  base.child.kill('SIGTERM');
  const baseClosed = await base.child.closed;
  assert.deepEqual(without.map((r) => r.status), REQUESTS.map((r) => r.status));
  assert.match(without[4].body, /dashboard/, 'the streamed page answered with its shell');

  const backend = await startBackend({ t });
  const environment = 'nextjs';
  const { child, port } = await startNext(t, agentEnv(backend, { AIVORY_ENVIRONMENT: environment, ...NEXT_ENV }), ['--require', REGISTER_CJS]);
  // Next's start-up is heavy on a loaded machine (tests run four at a time): the agent may take a while.
  await backend.waitFor('agent', (a) => a.environment === environment, 40000);
  const got = await requestAll(port);
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
    assert.equal(top.file_path, expected.file, `${e.message}: the source file, through Turbopack's index map`);
    assert.equal(top.line_number, markers(expected.file)[expected.marker], e.message);
    assert.equal(e.locals_status, 'captured', e.message);
    assert.ok(expected.local(e.local_variables), `${e.message}: locals ${JSON.stringify(e.local_variables).slice(0, 400)}`);
  }

  // A breakpoint on the route handler's source line: installed through the index map (the chunk is loaded).
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
