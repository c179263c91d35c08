// Every combination of {CJS, ESM} x {http, express 4, express 5, fastify 4, fastify 5, koa 2, koa 3} x
// {--require, --import, NODE_OPTIONS}: the events of throwing routes carry the request (route,
// method, status, redacted URL and headers...) and the locals of the throwing function, and every
// HTTP response, the app's stderr and (for the crashing http app) its exit are identical to a run
// without the agent. Against the real development backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, assertSameOutput, cleanEnv, startNode } from './helpers/process.mjs';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { request } from './fixtures/apps/http-client.mjs';

const APPS = join(ROOT, 'test', 'fixtures', 'apps');
const FILES = { cjs: join(APPS, 'server.cjs'), esm: join(APPS, 'server.mjs') };
const FRAMEWORKS = ['http', 'express4', 'express5', 'fastify4', 'fastify5', 'koa2', 'koa3'];
const SPEC = 'aivory-monitor/register';
const MODES = {
  require: (file) => ({ args: ['--require', SPEC, file], env: {} }),
  import: (file) => ({ args: ['--import', SPEC, file], env: {} }),
  // CJS apps get `--require` through NODE_OPTIONS, ESM apps `--import`: both forms are covered.
  node_options: (file) => ({ args: [file], env: { NODE_OPTIONS: `${file.endsWith('.mjs') ? '--import' : '--require'} ${SPEC}` } }),
};

const BOOM_HEADERS = {
  authorization: 'Bearer very-secret',
  cookie: 'sid=secret-session',
  'user-agent': 'matrix-test/1.0',
  'x-request-id': 'rid-42',
  'x-forwarded-for': '203.0.113.9, 10.0.0.1',
};
const BOOM_PATH = '/api/users/42/boom?token=secret-token&page=2';

// What each app is asked, in order; the throwing route comes last so that its event arriving means
// every earlier one has arrived too (one ordered connection per agent).
function plan(framework) {
  const boom = ['boom', BOOM_PATH, { headers: BOOM_HEADERS }];
  if (framework === 'http') return [['hello', '/hello'], boom];
  return [
    ['hello', '/hello'],
    ['bad-json', '/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{bad' }],
    ['good-json', '/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' }],
    ['handled', '/handled/5'],
    ['async-boom', '/api/users/7/async-boom'],
    boom,
  ];
}

async function runApp(file, framework, { args, env }, t) {
  const app = startNode(args, { env: { ...env, FRAMEWORK: framework }, t, cwd: ROOT });
  const [, port] = await app.waitForOutput(/listening (\d+)/, 20000);
  return { app, port: Number(port) };
}

// express logs unhandled errors on stderr a tick after answering: wait for the complete stack
// (10 frames, the default limit) before stopping the app.
const LOGGED_BOOM = /Error: boom 42 after 84(\n {4}at .*){10}\n/;

async function exercise(app, port, framework, { before, after } = {}) {
  await before?.();
  const responses = {};
  for (const [name, path, opts] of plan(framework)) responses[name] = await request(port, path, opts);
  if (framework !== 'http') {
    if (framework.startsWith('express')) await app.waitForOutput(LOGGED_BOOM, 10000, 'stderr');
    await after?.();
    app.kill();
  }
  const { code, signal, stderr, stdout } = await app.closed;
  return { responses, stderr, stdout, exit: framework === 'http' ? { code, signal } : undefined };
}

const baselines = new Map();
function baseline(file, framework, t) {
  const key = `${file}|${framework}`;
  if (!baselines.has(key)) {
    baselines.set(key, (async () => {
      const { app, port } = await runApp(file, framework, { args: [file], env: cleanEnv() }, t);
      return exercise(app, port, framework);
    })());
  }
  return baselines.get(key);
}

function assertRequest(event, { route, status, url }) {
  const r = event.context.request;
  assert.ok(r, `event ${event.message} has a request`);
  assert.equal(r.method, 'GET');
  assert.equal(r.route, route);
  assert.equal(r.status_code, status);
  assert.match(r.url, url);
}

