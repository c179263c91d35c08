// Non-breaking breakpoints end to end: a real express app with the real preload, the real dev backend
// (`aivory-monitor server`) sending set/remove_breakpoint, and what the agent reports back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REGISTER_CJS, ROOT, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';

const APP_DIR = join(ROOT, 'test', 'fixtures', 'breakpoints', 'app');
const ROUTES = join(APP_DIR, 'routes.cjs');

/** 1-based line of the `// BREAKPOINT <name>` marker in a fixture file. */
function lineOf(file, name) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(`// BREAKPOINT ${name}`));
  assert.ok(i >= 0, `marker ${name} in ${file}`);
  return i + 1;
}

async function startApp(t, { env = {}, args = [] } = {}) {
  const backend = await startBackend({ t });
  const app = startNode([...args, '--require', REGISTER_CJS, join(APP_DIR, 'app.cjs')], { env: agentEnv(backend, env), t, cwd: APP_DIR });
  const m = await app.waitForOutput(/listening (\d+)/);
  await backend.waitFor('agent');
  const base = `http://127.0.0.1:${m[1]}`;
  const get = async (path) => {
    const res = await fetch(base + path);
    return { status: res.status, body: await res.text() };
  };
  // Timeouts say what the app printed (with AIVORY_DEBUG, the agent's own account).
  const withStderr = (p) => p.catch((err) => {
    err.message += `\napp stderr:\n${app.stderr().slice(-4000)}`;
    throw err;
  });
  const status = (id, name, ms) => withStderr(backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === id && s.status === name, ms));
  const waitFor = (name, predicate, ms) => withStderr(backend.waitFor(name, predicate, ms));
  const set = async (body, expect = 'installed') => {
    const bp = await backend.post('/api/breakpoints', body);
    const st = expect ? await status(bp.id, expect) : undefined;
    return { id: bp.id, status: st };
  };
  /** Resolves once every hit the agent produced before it has reached the backend (hits travel in order). */
  const barrier = async () => {
    const bp = await set({ file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'ping') });
    assert.equal((await get('/ping')).body, 'pong');
    await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === bp.id);
  };
  const hitsOf = (id) => backend.events('breakpoint_hit').filter((h) => h.breakpoint_id === id);
  return { backend, app, base, get, set, status, waitFor, barrier, hitsOf };
}

