// node-cron 3 and 4: a task's failed execution (a throw with the thrower's locals, a rejection
// after an await), which node-cron catches (4 logs it), is reported as `node_cron`, with the task's
// name and expression for node-cron 4; the app's output is the same as without the agent. ES
// module apps need the module hooks Node runs on the app's thread (22.22.3+, 24.11.1+, 26);
// CommonJS apps are covered on every version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, cleanEnv, runSignalledApp } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { inThreadHooks } from './helpers/node-features.mjs';
import { appendedLines } from './helpers/rewrite.mjs';

const { rewriteShared } = createRequire(import.meta.url)('../dist/main/instrument/node-cron.js');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'node-cron');
const CRON = join(ROOT, 'node_modules', 'node-cron', 'dist');
const HOOKED = inThreadHooks();

/** node-cron's log lines start with the time and the process id. */
const normalise = (text) => text.replace(/\[\d{4}-\d\d-\d\dT[\d:.]+Z\] \[PID: \d+\]/g, '[time] [pid]');

const V4_TASK = { task: 'nightly-report', expression: '* * * * * *' };
// `scoped`: each run has its own scope (node-cron 4 where the load hook rewrites it)
const CASES = [
  { name: 'CommonJS', args: ['--require', REGISTER_CJS, join(FIXTURE, 'app.cjs')], reported: true, cron: V4_TASK, scoped: HOOKED },
  { name: 'ES module', args: ['--import', REGISTER_ESM, join(FIXTURE, 'app.mjs')], reported: HOOKED, cron: V4_TASK, scoped: HOOKED },
  // node-cron 3's task knows neither its name nor its expression
  { name: 'node-cron 3', args: ['--require', REGISTER_CJS, join(FIXTURE, 'app-v3.cjs')], reported: true, cron: {}, scoped: false },
];

for (const c of CASES) {
  test(`node-cron (${c.name}): failed executions ${c.reported ? 'are reported with the task and locals' : 'are not reported on this Node (no in-thread module hooks)'}; output unchanged`, { timeout: 60_000 }, async (t) => {
    // From the repository's folder (the default): its package.json names the npm alias node-cron3.
    const base = await runSignalledApp(t, c.args.slice(-1), { env: cleanEnv() });
    const backend = await startBackend({ t });
    const environment = `node-cron-${c.name}`;
    const got = await runSignalledApp(t, c.args, { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), backend, environment });
    assert.equal(got.stdout, base.stdout, "the app's stdout is the same as without the agent");
    assert.equal(normalise(got.stderr), normalise(base.stderr), "the app's stderr (node-cron's log) is the same as without the agent");

    // The app's own last report: every earlier event is in once it is (one ordered connection).
    await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'cron fixture done', 15000);
    const events = backend.events('exception').filter((e) => e.environment === environment && e.mechanism === 'node_cron');
    if (!c.reported) {
      assert.deepEqual(events, []);
      return;
    }
    assert.deepEqual(events.map((e) => e.message), ['report for tenant-1 too large: 120 rows', 'upload of run 2 to reports-eu failed']);
    for (const e of events) {
      assert.equal(e.mechanism, 'node_cron');
      assert.deepEqual(e.context.cron, c.cron);
      assert.equal(e.locals_status, 'captured', e.message);
    }
    const [report, upload] = events;
    assert.equal(report.stack_trace[0].method_name, 'buildReport');
    assert.equal(report.local_variables.rows?.value, '120');
    assert.equal(report.local_variables.limits?.children?.maxRows?.value, '50');
    assert.equal(upload.exception_type, 'TypeError');
    assert.equal(upload.local_variables.bucket?.value, 'reports-eu');
    if (c.name === 'node-cron 3') return;
    const own = (message) => backend.events('exception').find((e) => e.environment === environment && e.message === message);
    assert.deepEqual(events.map((e) => e.context.user?.id), ['run-1', 'run-2']);
    assert.equal(own('checked in').context.user?.id, 'run-1');
    if (c.scoped) {
      // Each run had its own scope: its user and the task are on its events, and on nothing after it.
      assert.deepEqual(own('checked in').context.cron, V4_TASK);
      assert.equal(own('cron fixture done').context.user, undefined, 'no user outside the runs');
      assert.equal(own('cron fixture done').context.cron, undefined);
    } else {
      // Without the load hook a run's setUser sets the user of every later event (README, Limits).
      assert.equal(own('checked in').context.cron, undefined);
      assert.equal(own('cron fixture done').context.user?.id, 'run-2');
    }
  });
}

test("node-cron's builds: one statement appended to the line `emit(event, context) {` and to the two lines that call a task, nothing moved", () => {
  for (const [file, sourceType] of [['_shared.cjs', 'script'], ['_shared.js', 'module']]) {
    const source = readFileSync(join(CRON, file), 'utf8');
    const rewritten = rewriteShared(source);
    assert.equal(rewritten.scoped, true, file);
    assert.deepEqual(appendedLines(source, rewritten.source, sourceType, file), [
      'this.runner = new Runner(this.timeMatcher, (date, execution) => {',
      'return taskFn(this.createContext(date, execution));',
      'emit(event, context) {',
    ]);
  }
  assert.equal(rewriteShared('class T {\n  emit(a) {}\n}'), undefined, 'another layout is left alone');
  const emitOnly = 'class T {\n  emit(event, context) {\n    go(event, context);\n  }\n}';
  assert.deepEqual(rewriteShared(emitOnly).scoped, false, 'failures are still reported where the task call is laid out otherwise');
});