test('request context and framework errors in every combination, responses unchanged', { timeout: 240_000 }, async (t) => {
  const backend = await startBackend({ t });
  const combos = [];
  for (const kind of Object.keys(FILES)) for (const framework of FRAMEWORKS) for (const mode of Object.keys(MODES)) combos.push({ kind, framework, mode });

  // Run a few apps at a time: enough to be quick, few enough for 2 shared cores.
  let running = 0;
  const queue = [];
  const slot = async () => {
    if (running >= 4) await new Promise((r) => queue.push(r));
    running++;
  };
  const release = () => {
    running--;
    queue.shift()?.();
  };

  await Promise.all(combos.map(({ kind, framework, mode }) => t.test(`${kind} ${framework} ${mode}`, async (st) => {
    await slot();
    try {
      const file = FILES[kind];
      const environment = `matrix-${kind}-${framework}-${mode}`;
      const m = MODES[mode](file);
      const env = agentEnv(backend, { ...m.env, AIVORY_ENVIRONMENT: environment, WAIT_AGENT_READY: '1' });
      const { app, port } = await runApp(file, framework, { args: m.args, env }, st);
      const mine = (e) => e.environment === environment;
      const boomEvent = () => backend.waitFor('exception', (e) => mine(e) && e.message === 'boom 42 after 84', 15000);
      const got = await exercise(app, port, framework, {
        // Wait until the agent is connected so that a crash's event is not raced by the exit.
        before: () => backend.waitFor('agent', mine, 15000),
        after: boomEvent,
      });
      const base = await baseline(file, framework, st);

      assert.deepEqual(got.responses, base.responses, 'HTTP responses identical to the run without the agent');
      assertSameOutput(got, base);
      if (framework === 'http') {
        assert.deepEqual(got.exit, base.exit, 'the crash exits exactly as without the agent');
        assert.equal(got.responses.boom.error, 'ECONNRESET');
      } else {
        assert.equal(got.responses.boom.status, 500);
        assert.equal(got.responses['bad-json'].status, 400);
      }

      const boom = await boomEvent();
      assert.equal(boom.exception_type, 'Error');
      assert.equal(boom.stack_trace[0].method_name, 'loadUser');
      assert.equal(boom.locals_status, 'captured');
      assert.equal(boom.local_variables.id?.value, '42');
      assert.equal(boom.local_variables.attempts?.value, '84');
      assert.equal(boom.local_variables.user?.children?.name?.value, 'user-42');
      const mechanism = framework === 'http' ? 'uncaught' : framework.replace(/\d$/, '');
      assert.equal(boom.mechanism, mechanism);
      const r = boom.context.request;
      assertRequest(boom, {
        route: framework === 'http' ? undefined : '/api/users/:id/boom',
        status: framework === 'http' ? undefined : 500,
        url: new RegExp(`^http://127\\.0\\.0\\.1:${port}/api/users/42/boom\\?token=\\[REDACTED\\]&page=2$`),
      });
      assert.equal(r.headers.authorization, '[REDACTED]');
      assert.equal(r.headers.cookie, '[REDACTED]');
      assert.equal(r.headers['x-request-id'], 'rid-42');
      assert.equal(r.user_agent, 'matrix-test/1.0');
      assert.equal(r.client_ip, '203.0.113.9');
      assert.equal(r.request_id, framework.startsWith('fastify') ? r.request_id : 'rid-42');
      assert.ok(!JSON.stringify(boom.context).includes('secret'), 'no secret value in the request context');

      const events = backend.events('exception').filter(mine);
      if (framework === 'http') {
        assert.equal(events.length, 1);
        return;
      }
      // The 400 (bad JSON) is an answer, not a failure: exactly handled + async-boom + boom.
      assert.deepEqual(events.map((e) => e.message).sort(), ['async-boom 7 order-7', 'boom 42 after 84', 'handled 5'].sort());
      const asyncBoom = events.find((e) => e.message.startsWith('async-boom'));
      assertRequest(asyncBoom, { route: '/api/users/:id/async-boom', status: 500, url: /\/api\/users\/7\/async-boom$/ });
      assert.equal(asyncBoom.mechanism, mechanism);
      assert.equal(asyncBoom.local_variables.orderId?.value, 'order-7');
      const handled = events.find((e) => e.message === 'handled 5');
      // A user error handler decides the answer (418 here): no status is claimed.
      assertRequest(handled, { route: '/handled/:id', status: undefined, url: /\/handled\/5$/ });
      assert.equal(handled.mechanism, mechanism);
      assert.equal(handled.local_variables.handledId?.value, '5');
    } finally {
      release();
    }
  })));
});