test('a hit on an express route carries the stack and the locals; max_hits 1 then exhausted', async (t) => {
  const { get, set, status, barrier, hitsOf, app, backend } = await startApp(t);
  const line = lineOf(ROUTES, 'user');
  const { id, status: installed } = await set({ file_path: 'breakpoints/app/routes.cjs', line_number: line });
  assert.equal(installed.actual_line, line);

  assert.equal((await get('/user/1')).status, 200);
  const h = await backend.waitFor('breakpoint_hit', (x) => x.breakpoint_id === id);
  assert.match((await status(id, 'exhausted')).message, /max_hits \(1\) reached/);
  assert.equal(h.hit_count, 1);
  assert.equal(h.line_number, line);
  assert.match(h.file_path, /breakpoints\/app\/routes\.cjs$/);
  assert.match(h.agent_id, /^agent-[0-9a-f]+-[0-9a-f]{8}$/);
  assert.ok(Date.parse(h.captured_at) > 0);
  const top = h.stack_trace[0];
  assert.equal(top.method_name, 'handleUser');
  assert.equal(top.line_number, line);
  assert.equal(top.in_app, true);
  assert.ok(h.stack_trace.some((f) => /node_modules\/(express|router)\//.test(f.file_path) && f.in_app === false), 'express frames below');
  const v = h.local_variables;
  assert.equal(v.id.type, 'number');
  assert.equal(v.id.value, '1');
  assert.equal(v.user.children.name.value, 'Ada');
  assert.equal(v.user.children.roles.array_length, 2);
  assert.equal(v.cart.children.total.value, '10');
  assert.equal(v.password.value, '[REDACTED]');
  assert.equal(v.req.children.method.value, 'GET');
  assert.deepEqual(top.local_variables, v);
  assert.deepEqual(h.context?.user, { id: '1', username: 'Ada' }, 'the request context at the line');
  assert.equal(h.context?.request?.method, 'GET', 'the request the line ran for');
  assert.match(h.context?.request?.url ?? '', /\/user\/1$/);
  assert.equal(h.context?.request?.route, '/user/:id');

  // Exhausted: the V8 breakpoint is gone, later requests are not captured.
  for (let i = 0; i < 5; i++) assert.equal((await get('/user/2')).status, 200);
  await barrier();
  assert.equal(hitsOf(id).length, 1);
  assert.equal(app.stdout().trim().split('\n').length, 1, 'the app printed nothing but its own line');
  assert.doesNotMatch(app.stderr(), /aivory|Debugger/);
});

test('hits are taken in-line: the line\'s locals and the whole stack, no pause; stack_locals: true adds every in-app frame\'s locals', async (t) => {
  const { get, set, hitsOf, waitFor } = await startApp(t);
  const line = lineOf(ROUTES, 'nested');
  const inline = await set({ file_path: 'routes.cjs', line_number: line });
  assert.match(inline.status.message, /hits are taken without pausing the app/);
  const answer = JSON.parse((await get('/quote?q=3')).body);
  assert.deepEqual(answer, { total: 20, kept: true, formatterCalls: 0 }, 'the app\'s Error.prepareStackTrace neither called nor replaced');
  const h = await waitFor('breakpoint_hit', (x) => x.breakpoint_id === inline.id);
  assert.equal(h.local_variables.unit.value, '7');
  assert.equal(h.local_variables.order.children.quantity.value, '3');
  // The line declares `subtotal`: not set yet when the line runs (not `undefined`).
  assert.deepEqual([h.local_variables.subtotal.type, h.local_variables.subtotal.value], ['uninitialized', '<uninitialized>']);
  assert.equal(h.context?.request?.route, '/quote');
  const [top, caller] = h.stack_trace;
  assert.equal(top.method_name, 'priceOf');
  assert.equal(top.line_number, line);
  assert.deepEqual(top.local_variables, h.local_variables);
  assert.equal(caller.method_name, 'quote');
  assert.equal(caller.line_number, lineOf(ROUTES, 'caller'));
  assert.equal(caller.local_variables, undefined, 'in-line: the line\'s own frame only');
  assert.ok(h.stack_trace.some((f) => /node_modules\/(express|router)\//.test(f.file_path) && f.in_app === false), 'express frames below');

  const full = await set({ file_path: 'routes.cjs', line_number: line, stack_locals: true });
  assert.doesNotMatch(full.status.message, /without pausing/);
  assert.equal(JSON.parse((await get('/quote?q=4')).body).total, 27);
  const f = await waitFor('breakpoint_hit', (x) => x.breakpoint_id === full.id);
  assert.equal(f.local_variables.order.children.quantity.value, '4');
  assert.equal(f.stack_trace[1].method_name, 'quote');
  assert.equal(f.stack_trace[1].local_variables.discount.value, '1', 'the caller\'s locals, captured during the pause');
  assert.equal(hitsOf(inline.id).length, 1);
});

test("a hit leaves the app's own callbacks as they were: a microtask its immediate queues still runs from native code", async (t) => {
  const { get, set, backend } = await startApp(t);
  const before = (await get('/microtask-stack')).body;
  assert.match(before, /^at \S+routes\.cjs:\d+:\d+$/, 'one frame without a hit');
  const { id } = await set({ file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'microtask') });
  assert.equal((await get('/microtask-stack')).body, before, 'no runNextTicks/processImmediate frames');
  await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === id);
});

test('file_path forms (suffix, absolute, file:// URL) and two breakpoints on one line all work', async (t) => {
  const { get, set, status, hitsOf } = await startApp(t);
  const line = lineOf(ROUTES, 'user');
  const forms = ['routes.cjs', ROUTES, pathToFileURL(ROUTES).href, '/somewhere/else/breakpoints/app/routes.cjs'];
  const ids = [];
  for (const file_path of forms) ids.push((await set({ file_path, line_number: line })).id);
  assert.equal((await get('/user/2')).status, 200);
  for (const id of ids) await status(id, 'exhausted');
  for (const id of ids) {
    const [h] = hitsOf(id);
    assert.equal(h.local_variables.id.value, '2');
    assert.equal(h.hit_count, 1);
  }
});

test('max_hits is exact under 50 concurrent requests, and every request is answered', async (t) => {
  const { get, set, status, barrier, hitsOf, app, backend } = await startApp(t, { env: { AIVORY_DEBUG: 'true' } });
  const { id } = await set({ file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'user'), max_hits: 7 });
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`/user/${i % 3}`)));
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
  await status(id, 'exhausted');
  await barrier();
  const hits = hitsOf(id);
  assert.equal(hits.length, 7);
  assert.deepEqual(hits.map((h) => h.hit_count).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
  // The app paused exactly 7 times for it: every pause of ours is logged (debug) as a hit or a drop.
  const pausesOf = (bpId) => app.stderr().split('\n').filter((l) => l.includes(`breakpoint ${bpId} `) && / (hit \d+\/|paused after it ended)/.test(l));
  assert.equal(pausesOf(id).length, 7, pausesOf(id).join('\n'));

  // The same line run 50 times in one tick: the worker cannot step in between, only the V8 condition can.
  const loop = await set({ file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'tally'), max_hits: 7 });
  assert.equal(JSON.parse((await get('/tally?n=50')).body).total, 1225);
  await status(loop.id, 'exhausted');
  await barrier();
  assert.deepEqual(hitsOf(loop.id).map((h) => h.local_variables.i.value), ['0', '1', '2', '3', '4', '5', '6']);
  assert.equal(pausesOf(loop.id).length, 7, pausesOf(loop.id).join('\n'));
  // The hit path was warmed up once, when the first breakpoint came, and that hit stayed in the agent.
  assert.equal(app.stderr().split('\n').filter((l) => l.includes('breakpoint hits warmed up')).length, 1);
  assert.deepEqual(backend.events('breakpoint_hit').filter((h) => h.breakpoint_id === 'aivory-monitor.warm-up'), []);
});

