// What an app can observe of the patches: names, arities, descriptors, request objects and
// listeners are the same as without the agent; unsupported versions are not touched at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, cleanEnv, runNode } from './helpers/process.mjs';

const APPS = join(ROOT, 'test', 'fixtures', 'apps');
const agentOn = (extra = {}) => cleanEnv({ AIVORY_API_KEY: 'k', AIVORY_BACKEND_URL: 'ws://127.0.0.1:9/ws/agent', ...extra });

async function observe(args, env) {
  const r = await runNode(args, { env });
  assert.equal(r.code, 0, r.stderr);
  return { out: JSON.parse(r.stdout), stderr: r.stderr };
}

test('patched functions and express requests look the same to the app', async () => {
  const file = join(APPS, 'introspect.cjs');
  const [{ out: without }, { out: withAgent, stderr }] = await Promise.all([
    observe([file], cleanEnv()),
    observe(['--require', REGISTER_CJS, file], agentOn()),
  ]);
  assert.equal(stderr, '');
  // Proof that the pieces are patched: their source differs, finalhandler is a wrapper.
  for (const key of ['finalhandler', 'done', 'processEmit', 'express4Layer', 'routerLayer', 'nestExceptionsHandler', 'nestRpcExceptionsHandler', 'nestWsExceptionsHandler', 'hapiCore', 'hapiRequestGenerate', 'graphqlLocatedError', 'graphqlExecute', 'graphqlExecuteSync', 'graphqlValidate', 'grpcSendStatus', 'grpcGetServerInterceptingCall']) {
    assert.notEqual(withAgent[key].source, without[key].source, `${key} is wrapped`);
    delete withAgent[key].source;
    delete without[key].source;
  }
  // Next's exports: a copy whose one wrapped function is read through a getter, as Next's own are.
  assert.notEqual(withAgent.nextInstrumentation.instrumentationOnRequestError.source, without.nextInstrumentation.instrumentationOnRequestError.source, "Next's instrumentationOnRequestError is wrapped");
  delete withAgent.nextInstrumentation.instrumentationOnRequestError.source;
  delete without.nextInstrumentation.instrumentationOnRequestError.source;
  // As with finalhandler: `require` returns the copy, require.cache keeps Next's object.
  assert.equal(without.nextInstrumentation.sameAsCache, true);
  assert.equal(withAgent.nextInstrumentation.sameAsCache, false);
  delete withAgent.nextInstrumentation.sameAsCache;
  delete without.nextInstrumentation.sameAsCache;
  for (const koa of ['koa2', 'koa3']) {
    for (const method of ['onerror', 'createContext']) {
      assert.notEqual(withAgent[koa][method].source, without[koa][method].source, `${koa}'s ${method} is wrapped`);
      delete withAgent[koa][method].source;
      delete without[koa][method].source;
    }
    // The one visible trace: koa's application prototype has its own `emit` (it calls EventEmitter's).
    assert.equal(without[koa].ownEmit, null);
    assert.deepEqual(withAgent[koa].ownEmit, { writable: true, enumerable: false, configurable: true });
    delete withAgent[koa].ownEmit;
    delete without[koa].ownEmit;
  }
  assert.equal(without.finalhandler.sameAsCache, true);
  assert.equal(withAgent.finalhandler.sameAsCache, false);
  delete withAgent.finalhandler.sameAsCache;
  delete without.finalhandler.sameAsCache;
  // The one visible trace: express's request prototype has a `route` accessor (which records the
  // mount path at dispatch); requests still get `route` as their own plain data property.
  for (const v of ['express4Request', 'express5Request']) {
    assert.equal(without[v].inRoute, false);
    assert.equal(withAgent[v].inRoute, true);
    delete withAgent[v].inRoute;
    delete without[v].inRoute;
  }
  // With AsyncContextFrame (no async_hooks `_propagate`), a request with a body makes the agent give
  // Node's request prototype its own `push` (which re-enters the request's scope): its one trace there.
  const { AsyncLocalStorage } = await import('node:async_hooks');
  const frameBased = typeof AsyncLocalStorage.prototype._propagate !== 'function';
  assert.equal(without.bodyRequest.ownPush, null);
  if (frameBased) {
    const { source, ...ownPush } = withAgent.bodyRequest.ownPush;
    // Named and shaped as the Readable.prototype.push it stands in front of.
    assert.deepEqual(ownPush, { writable: true, enumerable: false, configurable: true, ...without.bodyRequest.push, own: ['length', 'name', 'prototype'] });
  } else {
    assert.equal(withAgent.bodyRequest.ownPush, null);
  }
  delete withAgent.bodyRequest.ownPush;
  delete without.bodyRequest.ownPush;
  assert.deepEqual(withAgent, without);
});

test('an unsupported version is left exactly as it is (debug line only)', async () => {
  const file = join(APPS, 'unsupported', 'app.cjs');
  const { out, stderr } = await observe(['--require', REGISTER_CJS, file], agentOn({ AIVORY_DEBUG: '1' }));
  assert.deepEqual(out, { version: '9.0.0', untouched: true });
  assert.match(stderr, /\[aivory-monitor\] debug: finalhandler 9\.0\.0 is not supported \(>=1\.0\.0 <3\.0\.0\); left unpatched/);
  const quiet = await observe(['--require', REGISTER_CJS, file], agentOn());
  assert.equal(quiet.stderr, '');
});

test('without an API key nothing is patched', async () => {
  const { out } = await observe(['--require', REGISTER_CJS, join(APPS, 'introspect.cjs')], cleanEnv({ AIVORY_API_KEY: '' }));
  assert.equal(out.finalhandler.sameAsCache, true);
  assert.equal(out.express4Request.inRoute, false);
});
