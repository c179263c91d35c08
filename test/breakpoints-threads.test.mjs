// Breakpoints on code that runs in the app's worker threads: a service whose pool of two threads
// prices orders (test/fixtures/breakpoints/threads). The backend sees one breakpoint whichever
// threads run the line: installed once some thread has it, hits with the thread's locals and which
// thread it was, max_hits exact across the threads, removal in every thread, pending for a file no
// thread loaded yet, and pending again when the threads it was installed in end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';

const APP_DIR = join(ROOT, 'test', 'fixtures', 'breakpoints', 'threads');
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** 1-based line of the `// BREAKPOINT <name>` marker in a fixture file. */
function lineOf(file, name) {
  const i = readFileSync(join(APP_DIR, file), 'utf8').split('\n').findIndex((l) => l.includes(`// BREAKPOINT ${name}`));
  assert.ok(i >= 0, `marker ${name} in ${file}`);
  return i + 1;
}

/** What the pool answers for q (work.cjs), with or without the agent. */
const totalOf = (q) => 7 * q - (q > 3 ? 1 : 0);

/**
 * Starts the fixture's service under the agent (AIVORY_DEBUG: the tests read its account of the
 * threads), and what the tests do with it.
 */
async function startApp(t, env = {}) {
  const backend = await startBackend({ t });
  const app = startNode(['--require', REGISTER_CJS, join(APP_DIR, 'app.cjs')], { env: agentEnv(backend, { AIVORY_DEBUG: 'true', ...env }), t, cwd: APP_DIR });
  const port = (await app.waitForOutput(/listening (\d+)/))[1];
  await backend.waitFor('agent');
  const get = async (path) => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
  const withStderr = (p) =>
    p.catch((err) => {
      err.message += `\napp stderr:\n${app.stderr().slice(-4000)}`;
      throw err;
    });
  const status = (id, name) => withStderr(backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === id && s.status === name, 15_000));
  const statusesOf = (id) => backend.events('breakpoint_status').filter((s) => s.breakpoint_id === id).map((s) => s.status);
  const hitsOf = (id) => backend.events('breakpoint_hit').filter((h) => h.breakpoint_id === id);
  /** `expect`: the status to wait for; 'installed' waits until both threads have it (the backend hears of the first). */
  const set = async (body, expect) => {
    const { id } = await backend.post('/api/breakpoints', body);
    const st = await status(id, expect);
    if (expect === 'installed') await app.waitForOutput(new RegExp(`(?:worker thread \\d+: breakpoint ${id} installed[^]*?){2}`), 15_000, 'stderr');
    return { id, status: st };
  };
  /** Once a hit of a fresh breakpoint came from each thread, what both threads took before has reached the backend. */
  const barrier = async () => {
    const { id } = await set({ file_path: 'threads/work.cjs', line_number: lineOf('work.cjs', 'price'), max_hits: 2 }, 'installed');
    await get('/price?q=1');
    await get('/price?q=1');
    await withStderr(backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id && h.hit_count === 2, 15_000));
    assert.equal(new Set(hitsOf(id).map((h) => h.context?.thread?.id)).size, 2, 'the barrier heard from both threads');
  };
  return { backend, app, port, get, withStderr, status, statusesOf, hitsOf, set, barrier };
}