test('conditions: true, false, throwing, and side-effecting (rejected up front)', async (t) => {
  const { get, set, barrier, hitsOf, backend, waitFor } = await startApp(t, { env: { AIVORY_DEBUG: 'true' } });
  const line = lineOf(ROUTES, 'user');
  const yes = await set({ file_path: 'routes.cjs', line_number: line, condition: 'user.id === 2 && cart.total > 10', max_hits: 5 });
  const no = await set({ file_path: 'routes.cjs', line_number: line, condition: 'id === 999' });
  const throws = await set({ file_path: 'routes.cjs', line_number: line, condition: 'user.profile.name === "x"' });
  const assigns = await set({ file_path: 'routes.cjs', line_number: line, condition: 'user.name = "hacked"' }, 'error');
  assert.match(assigns.status.message, /assignment/);
  const exits = await set({ file_path: 'routes.cjs', line_number: line, condition: 'process.exit(3)' }, 'error');
  assert.match(exits.status.message, /process/);
  const calls = await set({ file_path: 'routes.cjs', line_number: line, condition: 'users.clear() || true' }, 'error');
  assert.match(calls.status.message, /clear/);

  for (const path of ['/user/1', '/user/2', '/user/1', '/user/2']) {
    const r = await get(path);
    assert.equal(r.status, 200);
    assert.doesNotMatch(r.body, /hacked/);
  }
  const thrown = await waitFor('breakpoint_status', (s) => s.breakpoint_id === throws.id && /condition threw/.test(s.message ?? ''));
  assert.match(thrown.message, /TypeError/);
  await barrier();
  assert.deepEqual(hitsOf(yes.id).map((h) => h.local_variables.id.value), ['2', '2']);
  assert.equal(hitsOf(no.id).length, 0);
  assert.equal(hitsOf(throws.id).length, 0);
  assert.equal(hitsOf(assigns.id).length, 0);
  // The app is fine: a rejected process.exit() never ran; the false condition is still installed.
  assert.equal((await get('/user/1')).status, 200);
  assert.equal(backend.events('breakpoint_status').filter((s) => s.breakpoint_id === no.id && s.status !== 'received' && s.status !== 'installed').length, 0);
});

