// The `cron` package (CronJob): what a tick throws or rejects with, which cron catches and prints,
// is reported as `cron` with the job's name and expression and the thrower's locals, where Node
// runs module hooks on the app's thread (22.22.3+, 24.11.1+, 26); elsewhere nothing is reported.
// The app's output, with cron's own print of each error, is the same as without the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTER_CJS, ROOT, assertSameOutput, cleanEnv, runSignalledApp } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { inThreadHooks } from './helpers/node-features.mjs';
import { appendedLines } from './helpers/rewrite.mjs';

const { rewriteJob } = createRequire(import.meta.url)('../dist/main/instrument/cron.js');
const APP = join(ROOT, 'test', 'fixtures', 'cron', 'app.cjs');
const HOOKED = inThreadHooks();

test(`cron: errors of a job's ticks ${HOOKED ? 'are reported with the job and locals' : 'are not reported on this Node (no in-thread module hooks)'}; output unchanged`, { timeout: 60_000 }, async (t) => {
  const base = await runSignalledApp(t, [APP], { env: cleanEnv() });
  assert.match(base.stderr, /\[Cron\] error in callback Error: report for tenant-1/);
  const backend = await startBackend({ t });
  const environment = 'cron';
  const got = await runSignalledApp(t, ['--require', REGISTER_CJS, APP], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), backend, environment });
  assertSameOutput(got, base);

  // The app's own last report: every earlier event is in once it is (one ordered connection).
  await backend.waitFor('exception', (e) => e.environment === environment && e.message === 'cron fixture done', 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment && e.mechanism === 'cron');
  const own = (message) => backend.events('exception').find((e) => e.environment === environment && e.message === message);
  if (!HOOKED) {
    assert.deepEqual(events, []);
    return;
  }
  // Each tick ran in its own scope: its user and the job are on its events, and on nothing after it.
  assert.deepEqual(events.map((e) => e.context.user?.id), ['tick-1', 'tick-2']);
  assert.equal(own('checked in').context.user?.id, 'tick-1');
  assert.deepEqual(own('checked in').context.cron, { task: 'nightly-report', expression: '* * * * * *' });
  assert.equal(own('after the first tick').context.user, undefined, 'a tick that threw left its scope');
  assert.equal(own('cron fixture done').context.user, undefined, 'no user outside the ticks');
  assert.equal(own('cron fixture done').context.cron, undefined);
  assert.deepEqual(events.map((e) => e.message), ['report for tenant-1 too large: 120 rows', 'upload of run 2 to reports-eu failed']);
  for (const e of events) {
    assert.deepEqual(e.context.cron, { task: 'nightly-report', expression: '* * * * * *' });
    assert.equal(e.locals_status, 'captured', e.message);
  }
  const [report, upload] = events;
  assert.equal(report.stack_trace[0].method_name, 'buildReport');
  assert.equal(report.local_variables.rows?.value, '120');
  assert.equal(upload.exception_type, 'TypeError');
  assert.equal(upload.local_variables.bucket?.value, 'reports-eu');
});

test("cron's job.js: one statement appended to the call of each callback, the line before it, and each line where fireOnTick catches; nothing moved", () => {
  const source = readFileSync(join(ROOT, 'node_modules', 'cron', 'dist', 'job.js'), 'utf8');
  const rewritten = rewriteJob(source);
  assert.equal(rewritten.scoped, true);
  assert.deepEqual(appendedLines(source, rewritten.source, 'script'), [
    'for (const callback of this._callbacks) {',
    'const result = callback.call(this.context, this.onComplete);',
    'result.catch(error => {',
    'catch (error) {',
  ]);
  assert.equal(rewriteJob('try {} catch (e) { log(e); }'), undefined, 'another layout is left alone');
  // Errors are still reported where the call is laid out otherwise; its ticks then have no scope of their own.
  const other = source.replace('const result = callback.call(this.context, this.onComplete);', 'const result = callback.apply(this.context, [this.onComplete]);');
  assert.equal(rewriteJob(other).scoped, false);
  assert.deepEqual(appendedLines(other, rewriteJob(other).source, 'script'), ['result.catch(error => {', 'catch (error) {']);
});