test("breakpoints in the app's worker threads: installed there, hits with the thread's locals, max_hits exact across threads, removal, pending files, threads that end", { timeout: 90_000 }, async (t) => {
  const { backend, app, port, get, withStderr, status, statusesOf, hitsOf, set, barrier } = await startApp(t);
  // Breakpoints go to a thread once the agent armed it (a second after it started).
  await app.waitForOutput(/(?:worker thread \d+: exception locals armed[^]*?){2}/, 20_000, 'stderr');
  const priceLine = lineOf('work.cjs', 'price');

  await t.test('installed in the threads: hits carry the thread, its locals and stack; max_hits counts across threads', async () => {
    const { id, status: installed } = await set({ file_path: 'threads/work.cjs', line_number: priceLine, max_hits: 3 }, 'installed');
    assert.equal(installed.actual_line, priceLine);
    assert.match(installed.message, /work\.cjs \(worker thread \d+\)$/);
    // Each thread's gate would take 3 of these 6 requests (they alternate between the threads).
    for (let q = 1; q <= 6; q++) assert.equal(JSON.parse(await get(`/price?q=${q}`)).total, totalOf(q));
    assert.match((await status(id, 'exhausted')).message, /max_hits \(3\) reached/);
    await barrier();
    const hits = hitsOf(id);
    assert.deepEqual(hits.map((h) => h.hit_count).sort(), [1, 2, 3], 'numbered across the threads, none past max_hits');
    assert.deepEqual(statusesOf(id), ['received', 'pending', 'installed', 'exhausted'], 'one breakpoint: pending on the main thread, installed by a thread, one final status');
    const threads = new Set(hits.map((h) => h.context?.thread?.id));
    assert.equal(threads.size, 2, JSON.stringify(hits.map((h) => h.context)));
    for (const id of threads) assert.ok(Number.isInteger(id) && id > 0);
    assert.deepEqual(hits.map((h) => Number(h.local_variables.order.children.quantity.value)).sort(), [1, 2, 3]);
    for (const h of hits) {
      assert.equal(h.line_number, priceLine);
      assert.match(h.file_path, /breakpoints\/threads\/work\.cjs$/);
      assert.equal(h.stack_trace[0].method_name, 'priceOf');
      assert.equal(h.local_variables.unit.value, '7');
      assert.equal(h.local_variables.subtotal.type, 'uninitialized');
      assert.equal(h.local_variables.order.children.currency.value, 'EUR');
      // Node 22 and later tell a thread its name.
      if (NODE_MAJOR >= 22) assert.match(h.context.thread.name, /^pricer-[01]$/);
    }
  });

  await t.test('removed from every thread at once', async () => {
    const { id } = await set({ file_path: 'work.cjs', line_number: priceLine, max_hits: 50 }, 'installed');
    assert.equal(JSON.parse(await get('/price?q=2')).total, totalOf(2));
    await withStderr(backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id));
    await backend.request('DELETE', `/api/breakpoints/${id}`);
    await status(id, 'removed');
    for (let q = 1; q <= 4; q++) assert.equal(JSON.parse(await get(`/price?q=${q}`)).total, totalOf(q));
    await barrier();
    assert.equal(hitsOf(id).length, 1);
    // Not only dropped on the way: no thread took a hit after the removal.
    assert.equal(app.stderr().split('\n').filter((l) => l.includes(`breakpoint ${id} hit`)).length, 1);
  });

  await t.test("a thread's hit reaches the backend while the main thread is busy", async () => {
    const { id } = await set({ file_path: 'threads/work.cjs', line_number: priceLine, max_hits: 1 }, 'installed');
    let answered = false;
    const answer = get('/price-busy?q=5&ms=4000').then((text) => {
      answered = true;
      return text;
    });
    const hit = await withStderr(backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id, 15_000));
    assert.equal(answered, false, 'the hit came while the main thread was still busy');
    assert.equal(hit.local_variables.order.children.quantity.value, '5');
    assert.equal(JSON.parse(await answer).total, totalOf(5));
    await status(id, 'exhausted');
  });

  await t.test('a file no thread loaded yet is pending, and installed when a thread loads it', async () => {
    const line = lineOf('late.cjs', 'late');
    const { id, status: pending } = await set({ file_path: 'threads/late.cjs', line_number: line }, 'pending');
    assert.match(pending.message, /not loaded yet/);
    // Both threads have it (a thread still setting it could load the file first and run the line before it is set).
    await app.waitForOutput(new RegExp(`(?:worker thread \\d+: breakpoint ${id} pending[^]*?){2}`), 15_000, 'stderr');
    assert.deepEqual(JSON.parse(await get('/late')).text, 'hello from the thread');
    const installed = await status(id, 'installed');
    assert.match(installed.message, /worker thread \d+/);
    const hit = await withStderr(backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id, 15_000));
    assert.equal(hit.local_variables.who.value, 'thread');
    assert.equal(hit.local_variables.inThread.value, 'true');
    assert.equal(hit.local_variables.text.value, 'hello from the thread');
    assert.ok(hit.context.thread.id > 0);
    await status(id, 'exhausted');
  });

  await t.test("the backend's configure turns breakpoints off and on again: in the threads too", async () => {
    const agent = await backend.waitFor('agent');
    const { id } = await set({ file_path: 'threads/work.cjs', line_number: priceLine, max_hits: 50 }, 'installed');
    await backend.post(`/api/agents/${agent.agent_id}/configure`, { enable_breakpoints: false });
    assert.match((await status(id, 'removed')).message, /turned off by the backend/);
    for (let q = 1; q <= 2; q++) assert.equal(JSON.parse(await get(`/price?q=${q}`)).total, totalOf(q));
    await backend.post(`/api/agents/${agent.agent_id}/configure`, { enable_breakpoints: true });
    // The threads armed before are known to the new breakpoints: a new one is installed in both.
    await barrier();
    assert.deepEqual(hitsOf(id), []);
    assert.deepEqual(app.stderr().split('\n').filter((l) => l.includes(`breakpoint ${id} hit`)), [], 'no thread took a hit while breakpoints were off');
  });

  await t.test('a thread that lives less than a second runs into a breakpoint set before it started', async () => {
    const armedAtStart = () => app.stderr().split('\n').filter((l) => /worker thread \d+: armed at once, as a breakpoint is set/.test(l)).length;
    assert.equal(armedAtStart(), 0, 'the pool threads started before any breakpoint: armed a second after');
    const line = lineOf('short.cjs', 'short');
    const { id } = await set({ file_path: 'threads/short.cjs', line_number: line, max_hits: 50 }, 'pending');
    assert.equal(await get('/short'), 'done after 9 rounds');
    const hit = await withStderr(backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id, 15_000));
    assert.equal(hit.line_number, line);
    assert.match(hit.file_path, /breakpoints\/threads\/short\.cjs$/);
    assert.equal(hit.stack_trace[0].method_name, 'step');
    assert.equal(hit.local_variables.doubled.type, 'uninitialized');
    assert.ok(Number(hit.local_variables.round.value) >= 1 && Number(hit.local_variables.round.value) <= 9);
    assert.ok(Number(hit.local_variables.sinceStart.value) < 1000, `hit ${hit.local_variables.sinceStart.value} ms into the thread's life`);
    if (NODE_MAJOR >= 22) assert.equal(hit.context.thread.name, 'short-task');
    // Installed in that thread, and pending again once it ended.
    assert.match((await status(id, 'installed')).message, /worker thread \d+/);
    await withStderr(backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === id && s.status === 'pending' && /ended/.test(s.message), 15_000));
    assert.equal(armedAtStart(), 1);
    await backend.request('DELETE', `/api/breakpoints/${id}`);
    await status(id, 'removed');
    // No breakpoint is set now: the next such thread starts as without one (armed after a second, so never).
    assert.equal(await get('/short'), 'done after 9 rounds');
    assert.equal(armedAtStart(), 1);
  });

  await t.test("a hit taken just before its thread ends is not lost", async () => {
    // The thread's last run of the line: its hit reaches the agent over the threads' channel, and
    // may come after the inspector told the agent that the thread ended.
    const { id } = await set({ file_path: 'threads/short.cjs', line_number: lineOf('short.cjs', 'short'), max_hits: 10, condition: 'round === 9' }, 'pending');
    for (let i = 0; i < 3; i++) assert.equal(await get('/short'), 'done after 9 rounds');
    await withStderr(backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id && h.hit_count === 3, 15_000));
    assert.deepEqual(hitsOf(id).map((h) => h.local_variables.round.value), ['9', '9', '9']);
    assert.equal(new Set(hitsOf(id).map((h) => h.context.thread.id)).size, 3, 'one hit from each thread');
    await backend.request('DELETE', `/api/breakpoints/${id}`);
    await status(id, 'removed');
  });

  await t.test('pending again once the threads it was installed in ended', async () => {
    const { id } = await set({ file_path: 'threads/work.cjs', line_number: priceLine }, 'installed');
    assert.equal(await get('/stop'), 'stopped');
    const pending = await withStderr(backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === id && s.status === 'pending' && /ended/.test(s.message), 15_000));
    assert.match(pending.message, /^worker thread \d+, where it was installed, ended; installed when its file loads again$/);
    assert.deepEqual(statusesOf(id), ['received', 'pending', 'installed', 'pending']);
  });

  assert.equal(app.stdout().trim(), `listening ${port}`, 'the app printed nothing but its own line');
  assert.deepEqual(app.stderr().split('\n').filter((l) => l !== '' && !l.startsWith('[aivory-monitor] debug: ')), [], 'nothing but the debug lines');
});