test('pending breakpoints: CJS and ESM modules loaded later hit on their first run', async (t) => {
  const { get, set, status, hitsOf } = await startApp(t);
  const cjs = await set({ file_path: 'app/later.cjs', line_number: lineOf(join(APP_DIR, 'later.cjs'), 'later-cjs') }, 'pending');
  const esm = await set({ file_path: 'app/later.mjs', line_number: lineOf(join(APP_DIR, 'later.mjs'), 'later-esm') }, 'pending');
  assert.match(cjs.status.message, /not loaded yet/);

  assert.equal(JSON.parse((await get('/later-cjs?n=4')).body).doubled, 8);
  assert.equal((await status(cjs.id, 'installed')).actual_line, lineOf(join(APP_DIR, 'later.cjs'), 'later-cjs'));
  await status(cjs.id, 'exhausted');
  assert.equal(hitsOf(cjs.id)[0].local_variables.doubled.value, '8');

  assert.equal(JSON.parse((await get('/later-esm?n=5')).body).tripled, 15);
  await status(esm.id, 'exhausted');
  const [h] = hitsOf(esm.id);
  assert.equal(h.local_variables.tripled.value, '15');
  assert.match(h.file_path, /later\.mjs$/);
});

test('TypeScript through its source map: lines in the .ts file, loaded before and after the breakpoint', async (t) => {
  const { get, set, status, hitsOf, backend, waitFor } = await startApp(t, { env: { AIVORY_DEBUG: 'true' } });
  const calcTs = join(APP_DIR, 'ts', 'src', 'calc.ts');
  const line = lineOf(calcTs, 'ts');

  // Not loaded yet: pending, installed through the map when the compiled file loads.
  const pending = await set({ file_path: 'src/calc.ts', line_number: line - 1 }, 'pending');
  await new Promise((resolve, reject) => {
    // The first run may happen before the worker has read the map; keep the traffic going until it is installed and hit.
    const timer = setInterval(() => void get('/ts?q=3').catch(reject), 50);
    waitFor('breakpoint_status', (s) => s.breakpoint_id === pending.id && s.status === 'exhausted', 10000).then(
      () => { clearInterval(timer); resolve(); },
      (err) => { clearInterval(timer); reject(err); },
    );
  });
  const st = backend.events('breakpoint_status').find((s) => s.breakpoint_id === pending.id && s.status === 'installed');
  assert.equal(st.actual_line, line, 'blank line snapped to the next line with code');
  assert.match(st.message, /snapped/);
  const [h] = hitsOf(pending.id);
  assert.match(h.file_path, /ts\/src\/calc\.ts$/);
  assert.equal(h.line_number, line);
  assert.match(h.stack_trace[0].generated.file_path, /ts\/dist\/calc\.js$/);
  assert.equal(h.local_variables.quantity.value, '3');
  assert.equal(h.local_variables.quote.children.unit.value, '7');

  // Loaded now: installed at once, through the map.
  const loaded = await set({ file_path: calcTs, line_number: line });
  assert.equal(loaded.status.actual_line, line);
  assert.equal(JSON.parse((await get('/ts?q=4')).body).total, 28);
  await status(loaded.id, 'exhausted');
  assert.equal(hitsOf(loaded.id)[0].local_variables.quantity.value, '4');
});

test('remove_breakpoint takes effect at once; expiry (short ttl) removes it too', async (t) => {
  const { get, set, status, barrier, hitsOf, backend } = await startApp(t);
  const line = lineOf(ROUTES, 'user');
  const removed = await set({ file_path: 'routes.cjs', line_number: line, max_hits: 50 });
  const expiring = await set({ file_path: 'routes.cjs', line_number: line, max_hits: 50, ttl_seconds: 1, condition: 'id === 77' });
  await backend.del(`/api/breakpoints/${removed.id}`);
  await status(removed.id, 'removed');
  await status(expiring.id, 'expired', 5000);
  for (let i = 0; i < 3; i++) assert.equal((await get('/user/77')).status, 200);
  await barrier();
  assert.equal(hitsOf(removed.id).length, 0);
  assert.equal(hitsOf(expiring.id).length, 0);
});

