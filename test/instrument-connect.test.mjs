// connect 3: its errors end in the same finalhandler as express's, so a handler's throw (with the
// thrower's locals) and next(err) are reported as `express` with the request and status; a 4xx
// (err.status 410) is not; responses and the app's output are the same as without the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { requestUserRoutes } from './fixtures/apps/http-client.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'connect', 'app.cjs');
const ROUTES = ['ok', 'gone', 'fail', 'next-fail'];

test('connect: errors finalhandler answers are reported with request, status and locals; a 410 is not; output unchanged', { timeout: 60_000 }, async (t) => {
  const base = await startListening([APP], { env: cleanEnv(), t });
  const without = await requestUserRoutes(base.port, ROUTES);
  // finalhandler logs an error's stack on stderr after it answered: the last one is in, then stop.
  await base.child.waitForOutput(/Error: warehouse wh-7 offline[^]*parserOnHeadersComplete/, 15000, 'stderr');
  base.child.kill();
  const baseClosed = await base.child.closed;

  const backend = await startBackend({ t });
  const environment = 'connect';
  const { child: app, port } = await startListening(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const got = await requestUserRoutes(port, ROUTES);
  assert.deepEqual(got, without, 'HTTP responses identical to the run without the agent');
  assert.deepEqual(ROUTES.map((r) => got[r].status), [200, 410, 500, 500]);

  // next-fail is the last request: once its event is in, every earlier one is (one ordered connection).
  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'warehouse wh-7 offline', 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment);
  assert.deepEqual(events.map((e) => e.message).sort(), ['no price for 7 (discount 0.5)', 'warehouse wh-7 offline']);
  for (const e of events) {
    assert.equal(e.mechanism, 'express', e.message);
    assert.equal(e.context.request.method, 'GET');
    assert.equal(e.context.request.status_code, 500);
    assert.match(e.context.request.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/users/7/[a-z-]+\\?token=\\[REDACTED\\]$`));
  }
  const fail = events.find((e) => e.message.startsWith('no price'));
  assert.equal(fail.locals_status, 'captured');
  assert.equal(fail.stack_trace[0].method_name, 'priceOf');
  assert.equal(fail.local_variables.discount?.value, '0.5');
  assert.equal(fail.local_variables.base?.value, '36');
  const nextFail = events.find((e) => e.message.startsWith('warehouse'));
  // passed to next() without being thrown: no exception pause, so no locals
  assert.equal(nextFail.locals_status, 'unavailable');
  assert.equal(nextFail.stack_trace[0].method_name, 'nextFail');

  await app.waitForOutput(/Error: warehouse wh-7 offline[^]*parserOnHeadersComplete/, 15000, 'stderr');
  app.kill();
  assertSameOutput(await app.closed, baseClosed);
});
