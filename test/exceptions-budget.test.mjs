// The pause budget, the per-site cap and the per-fingerprint rate limit, end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, ROOT, startListening, startNode } from './helpers/process.mjs';
import { EXC_FIXTURES } from './helpers/exceptions.mjs';

test('a hot throw site: 5 captures per site, pauses off when the budget is spent, 20 events per fingerprint, then locals again', async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'budget.cjs')], { env: agentEnv(backend), t });
  const after = await backend.waitFor('exception', (e) => e.message === 'other after-refill');
  assert.equal((await app.exited).code, 0, app.stderr());
  assert.equal(after.locals_status, 'captured', 'pauses are armed again once the budget refilled');
  assert.equal(after.stack_trace[0].local_variables.label.value, 'after-refill');

  const hot = backend.events('exception').filter((e) => e.message === 'hot site');
  assert.equal(hot.length, 20, 'the rate limit lets 20 events of one fingerprint through per minute');
  assert.equal(new Set(hot.map((e) => e.fingerprint)).size, 1);
  const statuses = hot.map((e) => e.locals_status);
  assert.deepEqual(statuses.slice(0, 5), ['captured', 'captured', 'captured', 'captured', 'captured']);
  assert.deepEqual(hot.slice(0, 5).map((e) => e.stack_trace[0].local_variables.iteration.value), ['0', '1', '2', '3', '4']);
  assert.ok(statuses.slice(5).every((s) => s === 'unavailable' || s === 'budget'), statuses.join());
  assert.ok(statuses.includes('budget'), 'the budget ran out within the loop');
  for (const e of hot.slice(5)) assert.deepEqual(e.local_variables, {});
});

test('a line that throws without end: after its captures the agent stops pausing the app for it, backing off', async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'hot-caught.cjs')], { env: agentEnv(backend, { AIVORY_DEBUG: '1', RUN_MS: '2500' }), t });
  assert.equal((await app.exited).code, 0, app.stderr());
  const throws = Number(/throws (\d+)/.exec(app.stdout())?.[1]);
  assert.ok(throws > 200, `the line ran ${throws} times`);
  // Every pause that captured nothing says so; without the back-off there would be ~10 a second.
  const offs = [...app.stderr().matchAll(/exception pauses off for (\d+) ms: the last one captured nothing \(its site is over its cap\)/g)].map((m) => Number(m[1]));
  assert.deepEqual(offs.slice(0, 3), [250, 500, 1000], app.stderr());
  assert.ok(offs.length <= 5, `${offs.length} idle pauses: ${offs.join(', ')}`);
});

test('an ESM app importing packages and probing optional ones after the agent armed: its next error still has locals', async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'late-imports.mjs')], { env: agentEnv(backend, { AIVORY_DEBUG: '1' }), t });
  const e = await backend.waitFor('exception', (x) => x.message === 'checkout failed for cart-7 (99)');
  await app.exited;
  assert.match(app.stdout(), /imported 7, 20 optional packages missing/);
  assert.equal(e.locals_status, 'captured', app.stderr());
  assert.equal(e.stack_trace[0].local_variables.cartId?.value, 'cart-7');
  assert.doesNotMatch(app.stderr(), /exception pauses off/);
});

test("an app calling fetch and reading web streams (Node's own promise rejections, a few a second): its next error still has locals", async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'web-streams.cjs')], { env: agentEnv(backend, { AIVORY_DEBUG: '1' }), t });
  const e = await backend.waitFor('exception', (x) => x.message === 'checkout failed for cart-8 (99)');
  await app.exited;
  assert.match(app.stdout(), /fetched 15000 bytes, read 10 stream parts/);
  assert.equal(e.locals_status, 'captured', app.stderr());
  assert.equal(e.stack_trace[0].local_variables.cartId?.value, 'cart-8');
  assert.doesNotMatch(app.stderr(), /exception pauses off/);
});