test('the service keeps answering while a breakpoint is hit repeatedly', async (t) => {
  const { get, set, hitsOf } = await startApp(t);
  const { id } = await set({ file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'user'), max_hits: 50 });
  const latencies = [];
  let next = 0;
  const worker = async () => {
    while (next < 400) {
      const n = next++;
      const t0 = performance.now();
      const r = await get(`/user/${n % 3}`);
      latencies.push(performance.now() - t0);
      assert.equal(r.status, 200);
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  latencies.sort((a, b) => a - b);
  const max = latencies[latencies.length - 1];
  // Generous: the machine is shared. A stuck pause would hang a request for good.
  assert.ok(max < 2000, `slowest request ${max.toFixed(0)} ms`);
  assert.ok(hitsOf(id).length >= 5, `it was hit (${hitsOf(id).length})`);
});

test('a line run too often: hits past 10 per second are skipped, and past the CPU budget the breakpoint is removed (exhausted)', async (t) => {
  const { get, set, status, barrier, hitsOf, backend } = await startApp(t);
  // 50 runs of the line in one tick with max_hits 50: the per-breakpoint rate cap lets 10 through.
  const capped = await set({ file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'tally'), max_hits: 50 });
  assert.equal(JSON.parse((await get('/tally?n=50')).body).total, 1225);
  await barrier();
  assert.deepEqual(hitsOf(capped.id).map((h) => h.local_variables.i.value), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  await backend.del(`/api/breakpoints/${capped.id}`);
  await status(capped.id, 'removed');

  // A condition that is never true on a line run 5000 times in one tick: each evaluation is charged
  // against the 50 ms/s budget, which runs out; the breakpoint is removed and the app answers right.
  const hot = await set({ file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'tally'), condition: 'i < 0', max_hits: 5 });
  assert.equal(JSON.parse((await get('/tally?n=5000')).body).total, 12497500);
  assert.match((await status(hot.id, 'exhausted')).message, /CPU budget/);
  assert.equal(JSON.parse((await get('/tally?n=5000')).body).total, 12497500);
  await barrier();
  assert.equal(hitsOf(hot.id).length, 0);
  assert.equal(backend.events('breakpoint_status').filter((s) => s.breakpoint_id === hot.id && s.status === 'exhausted').length, 1);
});

test('AIVORY_ENABLE_BREAKPOINTS=false: set_breakpoint is answered "disabled" and nothing is captured', async (t) => {
  const { get, backend, hitsOf } = await startApp(t, { env: { AIVORY_ENABLE_BREAKPOINTS: 'false' } });
  const bp = await backend.post('/api/breakpoints', { file_path: 'routes.cjs', line_number: lineOf(ROUTES, 'user') });
  const st = await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id);
  assert.equal(st.status, 'error');
  assert.equal(st.message, 'disabled');
  assert.equal((await get('/user/1')).status, 200);
  assert.equal(backend.events('breakpoint_status').filter((s) => s.breakpoint_id === bp.id).length, 1);
  assert.equal(hitsOf(bp.id).length, 0);
  const agent = backend.events('agent')[0];
  assert.equal(agent.capabilities.breakpoints, false);
});

test('exception locals off (AIVORY_MAX_PAUSES_PER_SECOND=0): no debugger until a breakpoint arrives, and none again once no breakpoint is left', async (t) => {
  const { get, set, status, hitsOf, app } = await startApp(t, { env: { AIVORY_MAX_PAUSES_PER_SECOND: '0', AIVORY_DEBUG: 'true' } });
  assert.equal((await get('/user/1')).status, 200);
  assert.match(app.stderr(), /exception locals are off: the debugger attaches only for a breakpoint/);
  assert.doesNotMatch(app.stderr(), /inspector attached/, 'registered without a debugger');
  const line = lineOf(ROUTES, 'user');
  const { id } = await set({ file_path: 'routes.cjs', line_number: line });
  // The app's stderr arrives on its own pipe: not necessarily before the status the backend got.
  await app.waitForOutput(/inspector attached for breakpoints/, 10000, 'stderr');
  assert.doesNotMatch(app.stderr(), /exception locals armed/);
  assert.equal((await get('/user/2')).status, 200);
  await status(id, 'exhausted');
  const [h] = hitsOf(id);
  assert.equal(h.line_number, line);
  assert.equal(h.local_variables.id.value, '2');

  // The last breakpoint is gone: the debugger goes off (awaits run at full speed again).
  await app.waitForOutput(/debugger detached: no breakpoint is left/, 10000, 'stderr');
  // A module loaded while it is off is still known when the next breakpoint switches it on.
  const laterFile = join(APP_DIR, 'later.cjs');
  assert.equal(JSON.parse((await get('/later-cjs?n=4')).body).doubled, 8);
  const again = await set({ file_path: 'app/later.cjs', line_number: lineOf(laterFile, 'later-cjs') });
  assert.match(again.status.message, /without pausing/, 'found among the scripts V8 replayed');
  await app.waitForOutput(/debugger attached again for a breakpoint/, 10000, 'stderr');
  assert.equal(JSON.parse((await get('/later-cjs?n=6')).body).doubled, 12);
  await status(again.id, 'exhausted');
  assert.equal(hitsOf(again.id)[0].local_variables.doubled.value, '12');
  await app.waitForOutput(/debugger detached(?:.|\n)*debugger detached: no breakpoint is left/, 10000, 'stderr');
  assert.doesNotMatch(app.stderr(), /exception locals armed/);
});

