// Blocked event loops (AIVORY_EVENT_LOOP_BLOCKED_MS): a request that keeps the loop busy in
// JavaScript, and one that waits in native code (a synchronous child process), are each reported
// once, as an EventLoopBlocked event whose stack and locals are those of the blocking code, with the
// request it served. Answers and output stay the same; without the setting nothing is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, assertSameOutput, cleanEnv, startListening } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { frameNamed, markers, values } from './helpers/exceptions.mjs';
import { get } from './helpers/http.mjs';

const require = createRequire(import.meta.url);
const { createLoopWatch, watchInterval } = require('../dist/worker/blocked-loop/watch.js');
const { createBlockedReport } = require('../dist/worker/blocked-loop/report.js');
const { loopDelayResolution } = require('../dist/main/loop-delay.js');
const { resolveConfig } = require('../dist/shared/config.js');
const { parseConfigure } = require('../dist/worker/configure.js');

const APP = join(ROOT, 'test', 'fixtures', 'blocked-loop', 'app.cjs');
const LINES = markers(APP);
const THRESHOLD_MS = 300;

/**
 * Runs the requests one after the other, then `/fail`, which crashes the app (its error event marks
 * the end); returns the answers.
 */
async function requestAll(port, paths, arrivals = []) {
  const out = [];
  for (const p of paths) {
    out.push(await get(port, p));
    arrivals.push(Date.now());
  }
  out.push(await get(port, '/fail').catch((err) => err.code));
  return out;
}

async function run(t, { environment, paths, setting, env = {} }) {
  const base = await startListening([APP], { env: cleanEnv(env), t });
  const without = await requestAll(base.port, paths);
  const baseClosed = await base.child.closed;
  assert.equal(baseClosed.code, 1, 'the app crashes on /fail');

  const backend = await startBackend({ t });
  const extra = { AIVORY_ENVIRONMENT: environment, ...env };
  if (setting !== undefined) extra.AIVORY_EVENT_LOOP_BLOCKED_MS = String(setting);
  const { child: app, port } = await startListening(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, extra), t });
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const arrivals = [];
  const got = await requestAll(port, paths, arrivals);
  assert.deepEqual(got, without, 'the answers are the same as without the agent');
  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'done: the last request', 15000);
  const closed = await app.closed;
  assert.equal(closed.code, baseClosed.code, `the app exited ${closed.code ?? closed.signal}; stderr:\n${closed.stderr}`);
  assertSameOutput(closed, baseClosed);
  // A stretch's event leaves when the loop is back, at the latest while the app exits: it may reach
  // the backend after the crash's. Without the setting there is none to wait for.
  if (setting !== undefined) await backend.waitFor('exception', (e) => e.environment === environment && e.exception_type === 'EventLoopBlocked', 15000);
  const blocked = backend.events('exception').filter((e) => e.environment === environment && e.exception_type === 'EventLoopBlocked');
  return Object.assign(blocked, { arrivals });
}

test('a loop kept busy in JavaScript is reported once, at the blocking line, with its locals and request', { timeout: 60_000 }, async (t) => {
  const blocked = await run(t, { environment: 'blocked-js', paths: ['/', '/crunch?ms=3000', '/'], setting: THRESHOLD_MS });
  assert.equal(blocked.length, 1, 'one report for one blocked stretch');
  const [e] = blocked;
  assert.equal(e.mechanism, 'event_loop_blocked');
  // Sent once the loop is back, with how long it was blocked: the 3 s loop and the rest of its request.
  const ms = Number(/^The event loop was blocked for (\d+) ms$/.exec(e.message)?.[1]);
  assert.ok(ms >= 2950 && ms < 5000, `the whole stretch (${e.message})`);
  assert.deepEqual(e.context.event_loop, { blocked_ms: ms, threshold_ms: THRESHOLD_MS, still_blocked: false });
  const sentAfter = Date.parse(e.received_at) - Date.parse(e.captured_at);
  assert.ok(sentAfter >= 2500 && sentAfter < 6000, `captured_at is when the stretch began, ${sentAfter} ms before the event arrived`);
  const top = e.stack_trace.find((f) => f.in_app);
  assert.equal(top.method_name, 'crunch');
  assert.equal(top.line_number, LINES.loop);
  assert.equal(e.locals_status, 'captured');
  const locals = values(top.local_variables);
  assert.equal(locals.limitMs, '3000');
  assert.equal(locals.label, 'report-card');
  assert.ok(Number(locals.rounds) > 0, 'the loop counter as it was at the capture');
  assert.deepEqual(values(e.local_variables), locals, 'top-level locals are the blocking frame\'s');
  assert.equal(e.context.request.method, 'GET');
  assert.match(e.context.request.url, /\/crunch\?ms=3000$/);
});