test('a thread that a thread started: its errors have their locals and breakpoints reach it', { timeout: 90_000 }, async (t) => {
  const { backend, app, get, withStderr, status, hitsOf } = await startApp(t);
  const armedCount = () => app.stderr().split('\n').filter((l) => /worker thread \d+: exception locals armed/.test(l)).length;
  const outer = JSON.parse(await get('/nested/start'));
  assert.equal(outer.up, 'outer');
  // The pool's two threads and the outer one.
  await app.waitForOutput(new RegExp(`worker thread ${outer.threadId}: exception locals armed`), 20_000, 'stderr');
  await app.waitForOutput(/(?:worker thread \d+: exception locals armed[^]*?){3}/, 20_000, 'stderr');
  const inner = JSON.parse(await get('/nested/inner'));
  assert.equal(inner.up, 'inner');
  await withStderr(app.waitForOutput(new RegExp(`worker thread ${inner.threadId}: exception locals armed`), 20_000, 'stderr'));
  assert.equal(armedCount(), 4);

  const line = lineOf('nested.cjs', 'nested');
  const { id } = await backend.post('/api/breakpoints', { file_path: 'threads/nested.cjs', line_number: line });
  const installed = await status(id, 'installed');
  assert.match(installed.message, new RegExp(`worker thread ${inner.threadId}\\)?$`));
  assert.equal(JSON.parse(await get('/nested/price?q=3')).total, 27);
  const hit = await withStderr(backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id, 15_000));
  assert.equal(hit.context.thread.id, inner.threadId);
  if (NODE_MAJOR >= 22) assert.equal(hit.context.thread.name, 'inner');
  assert.equal(hit.local_variables.rate.value, '0.9');
  assert.equal(hit.local_variables.order.children.quantity.value, '3');
  await status(id, 'exhausted');
  assert.equal(hitsOf(id).length, 1);

  assert.equal(JSON.parse(await get('/nested/check?q=20')).error, 'nested quantity 20 is over 10');
  const event = await withStderr(backend.waitFor('exception', (e) => e.message === 'nested quantity 20 is over 10', 15_000));
  assert.equal(event.context.thread.id, inner.threadId);
  assert.equal(event.local_variables.limit.value, '10');
  assert.equal(event.local_variables.order.children.quantity.value, '20');
});