test('rejections that no app code makes, past their allowance, narrow pauses to caught errors: an error the app catches still has its locals', async (t) => {
  const backend = await startBackend({ t });
  const env = agentEnv(backend, { AIVORY_DEBUG: '1', PKG_ROOT: ROOT });
  const { child: app, port } = await startListening(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'rejection-noise.cjs')], { env, t });
  await backend.waitFor('agent');
  // Node 24's V8 no longer pauses for a rejection made in a blackboxed (dependency) frame: there,
  // the noise costs nothing at all. Node 20 and 22 pause for each.
  if (Number(process.versions.node.split('.')[0]) < 24) {
    await app.waitForOutput(/exception pauses narrowed to caught errors for \d+ ms \(rejections with no app frame/, 10000, 'stderr');
  }
  for (const code of ['SPRING', 'SUMMER']) {
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/?code=${code}`)).text(), 'reported');
    const e = await backend.waitFor('exception', (x) => x.message === `coupon ${code} expired (15%)`);
    assert.equal(e.locals_status, 'captured', app.stderr());
    assert.equal(e.stack_trace[0].local_variables.code.value, code);
  }
  assert.doesNotMatch(app.stderr(), /exception pauses off/, 'pauses were never switched off for the noise');
});

test('AIVORY_LOCALS_AFTER_FIRST_ERROR: no debugger until the first error is reported; the next errors have their locals', async (t) => {
  const backend = await startBackend({ t });
  const env = agentEnv(backend, { AIVORY_LOCALS_AFTER_FIRST_ERROR: 'true', AIVORY_DEBUG: '1', PKG_ROOT: ROOT });
  const { child: app, port } = await startListening(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'deferred.cjs')], { env, t });
  // Registered: by default the debugger is armed by now, and the first error would have its locals.
  await backend.waitFor('agent');
  // A breakpoint switches the debugger on for itself only: once it is gone, the debugger goes off
  // again, and errors still wait for the first one to be reported.
  const bp = await backend.post('/api/breakpoints', { file_path: 'not-loaded-yet.cjs', line_number: 3 });
  await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'pending');
  await backend.del(`/api/breakpoints/${bp.id}`);
  await app.waitForOutput(/debugger detached: no breakpoint is left/, 10000, 'stderr');
  const get = async (n) => (await fetch(`http://127.0.0.1:${port}/?n=${n}`)).text();
  assert.equal(await get(1), 'reported');
  assert.equal(await get(2), 'reported');
  const first = await backend.waitFor('exception', (e) => e.message === 'checkout failed for cart-1 (42)');
  const second = await backend.waitFor('exception', (e) => e.message === 'checkout failed for cart-2 (42)');
  assert.equal(first.locals_status, 'not_ready', 'the first error came before the debugger');
  assert.equal(second.locals_status, 'captured', app.stderr());
  assert.equal(second.stack_trace[0].local_variables.cartId.value, 'cart-2');
  assert.match(app.stderr(), /the debugger attaches when the first error is reported/);
  assert.match(app.stderr(), /debugger attached again for exception locals/);
});

test("frameworks' control-flow throws (Suspense, redirect, notFound, a thrown Response...) take no locals and no share of the budget: the app's next error still has its locals", async (t) => {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, join(EXC_FIXTURES, 'control-flow.cjs')], { env: agentEnv(backend, { AIVORY_DEBUG: '1', FLOOD: '400' }), t });
  const e = await backend.waitFor('exception', (x) => x.message === 'checkout failed for cart-9 (99)');
  const redirect = await backend.waitFor('exception', (x) => x.message === 'NEXT_REDIRECT');
  assert.equal((await app.exited).code, 0, app.stderr());
  assert.match(app.stdout(), /rendered/);
  assert.equal(e.locals_status, 'captured', app.stderr());
  assert.equal(e.stack_trace[0].local_variables.cartId?.value, 'cart-9');
  // The first signal thrown, reported by the app: the agent resumed its pause without capturing.
  assert.equal(redirect.locals_status, 'unavailable');
  assert.deepEqual(redirect.local_variables, {});
  // 90 signals before the error: within their allowance. The 400 after it: past it, the agent backs off.
  const offs = [...app.stderr().matchAll(/exception pauses off for (\d+) ms: the last one captured nothing \(([^)]*)\)/g)];
  assert.ok(offs.length > 0, app.stderr());
  assert.deepEqual(offs.map((m) => m[2]), offs.map(() => 'framework control-flow throws over 10/s'));
});

test("a bundle's dependencies (from its source map) are treated as dependencies: their own caught throws stop pausing the app, and its next error has its locals", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aivory-bundled-deps-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'node_modules', 'tolerant-json'), { recursive: true });
  await copyFile(join(EXC_FIXTURES, 'tolerant-json.cjs'), join(dir, 'node_modules', 'tolerant-json', 'index.js'));
  await copyFile(join(EXC_FIXTURES, 'bundled-deps.cjs'), join(dir, 'app.cjs'));
  const bundle = join(dir, 'bundle.js');
  await build({ entryPoints: [join(dir, 'app.cjs')], bundle: true, platform: 'node', outfile: bundle, sourcemap: true, logLevel: 'silent' });

  const backend = await startBackend({ t });
  const env = agentEnv(backend, { AIVORY_DEBUG: '1', PKG_ROOT: ROOT });
  const { child: app, port } = await startListening(['--require', REGISTER_CJS, bundle], { env, t, cwd: dir });
  await backend.waitFor('agent');
  // The first throw in the bundle: the agent reads its source map once, after that pause.
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/parse`)).text(), 'parsed 0');
  await app.waitForOutput(/1 range\(s\) of bundled dependencies in .*bundle\.js are treated as dependencies' code/, 10000, 'stderr');
  // 40 throws the dependency catches, then the app's own error, in one run: had those 40 paused,
  // their one site's cap would have switched pauses off before the app's error.
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/burst`)).text(), 'parsed 0');
  const e = await backend.waitFor('exception', (x) => x.message === 'checkout failed for cart-5 (99)');
  assert.equal(e.locals_status, 'captured', app.stderr());
  assert.equal(e.stack_trace[0].local_variables.cartId?.value, 'cart-5');
  assert.equal(e.stack_trace[0].file_path, join(dir, 'app.cjs'), 'the frame, through the source map');
  assert.doesNotMatch(app.stderr(), /exception pauses off/);
});