test('a regular expression that backtracks for long is reported at the line that runs it', { timeout: 60_000 }, async (t) => {
  const blocked = await run(t, { environment: 'blocked-regex', paths: ['/name?n=25'], setting: THRESHOLD_MS });
  assert.equal(blocked.length, 1);
  const top = blocked[0].stack_trace.find((f) => f.in_app);
  assert.equal(top.method_name, 'isPlainName');
  assert.equal(top.line_number, LINES.regex);
  assert.equal(values(top.local_variables).input, `${'a'.repeat(25)}!`);
  // How long V8 takes over this pattern varies a lot (0.4 to 9 s here, as it tiers the expression
  // up): reported when it ended, or still blocked after 5 s.
  assert.ok(Number(/^The event loop was blocked for (?:at least )?(\d+) ms(?: \(still blocked when reported\))?$/.exec(blocked[0].message)?.[1]) >= THRESHOLD_MS, blocked[0].message);
});

test('a dependency that blocks is stopped inside it (not skipped as library code); still blocked after 5 s, it is reported then', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aivory-blocked-dep-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pkg = join(dir, 'node_modules', 'slow-dependency');
  await mkdir(pkg, { recursive: true });
  await writeFile(join(pkg, 'index.js'), 'exports.spin = function spin(ms) {\n  const until = Date.now() + ms;\n  let turns = 0;\n  while (Date.now() < until) turns++;\n  return turns;\n};\n');
  const blocked = await run(t, { environment: 'blocked-dependency', paths: ['/dependency?ms=7000'], setting: THRESHOLD_MS, env: { SLOW_DEPENDENCY: pkg } });
  assert.equal(blocked.length, 1);
  const [e] = blocked;
  assert.equal(e.stack_trace[0].method_name, 'spin');
  assert.equal(e.stack_trace[0].in_app, false);
  const app = e.stack_trace.find((f) => f.in_app);
  assert.equal(app.line_number, LINES.dependency);
  assert.equal(values(app.local_variables).budgetMs, '7000');
  const ms = Number(/^The event loop was blocked for at least (\d+) ms \(still blocked when reported\)$/.exec(e.message)?.[1]);
  assert.ok(ms >= 5000 && ms < 7000, e.message);
  assert.ok(Date.parse(e.received_at) < blocked.arrivals[0], 'reported while the dependency still ran');
});

test('with the debugger attached only after the first error, a blocked loop attaches it for its capture', { timeout: 60_000 }, async (t) => {
  const blocked = await run(t, { environment: 'blocked-deferred', paths: ['/crunch?ms=3000'], setting: THRESHOLD_MS, env: { AIVORY_LOCALS_AFTER_FIRST_ERROR: 'true' } });
  assert.equal(blocked.length, 1);
  const top = blocked[0].stack_trace.find((f) => f.in_app);
  assert.equal(top.method_name, 'crunch');
  assert.equal(values(top.local_variables).limitMs, '3000');
});

test('a loop blocked in native code is reported with the app frame that called it', { timeout: 60_000 }, async (t) => {
  const blocked = await run(t, { environment: 'blocked-native', paths: ['/child?s=1'], setting: THRESHOLD_MS });
  assert.equal(blocked.length, 1);
  const [e] = blocked;
  assert.ok(Number(/^The event loop was blocked for (\d+) ms$/.exec(e.message)?.[1]) >= 900, e.message);
  const caller = frameNamed(e, 'waitForChild');
  assert.equal(caller.line_number, LINES.child);
  assert.equal(values(caller.local_variables).seconds, '1');
  assert.match(e.context.request.url, /\/child\?s=1$/);
});