test('exception locals off (AIVORY_MAX_PAUSES_PER_SECOND=0): a breakpoint switches the threads\' debuggers on, and they go off again after it', { timeout: 90_000 }, async (t) => {
  const { backend, app, get, withStderr, status, hitsOf, set } = await startApp(t, { AIVORY_MAX_PAUSES_PER_SECOND: '0' });
  const priceLine = lineOf('work.cjs', 'price');
  const armedLines = () => app.stderr().split('\n').filter((l) => /worker thread \d+: armed for breakpoints/.test(l)).length;
  for (let round = 1; round <= 2; round++) {
    const { id } = await set({ file_path: 'threads/work.cjs', line_number: priceLine, max_hits: 2 }, 'installed');
    assert.equal(armedLines(), 2 * round, 'each thread armed once per breakpoint round');
    for (let q = 1; q <= 2; q++) assert.equal(JSON.parse(await get(`/price?q=${q + round}`)).total, totalOf(q + round));
    await status(id, 'exhausted');
    const hits = hitsOf(id);
    assert.equal(hits.length, 2);
    assert.equal(new Set(hits.map((h) => h.context.thread.id)).size, 2);
    assert.deepEqual(hits.map((h) => Number(h.local_variables.order.children.quantity.value)).sort(), [1 + round, 2 + round]);
    // No breakpoint left: the threads are detached with the main thread's debugger.
    await withStderr(app.waitForOutput(new RegExp(`(?:detached from 2 worker thread\\(s\\)[^]*?){${round}}`), 15_000, 'stderr'));
    await withStderr(app.waitForOutput(new RegExp(`(?:debugger detached: no breakpoint is left[^]*?){${round}}`), 15_000, 'stderr'));
  }
  // The threads' errors say why they have no locals, as the main thread's do.
  assert.equal(JSON.parse(await get('/check?q=11')).error, 'quantity 11 is over 10');
  const event = await withStderr(backend.waitFor('exception', (e) => e.exception_type === 'RangeError', 15_000));
  assert.equal(event.locals_status, 'budget');
  assert.ok(event.context.thread.id > 0);
  const log = app.stderr();
  assert.ok(log.indexOf('inspector attached for breakpoints') < log.search(/worker thread \d+: armed for breakpoints/), 'no thread armed before the first breakpoint');
  assert.doesNotMatch(log, /exception locals armed/);
});

