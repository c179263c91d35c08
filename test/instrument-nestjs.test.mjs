// NestJS 11 (CommonJS) on express and on fastify, and NestJS 12 (ES modules only) on express:
// errors Nest answers itself (its exception filters) are reported with the request, its route and
// the thrower's locals; client errors (HttpException 4xx, a filter answering 422) are not; every
// response is identical to a run without the agent. The same for a TCP microservice and a
// WebSocket gateway, whose events carry the message pattern instead of a request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, assertSameOutput, cleanEnv, startListening, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { requestUserRoutes } from './fixtures/apps/http-client.mjs';
import { tcpExchange, wsExchange } from './fixtures/nestjs/nest-clients.mjs';
import { inThreadHooks } from './helpers/node-features.mjs';

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

const CASES = [
  { name: 'NestJS 11 on express', app: join(FIXTURES, 'nestjs', 'app.cjs'), platform: 'express', preload: ['--require', REGISTER_CJS], reported: true },
  { name: 'NestJS 11 on fastify', app: join(FIXTURES, 'nestjs', 'app.cjs'), platform: 'fastify', preload: ['--import', REGISTER_ESM], reported: true },
  { name: 'NestJS 12 (ES modules)', app: join(FIXTURES, 'nestjs12', 'app.mjs'), platform: 'express', preload: ['--import', REGISTER_ESM], reported: inThreadHooks() },
];

for (const c of CASES) {
  const title = c.reported
    ? `${c.name}: errors Nest answers are reported, client errors are not, responses unchanged`
    : `${c.name} on Node ${process.versions.node}: Nest's handler not patched (no in-thread module hooks), responses unchanged`;
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
      // (Its 5xx answers still report the errors behind them, as for any framework, when the
      // agent paused at the throw: right after Node 20 loaded Nest's ES modules it may not have.)
      await child.waitForOutput(/NestJS 12\.\d+\.\d+ on Node \S+: ES modules only; its errors are reported from their 5xx answers, not those of its microservices and gateways \(Node 22\.22\.3\+, 24\.11\.1\+ and 26\+ report them all\)/, 5000, 'stderr');
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

// Microservice messages (TCP) and gateway messages (ws adapter), with what the app must answer.
const TCP_REQUESTS = [
  { pattern: 'sum', data: [1, 2, 3] },
  { pattern: { cmd: 'charge' }, data: { invoice: 'inv-9' } },
  { pattern: 'settle', data: { account: 'acc-4' } },
  { pattern: 'refuse', data: 'no-credit' },
  { pattern: 'lookup', data: 'job-1' },
  { pattern: 'audit', data: { kind: 'wire' }, event: true },
  { pattern: 'sum', data: [4] },
];
const WS_MESSAGES = [
  { event: 'send', data: { room: 'r1' } },
  { event: 'deny', data: { room: 'r2' } },
];
const TRANSPORT_EVENTS = {
  'charge failed for inv-9 after 3': { type: 'rpc', pattern: '{"cmd":"charge"}', frame: 'chargeCard' },
  'settle failed on ledger-acc-4': { type: 'rpc', pattern: 'settle', frame: 'settle' },
  'audit rejected wire': { type: 'rpc', pattern: 'audit', frame: 'audit' },
  'room r1 is closed': { type: 'ws', pattern: 'send', frame: 'send' },
};

const TRANSPORT_CASES = [
  { name: 'NestJS 11', app: join(FIXTURES, 'nestjs', 'transports-app.cjs'), preload: ['--require', REGISTER_CJS], reported: true },
  { name: 'NestJS 12 (ES modules)', app: join(FIXTURES, 'nestjs12', 'transports-app.mjs'), preload: ['--import', REGISTER_ESM], reported: inThreadHooks() },
];

async function exchangeAll(args, env, t, cwd, ready = async () => {}) {
  const app = startNode(args, { env, t, cwd });
  const [, httpPort, tcpPort] = await app.waitForOutput(/listening (\d+) tcp (\d+)/, 20000);
  await ready();
  const tcp = await tcpExchange(Number(tcpPort), TCP_REQUESTS);
  const ws = await wsExchange(Number(httpPort), WS_MESSAGES, 'last');
  return { app, tcp, ws };
}

for (const c of TRANSPORT_CASES) {
  const title = c.reported
    ? `${c.name} microservice and gateway: handler errors are reported with their pattern, deliberate answers are not, answers and logs unchanged`
    : `${c.name} microservice and gateway on Node ${process.versions.node}: not reported (no in-thread module hooks), answers unchanged`;
  test(title, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `nest-transports-${c.name}`;
    const cwd = join(c.app, '..');
    const base = await exchangeAll([c.app], cleanEnv(), t, cwd);
    base.app.kill('SIGTERM');
    const baseOutput = await base.app.closed;
    // Nest answers and logs the errors itself (the fixture's logger writes its error lines to stderr).
    assert.deepEqual(base.tcp[1], { err: { status: 'error', message: 'Internal server error' } });
    assert.deepEqual(base.tcp[3], { err: { status: 'error', message: 'refused no-credit' } });
    assert.match(baseOutput.stderr, /nest error: room r1 is closed/);

    const env = agentEnv(backend, { AIVORY_ENVIRONMENT: environment, AIVORY_DEBUG: c.reported ? '' : '1' });
    // Registered means its inspector is ready: every error from then on has its locals.
    const got = await exchangeAll([...c.preload, c.app], env, t, cwd, () => backend.waitFor('agent', (a) => a.environment === environment, 15000));
    assert.deepEqual(got.tcp, base.tcp, 'microservice answers identical to the run without the agent');
    assert.deepEqual(got.ws, base.ws, 'gateway messages identical to the run without the agent');
    if (!c.reported) {
      await got.app.waitForOutput(/NestJS 12\.\d+\.\d+ on Node \S+: ES modules only/, 5000, 'stderr');
      return;
    }
    await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'room r1 is closed', 15000);
    got.app.kill('SIGTERM');
    assertSameOutput(await got.app.closed, baseOutput);

    const events = backend.events('exception').filter((e) => e.environment === environment);
    assert.deepEqual(events.map((e) => e.message).sort(), Object.keys(TRANSPORT_EVENTS).sort(), 'exactly the four handler errors, once each');
    for (const e of events) {
      const expected = TRANSPORT_EVENTS[e.message];
      assert.equal(e.mechanism, 'nestjs', e.message);
      assert.deepEqual(e.context.nestjs, { type: expected.type, pattern: expected.pattern }, e.message);
      assert.equal(e.context.request, undefined, `${e.message}: no HTTP request`);
      assert.equal(e.stack_trace[0].method_name, expected.frame, e.message);
      assert.equal(e.locals_status, 'captured', e.message);
    }
    const charge = events.find((e) => e.message.startsWith('charge'));
    assert.equal(charge.local_variables.retries?.value, '3');
    assert.equal(charge.local_variables.invoice?.children?.total?.value, '120');
    assert.equal(events.find((e) => e.message.startsWith('room')).local_variables.room?.children?.name?.value, 'r1');
  });
}