test("the app's own debugger (--inspect): its pauses stay its own, ours are refused with a reason", async (t) => {
  const { default: WebSocket } = await import('ws');
  const { get, backend, app } = await startApp(t, { args: ['--inspect=127.0.0.1:0'] });
  const [, wsUrl] = await app.waitForOutput(/Debugger listening on (ws:\/\/\S+)/, 15000, 'stderr');
  const line = lineOf(ROUTES, 'user');

  // While the app runs its own inspector, the agent stays out of the debugger altogether.
  const ours = await backend.post('/api/breakpoints', { file_path: 'routes.cjs', line_number: line });
  const refused = await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === ours.id && s.status === 'error');
  assert.match(refused.message, /own debugger/);

  const cdp = new WebSocket(wsUrl);
  t.after(() => cdp.terminate());
  await new Promise((resolve, reject) => cdp.once('open', resolve).once('error', reject));
  let nextId = 1;
  const pending = new Map();
  let onPaused;
  cdp.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)(msg);
    if (msg.method === 'Debugger.paused') onPaused?.(msg.params);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      cdp.send(JSON.stringify({ id, method, params }));
    });
  await send('Debugger.enable');
  const own = await send('Debugger.setBreakpointByUrl', { urlRegex: 'routes\\.cjs$', lineNumber: line - 1 });
  assert.ok(own.result.breakpointId);

  // The user's breakpoint pauses the app and it stays paused until the user resumes it.
  const userPause = new Promise((resolve) => (onPaused = resolve));
  let answered = false;
  const request = get('/user/1').then((r) => ((answered = true), r));
  const p = await userPause;
  assert.deepEqual(p.hitBreakpoints, [own.result.breakpointId]);
  assert.equal(answered, false, 'still paused: nobody else resumed it');
  await send('Debugger.resume');
  assert.equal((await request).status, 200);
  assert.equal(backend.events('breakpoint_hit').length, 0);
});

test('hits inside koa, hapi and fastify requests carry the request, its route, user and context', async (t) => {
  const file = join(ROOT, 'test', 'fixtures', 'apps', 'concurrency.cjs');
  await Promise.all(['koa3', 'hapi21', 'fastify5'].map(async (framework) => {
    const backend = await startBackend({ t });
    const app = startNode(['--require', REGISTER_CJS, file], { env: agentEnv(backend, { FRAMEWORK: framework }), t });
    const [, port] = await app.waitForOutput(/listening (\d+)/);
    await backend.waitFor('agent');
    const bp = await backend.post('/api/breakpoints', { file_path: 'apps/concurrency.cjs', line_number: lineOf(file, 'fail'), condition: 'n === 3' });
    await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'installed');
    for (const n of [2, 3]) assert.equal((await fetch(`http://127.0.0.1:${port}/c/${n}`)).status, 500);
    const h = await backend.waitFor('breakpoint_hit', (e) => e.breakpoint_id === bp.id);
    assert.deepEqual(h.context.user, { id: 'user-3', username: 'name-3' }, framework);
    assert.equal(h.context.n, 3, framework);
    assert.match(h.context.request.url, /\/c\/3$/, framework);
    assert.equal(h.context.request.method, 'GET', framework);
    assert.equal(h.context.request.route, { koa3: '/c/:n', hapi21: '/c/{n}', fastify5: '/c/:n' }[framework], framework);
  }));
});