test('AIVORY_LOCALS_AFTER_FIRST_ERROR: after the first error, the threads\' errors get their locals too', { timeout: 90_000 }, async (t) => {
  const { backend, app, get, withStderr } = await startApp(t, { AIVORY_LOCALS_AFTER_FIRST_ERROR: 'true' });
  const events = () => backend.events('exception').filter((e) => e.exception_type === 'RangeError');
  assert.equal(JSON.parse(await get('/check?q=11')).error, 'quantity 11 is over 10');
  const first = await withStderr(backend.waitFor('exception', (e) => e.exception_type === 'RangeError', 15_000));
  assert.equal(first.locals_status, 'not_ready', 'the first error attaches the debugger: it goes without locals');
  await app.waitForOutput(/(?:worker thread \d+: exception locals armed[^]*?){2}/, 20_000, 'stderr');
  for (const q of [12, 13]) assert.equal(JSON.parse(await get(`/check?q=${q}`)).error, `quantity ${q} is over 10`);
  await withStderr(backend.waitFor('exception', () => events().length === 3, 15_000));
  const later = events().slice(1);
  assert.equal(new Set(later.map((e) => e.context.thread.id)).size, 2, 'one from each thread');
  for (const e of later) {
    assert.equal(e.locals_status, 'captured', JSON.stringify(e.context));
    assert.equal(e.stack_trace[0].method_name, 'checkOrder');
    assert.equal(e.stack_trace[0].local_variables.limit.value, '10');
  }
  assert.deepEqual(later.map((e) => Number(e.stack_trace[0].local_variables.order.children.quantity.value)).sort(), [12, 13]);
});

test("a worker thread's errors past its pause budget say so (locals_status: budget)", { timeout: 90_000 }, async (t) => {
  const { backend, app, get, withStderr } = await startApp(t, { AIVORY_MAX_PAUSES_PER_SECOND: '1' });
  await app.waitForOutput(/(?:worker thread \d+: exception locals armed[^]*?){2}/, 20_000, 'stderr');
  // Three errors in each thread within a moment: one pause each per second.
  for (let q = 11; q <= 16; q++) assert.equal(JSON.parse(await get(`/check?q=${q}`)).error, `quantity ${q} is over 10`);
  await withStderr(backend.waitFor('exception', () => backend.events('exception').length === 6, 15_000));
  const statuses = backend.events('exception').map((e) => e.locals_status);
  assert.ok(statuses.includes('captured'), statuses.join());
  assert.ok(statuses.includes('budget'), statuses.join());
  assert.deepEqual(statuses.filter((s) => s !== 'captured' && s !== 'budget'), [], statuses.join());
});
