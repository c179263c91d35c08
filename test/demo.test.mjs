// `npm run demo -- --once`: real backend, real express app under the preload, real requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, cleanEnv, runNode } from './helpers/process.mjs';

const DEMO = join(ROOT, 'scripts', 'demo.js');

function listen() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function refused(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

test('demo --once on a taken port: falls back to a free one, summarises the captured events, exits 0, leaves nothing running', { timeout: 120_000 }, async (t) => {
  // the port is taken on purpose, so one run covers both the fallback and the normal path
  const blocker = await listen();
  t.after(() => blocker.close());
  const { port } = blocker.address();

  const r = await runNode([DEMO, '--once', '--port', String(port)], { env: cleanEnv(), timeoutMs: 100_000 });
  const out = r.stdout;
  assert.equal(r.code, 0, `demo exited ${r.code ?? r.signal}\nstdout:\n${out}\nstderr:\n${r.stderr}`);
  assert.match(out, new RegExp(`Port ${port} is taken`));

  const ui = /Dev backend and UI: (http:\/\/127\.0\.0\.1:(\d+))\//.exec(out);
  assert.ok(ui, out);
  assert.notEqual(Number(ui[2]), port);
  const appUrl = /Sample app \(express, under the agent\): (http:\/\/\S+?)\/?$/m.exec(out)?.[1];
  assert.ok(appUrl, out);

  // every expected exception is listed as received, with its locals: the demo sends its first
  // request as soon as the agent registers, so this also checks that a registered agent is armed
  const expectedLocals = { ValueError: 'raw, limits, quantity', TypeError: 'userId, user', RangeError: 'total, count', SyntaxError: 'raw, row', ImageTooLargeError: 'image, maxSide, scale', EventLoopBlocked: 'ledger, deadlineMs, deadline, rounds' };
  for (const [type, names] of Object.entries(expectedLocals)) {
    const line = out.split('\n').find((l) => l.includes(`✓ ${type}`));
    assert.ok(line, `${type} missing from the summary:\n${out}`);
    assert.ok(line.includes(`locals: ${names};`), line);
  }
  // where V8 stops an import at the heap's limit varies (the next function it calls): some import frame's locals
  assert.match(out.split('\n').find((l) => l.includes('✓ HeapOutOfMemory')) ?? '', /"The JavaScript heap reached its size limit \(\d+\.\d MB in use\)" ×1 +locals: [^;]*\b(batch|size)\b[^;]*; via heap_limit; context memory/);
  assert.match(out, /exceptions: +[7-9]\d* events in [7-9]\d* groups/);
  assert.match(out.split('\n').find((l) => l.includes('✓ RangeError')), /user 42/);
  // the breakpoint line is there and honest either way
  assert.match(out, /breakpoint: (hit on scripts\/demo\/app\.mjs:\d+|set on scripts\/demo\/app\.mjs:\d+)/);
  // the thumbnail thread's line, in the thread the shop started after the crash above
  assert.match(out, /breakpoint in a worker thread: hit on scripts\/demo\/thumbnails\.mjs:\d+ \(locals: [^)]*\bimage\b[^)]*; worker thread \d+\)/);

  // children are gone: neither the backend nor the app still listens
  assert.equal(await refused(ui[1]), true, 'the backend still listens after the demo exited');
  assert.equal(await refused(appUrl), true, 'the sample app still listens after the demo exited');
});
