// HTTP/2 servers (Node 22 and later): each stream is a request with its own scope, through the
// compatibility API and the 'stream' event alike, also with many streams interleaved on one
// connection and request bodies arriving after other streams began: an event reported in a
// request carries that request (method, URL with the host, headers) and that request's user; an
// error the app turned into a 500 itself is reported through that answer; under fastify's
// `http2: true`, events carry its route too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { prng } from './helpers/prng.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'http2.cjs');
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const CALLS = 40;

/** One HTTP/2 connection, CALLS interleaved requests on it; resolves to the answers, by path. */
async function interleaved(port, seed) {
  const random = prng(seed);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const call = (i) =>
    new Promise((resolve, reject) => {
      const post = i % 2 === 1;
      const name = post ? `b${i}` : `u${i}`;
      const path = post ? `/echo?wait=${Math.floor(random() * 15)}` : `/user/${name}?wait=${Math.floor(random() * 15)}`;
      const req = session.request({ ':method': post ? 'POST' : 'GET', ':path': path, 'x-call': String(i) }, { endStream: !post });
      let text = '';
      req.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve({ name, path, post, answer: text })).on('error', reject);
      // The body comes in two parts, the second after other streams have started.
      if (post) {
        req.write(name.slice(0, 1));
        setTimeout(() => req.end(name.slice(1)), Math.floor(random() * 10));
      }
    });
  try {
    return await Promise.all(Array.from({ length: CALLS }, (_, i) => call(i)));
  } finally {
    session.close();
  }
}

for (const mode of ['compat', 'stream']) {
  test(`HTTP/2 (${mode === 'compat' ? "the compatibility API's 'request'" : "the 'stream' event"}): each stream has its own scope, with many interleaved on one connection`, { timeout: 60_000, skip: NODE_MAJOR < 22 && 'Node 20 publishes no HTTP/2 server streams' }, async (t) => {
    const base = await startListening([APP, mode], { env: cleanEnv(), t });
    const expected = await interleaved(base.port, 7);
    for (const r of expected) assert.equal(r.answer, `reported ${r.name}`);

    const backend = await startBackend({ t });
    const { port } = await startListening(['--require', REGISTER_CJS, APP, mode], { env: agentEnv(backend), t });
    await backend.waitFor('agent');
    const calls = await interleaved(port, 7);
    assert.deepEqual(calls.map((c) => c.answer), expected.map((c) => c.answer), 'the same answers as without the agent');
    await backend.waitFor('exception', () => backend.events('exception').length === CALLS, 20_000);
    const events = backend.events('exception');
    for (const call of calls) {
      const event = events.find((e) => e.message === `request of ${call.name}`);
      assert.ok(event, `an event for ${call.name}`);
      assert.deepEqual(event.context.user, { id: call.name }, `${call.name}'s own user`);
      const { request } = event.context;
      assert.equal(request?.method, call.post ? 'POST' : 'GET', JSON.stringify(event.context));
      assert.equal(request.url, `http://127.0.0.1:${port}${call.path}`);
      assert.equal(request.headers['x-call'], call.name.slice(1));
      assert.equal(request.client_ip, '127.0.0.1');
    }

    // An error the app's own try/catch turned into a 500: reported through its answer, as over HTTP/1.
    const session = http2.connect(`http://127.0.0.1:${port}`);
    t.after(() => session.close());
    const status = await new Promise((resolve, reject) => {
      session.request({ ':path': '/order?raw=%7Bbad' }).on('response', (h) => resolve(h[':status'])).on('error', reject).resume();
    });
    assert.equal(status, 500);
    const event = await backend.waitFor('exception', (e) => e.mechanism === 'http_5xx', 15_000);
    assert.equal(event.exception_type, 'SyntaxError');
    assert.equal(event.context.request.status_code, 500);
    assert.equal(event.context.request.url, `http://127.0.0.1:${port}/order?raw=%7Bbad`);
    assert.equal(event.stack_trace.find((f) => f.method_name === 'orderAnswer')?.local_variables?.raw?.value, '{bad');
  });
}

test("fastify with `http2: true`: captureException in a route carries the request and fastify's route", { timeout: 60_000, skip: NODE_MAJOR < 22 && 'Node 20 publishes no HTTP/2 server streams' }, async (t) => {
  const backend = await startBackend({ t });
  const app = join(ROOT, 'test', 'fixtures', 'apps', 'fastify-routes.cjs');
  const { port } = await startListening(['--require', REGISTER_CJS, app], { env: agentEnv(backend, { FASTIFY_HTTP2: '1' }), t });
  await backend.waitFor('agent');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());
  const answer = await new Promise((resolve, reject) => {
    let text = '';
    session.request({ ':path': '/api/v1/items/42' }).setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve(text)).on('error', reject);
  });
  assert.deepEqual(JSON.parse(answer), { ok: true });
  const event = await backend.waitFor('exception', (e) => e.message === 'route of /api/v1/items/42', 15_000);
  assert.equal(event.context.request?.route, '/api/v1/items/:id', JSON.stringify(event.context));
  assert.equal(event.context.request.url, `http://127.0.0.1:${port}/api/v1/items/42`);
});