test('without AIVORY_EVENT_LOOP_BLOCKED_MS a blocked loop is not reported', { timeout: 60_000 }, async (t) => {
  const blocked = await run(t, { environment: 'blocked-off', paths: ['/crunch?ms=800'], setting: undefined });
  assert.equal(blocked.length, 0);
});

test("the backend's configure turns blocked-loop reports on, changes their threshold and turns them off while the app runs", { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'blocked-live';
  const { child: app, port } = await startListening(['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment, AIVORY_DEBUG: '1' }), t });
  const agent = await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const blocked = () => backend.events('exception').filter((e) => e.environment === environment && e.exception_type === 'EventLoopBlocked');
  /** Sends `configure` and waits for the agent's debug line saying it is in force (one more of them). */
  const configure = async (body, line) => {
    const before = (app.stderr().match(new RegExp(line.source, 'g')) ?? []).length;
    await backend.post(`/api/agents/${agent.agent_id}/configure`, body);
    await app.waitForOutput(new RegExp(`(?:[^]*?${line.source}){${before + 1}}`), 15000, 'stderr');
  };
  const crunch = async (ms) => assert.equal((await get(port, `/crunch?ms=${ms}`)).status, 200);
  const reportsNow = (count) => backend.waitFor('exception', () => blocked().length === count, 15000);

  // Off at start (the setting was not given): on from the backend's word, 300 ms.
  await crunch(800);
  await configure({ event_loop_blocked_ms: 300 }, /blocked event loops are reported from \d+ ms on/);
  await crunch(1500);
  await reportsNow(1);
  // Raised to 1000 ms: a 600 ms stretch is no longer one, a 1600 ms one is.
  await configure({ event_loop_blocked_ms: 1000 }, /blocked event loops are reported from \d+ ms on/);
  await crunch(600);
  await crunch(1600);
  await reportsNow(2);
  // Off; a value it cannot use changes nothing (still off); then 50 ms, which is raised to 100.
  await configure({ event_loop_blocked_ms: 0 }, /blocked event loops are no longer reported/);
  await crunch(1500);
  await configure({ event_loop_blocked_ms: 'soon' }, /configure: refused event_loop_blocked_ms="soon"/);
  await crunch(1500);
  await configure({ event_loop_blocked_ms: 50 }, /blocked event loops are reported from \d+ ms on/);
  assert.match(app.stderr(), /configure: event_loop_blocked_ms=50 is below 100 ms; using 100/);
  await crunch(700);
  await reportsNow(3);

  // Each stretch reported was one of the threshold in force, in order; none while off or below it.
  const events = blocked();
  const seen = JSON.stringify(events.map((e) => [e.message, e.context.event_loop, e.context.request?.url]));
  assert.deepEqual(events.map((e) => e.context.event_loop.threshold_ms), [300, 1000, 100], seen);
  assert.deepEqual(events.map((e) => /ms=(\d+)$/.exec(e.context.request.url)?.[1]), ['1500', '1600', '700'], seen);
  // how long each was blocked: the whole stretch, less a period at most (not one period: the
  // monitor records nothing for its first run), told when the loop was back
  for (const [e, ms] of events.map((e, i) => [e, [1500, 1600, 700][i]])) {
    assert.ok(e.context.event_loop.blocked_ms > ms - 100 && e.context.event_loop.blocked_ms < 5000, seen);
    assert.equal(e.context.event_loop.still_blocked, false, seen);
    assert.equal(e.stack_trace.find((f) => f.in_app)?.method_name, 'crunch', seen);
  }
  app.kill();
});

test('watch: a count that stops past threshold + one timer period is one report; cooldown; recovery re-arms', () => {
  let count = 0;
  let now = 0;
  let cpu = 0; // the process's CPU time: it runs (on the app's thread) unless a step says otherwise
  const reports = [];
  const recoveries = [];
  const watch = createLoopWatch({ thresholdMs: 500, resolutionMs: 50, cooldownMs: 2000, readCount: () => count, now: () => now, readCpuMs: () => cpu, onBlocked: (ms) => reports.push([now, ms]), onRecovered: () => recoveries.push(now) });
  const step = (ms, advance) => {
    now += ms;
    cpu += ms;
    if (advance) count++;
    watch.tick();
  };
  for (let i = 0; i < 20; i++) step(50, true); // a live loop: its timer runs every period
  assert.deepEqual(reports, []);
  step(50, true); // last run seen at 1050
  for (let i = 0; i < 10; i++) step(50, false); // 500 ms unchanged: not yet past threshold + period
  assert.deepEqual(reports, []);
  step(50, false); // 550 ms unchanged = at least 500 ms blocked
  assert.deepEqual(reports, [[1600, 500]]);
  for (let i = 0; i < 20; i++) step(50, false); // still the same stretch: no second report
  assert.equal(reports.length, 1);
  assert.deepEqual(recoveries, []);
  step(50, true); // the loop is back
  assert.deepEqual(recoveries, [2650], 'the end of a reported stretch is told once');
  for (let i = 0; i < 12; i++) step(50, false); // blocked again, but within the cooldown
  assert.equal(reports.length, 1);
  step(50, true);
  assert.equal(recoveries.length, 1, 'nor for a stretch that was not reported');
  now += 2000;
  step(0, true);
  for (let i = 0; i < 11; i++) step(50, false);
  assert.equal(reports.length, 2, 'after the cooldown a new stretch is reported');
  now += 5000;
  step(0, true);
  now += 5000; // the worker itself did not run and the process used no CPU (it was stopped): not the app's loop
  step(0, false);
  step(50, false);
  assert.equal(reports.length, 2, 'a stretch the worker slept through is not reported');
  for (let i = 0; i < 11; i++) step(50, false);
  assert.equal(reports.length, 3, 'it is timed from when the worker ran again');
  const recovered = recoveries.length;
  now += 400; // the worker did not run for a while (busy with the capture) during the reported stretch
  step(0, false);
  step(50, false);
  assert.equal(recoveries.length, recovered, 'the reported stretch stays open');
  step(50, true);
  assert.equal(recoveries.length, recovered + 1, 'and its end is told when the loop is back');
  assert.equal(reports.length, 3);
  now += 2000;
  step(0, true);
  for (let i = 0; i < 4; i++) step(50, false);
  now += 300; // the worker did not run for 300 ms, but the process did (the app's thread, blocked in JavaScript)
  cpu += 300;
  step(0, false);
  assert.equal(reports.length, 3);
  step(50, false);
  assert.deepEqual(reports[3], [now, 500], 'a starved worker does not shorten the stretch');
});

test('watch: timer period and polling interval scale with the threshold, within bounds', () => {
  assert.equal(loopDelayResolution(100), 10);
  assert.equal(loopDelayResolution(2000), 200);
  assert.equal(loopDelayResolution(60_000), 1000);
  assert.equal(watchInterval(100, 10), 25);
  assert.equal(watchInterval(2000, 200), 200);
  assert.equal(watchInterval(60_000, 1000), 250);
});

test('config: AIVORY_EVENT_LOOP_BLOCKED_MS is off by default, raised to 100, and bad values warn', () => {
  const cfg = (v) => resolveConfig({}, { AIVORY_API_KEY: 'k', ...(v === undefined ? {} : { AIVORY_EVENT_LOOP_BLOCKED_MS: v }) }, ROOT);
  assert.equal(cfg(undefined).config.eventLoopBlockedMs, 0);
  assert.equal(cfg('2000').config.eventLoopBlockedMs, 2000);
  const low = cfg('20');
  assert.equal(low.config.eventLoopBlockedMs, 100);
  assert.match(low.warnings.join('\n'), /AIVORY_EVENT_LOOP_BLOCKED_MS=20 is below 100 ms; using 100/);
  const fromInit = resolveConfig({ eventLoopBlockedMs: 50 }, { AIVORY_API_KEY: 'k' }, ROOT);
  assert.equal(fromInit.config.eventLoopBlockedMs, 100);
  assert.match(fromInit.warnings.join('\n'), /init option eventLoopBlockedMs=50 is below 100 ms; using 100/);
  const bad = cfg('soon');
  assert.equal(bad.config.eventLoopBlockedMs, 0);
  assert.match(bad.warnings.join('\n'), /AIVORY_EVENT_LOOP_BLOCKED_MS="soon" is not an integer/);
});

test('configure: event_loop_blocked_ms is taken from 0 (off) up, raised to 100, and refused when not a whole number of ms', () => {
  assert.deepEqual(parseConfigure({ event_loop_blocked_ms: 0 }).settings, { eventLoopBlockedMs: 0 });
  assert.deepEqual(parseConfigure({ event_loop_blocked_ms: 2000 }).settings, { eventLoopBlockedMs: 2000 });
  assert.deepEqual(parseConfigure({ event_loop_blocked_ms: '750' }).settings, { eventLoopBlockedMs: 750 });
  const low = parseConfigure({ event_loop_blocked_ms: 50 });
  assert.deepEqual(low.settings, { eventLoopBlockedMs: 100 });
  assert.deepEqual(low.adjusted, ['event_loop_blocked_ms=50 is below 100 ms; using 100']);
  for (const bad of [-1, 1.5, 'soon', null, {}, 3_600_001]) {
    const parsed = parseConfigure({ event_loop_blocked_ms: bad });
    assert.deepEqual(parsed.settings, {}, JSON.stringify(bad));
    assert.equal(parsed.rejected.length, 1, JSON.stringify(bad));
  }
});

test('report: sent once the loop is back and the capture is done, in either order; with the duration', () => {
  let now = 1000;
  const sent = [];
  const report = createBlockedReport({ capMs: 60_000, thresholdMs: 300, now: () => now, emit: (e) => sent.push(e) });
  const capture = { frames: [{ functionName: 'crunch', file: '/app/a.js', line: 3, column: 1, isNative: false }], snapshot: { frames: [{ url: '/app/a.js', line: 2, column: 0, functionName: 'crunch', functionLine: 0, locals: {} }] }, context: { request: { method: 'GET' } } };
  report.begin(400);
  report.captured(capture);
  assert.equal(sent.length, 0, 'not while the loop is still blocked');
  now += 2000;
  report.recovered(2412.6);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].message, 'The event loop was blocked for 2413 ms');
  const began = Date.now() - 2400; // seen 400 ms into the stretch, reported 2000 ms later
  assert.ok(Math.abs(Date.parse(sent[0].capturedAt) - began) < 1000, `captured_at is when the stretch began (${sent[0].capturedAt})`);
  assert.equal(sent[0].exceptionType, 'EventLoopBlocked');
  assert.equal(sent[0].mechanism, 'event_loop_blocked');
  assert.equal(sent[0].localsStatus, 'captured');
  assert.deepEqual(sent[0].context, { request: { method: 'GET' }, event_loop: { blocked_ms: 2413, threshold_ms: 300, still_blocked: false } });
  assert.deepEqual(capture.context, { request: { method: 'GET' } }, 'the capture itself is not changed');
  report.captured(capture);
  report.recovered(1);
  assert.equal(sent.length, 1, 'one event per stretch');

  report.begin(400); // a thread blocked in native code: back first, then captured
  now += 600;
  report.recovered(undefined);
  assert.equal(sent.length, 1);
  report.captured({ frames: [] });
  assert.equal(sent[1].message, 'The event loop was blocked for 1000 ms', 'estimated from when the stretch was seen');
  assert.equal(sent[1].localsStatus, 'unavailable');

  report.begin(400); // the agent stops while it is blocked
  now += 100;
  report.flush();
  assert.equal(sent[2].message, 'The event loop was blocked for at least 500 ms (still blocked when reported)');
  assert.deepEqual(sent[2].context.event_loop, { blocked_ms: 500, threshold_ms: 300, still_blocked: true });
  assert.deepEqual(sent[2].frames, []);
});
