// BullMQ 5 and 6, and Bull 4, against a real Redis: every failed attempt of a job is reported (as
// `bullmq` or `bull`), with the queue, job and attempt, and the processor's locals; on Node with
// in-thread module hooks each job runs in its own scope (setUser/setContext stay in the job, events
// carry the job); the app's output, with the stack traces the library stores for each failed job,
// is the same as without the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, assertSameOutput, cleanEnv, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { markers } from './helpers/exceptions.mjs';
import { inThreadHooks } from './helpers/node-features.mjs';
import { redisMissing, startRedis } from './helpers/redis.mjs';
import { appendedLines } from './helpers/rewrite.mjs';

const requireHere = createRequire(import.meta.url);
const { rewriteWorker } = requireHere('../dist/main/instrument/bullmq.js');
const { rewriteQueue } = requireHere('../dist/main/instrument/bull.js');
const { JOBS } = requireHere('./fixtures/bullmq/jobs.cjs');
const JOBS_FILE = join(ROOT, 'test', 'fixtures', 'bullmq', 'jobs.cjs');

const FIXTURES = join(ROOT, 'test', 'fixtures');
const BULLMQ6 = join(ROOT, 'node_modules', 'bullmq');
const BULLMQ5 = join(FIXTURES, 'bullmq5', 'node_modules', 'bullmq');
const BULL = join(ROOT, 'node_modules', 'bull');
const skip = redisMissing();
const scoped = inThreadHooks();

/** Adds the fixture's jobs to the queue the app works on, with the library (and version) the app uses. */
async function addJobs(kind, dir, socket, prefix) {
  const load = createRequire(join(dir, 'package.json'));
  const queue = kind === 'bull' ? new (load('bull'))('orders', { redis: { path: socket }, prefix }) : new (load('bullmq').Queue)('orders', { connection: { path: socket, maxRetriesPerRequest: null }, prefix });
  try {
    await queue.addBulk(JOBS.map(([name, data, opts]) => ({ name, data, opts })));
  } finally {
    await queue.close();
  }
}

/** Runs the app until it has printed every job's outcome and exited: { code, signal, stdout, stderr }. */
async function runApp(t, { args, env, kind, dir, socket, prefix, backend, environment, beforeJobs }) {
  const app = startNode(args, { env: { ...env, REDIS_SOCKET: socket, QUEUE_PREFIX: prefix }, t });
  await app.waitForOutput(/^ready$/m, 20000);
  // Jobs go in once the agent is connected (it registers when its debugger is ready for locals).
  if (backend) await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  await beforeJobs?.();
  await addJobs(kind, dir, socket, prefix);
  const closed = await app.closed;
  assert.equal(closed.code, 0, `the app exits normally\n${closed.stderr}`);
  assert.match(closed.stdout, /^done$/m);
  return closed;
}

const FAILURES = [
  ['card declined for ada', 'charge', 1],
  ['no address for parcel-co:o-17', 'ship', 1],
  ['flaky attempt 1', 'flaky', 1],
  ['flaky attempt 2', 'flaky', 2],
  ['fatal: corrupt payload', 'fatal', 1],
  ['user job failed for u4', 'user', 1],
];

async function scenario(t, { label, args, kind = 'bullmq', dir, locals }) {
  const { socket } = await startRedis(t);
  const base = await runApp(t, { args: args.slice(-1), env: cleanEnv(), kind, dir, socket, prefix: `${label}-base` });

  const backend = await startBackend({ t });
  const environment = `jobs-${label}`;
  const extra = { AIVORY_ENVIRONMENT: environment, ...(locals ? {} : { AIVORY_MAX_PAUSES_PER_SECOND: '0' }) };
  // A breakpoint in the `ok` processor: its hit carries the job (where jobs have scopes).
  let bp;
  const beforeJobs = async () => {
    bp = await backend.post('/api/breakpoints', { file_path: 'bullmq/jobs.cjs', line_number: markers(JOBS_FILE).ok });
    await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'installed', 15000);
  };
  const got = await runApp(t, { args, env: agentEnv(backend, extra), kind, dir, socket, prefix: `${label}-agent`, backend, environment, beforeJobs });
  assertSameOutput(got, base);

  const mine = (e) => e.environment === environment;
  await backend.waitFor('exception', (e) => mine(e) && e.message === 'after the jobs', 15000);
  for (const [message] of FAILURES) await backend.waitFor('exception', (e) => mine(e) && e.message === message, 15000);
  const events = backend.events('exception').filter(mine);
  const hit = await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === bp.id, 15000);
  assert.equal(hit.local_variables.doubled?.value, '42');
  assert.equal(hit.context[kind]?.job_name, scoped ? 'ok' : undefined);

  // Failures: one event per failed attempt, with the job.
  const failures = events.filter((e) => e.mechanism === kind);
  assert.deepEqual(failures.map((e) => e.message).sort(), FAILURES.map(([m]) => m).sort());
  for (const [message, name, attempt] of FAILURES) {
    const e = failures.find((f) => f.message === message);
    const job = e.context[kind];
    assert.equal(job.queue, 'orders', message);
    assert.equal(job.job_name, name, message);
    assert.match(job.job_id, /^\d+$/, message);
    assert.equal(job.attempt, attempt, message);
    assert.equal(e.context.request, undefined, message);
  }
  assert.equal(failures.find((e) => e.message === 'flaky attempt 2').context[kind].attempts, 2);
  assert.equal(failures.find((e) => e.message === 'fatal: corrupt payload').exception_type, kind === 'bull' ? 'Error' : 'UnrecoverableError');

  const charge = failures.find((e) => e.message === 'card declined for ada');
  const ship = failures.find((e) => e.message === 'no address for parcel-co:o-17');
  assert.equal(charge.stack_trace[0].method_name, 'chargeCard');
  assert.equal(ship.stack_trace[0].method_name, 'shipOrder');
  if (locals) {
    assert.equal(charge.locals_status, 'captured');
    assert.equal(charge.local_variables.amount?.value, '8000');
    assert.equal(charge.local_variables.card?.children?.holder?.value, 'ada');
    assert.equal(ship.locals_status, 'captured');
    assert.equal(ship.local_variables.label?.value, 'parcel-co:o-17');
  } else {
    // Reported without any exception pause.
    assert.equal(charge.locals_status, 'budget');
    assert.equal(ship.locals_status, 'budget');
  }

  // Scopes: each job's captureException carries its own user; the failure after setUser too.
  const audits = events.filter((e) => e.message.startsWith('audit '));
  assert.equal(audits.length, 6);
  const after = events.find((e) => e.message === 'after the jobs');
  const u4 = failures.find((e) => e.message === 'user job failed for u4');
  if (scoped) {
    for (const e of audits) {
      const user = e.message.slice('audit '.length);
      assert.equal(e.context.user?.id, user, e.message);
      assert.equal(e.context.tenant, `tenant-${user}`, e.message);
      assert.equal(e.context[kind]?.job_name, 'user', e.message);
    }
    assert.equal(u4.context.user?.id, 'u4');
    assert.equal(u4.context.tenant, 'tenant-u4');
    assert.equal(after.context.user, undefined, 'no job scope leaks out of the jobs');
    assert.equal(after.context.tenant, undefined);
    assert.equal(after.context[kind], undefined);
  } else {
    // Without in-thread hooks, processors run in no scope of their own (README).
    for (const e of audits) assert.equal(e.context[kind], undefined, e.message);
  }
}

test('BullMQ 6, CommonJS app: failed attempts reported with job and locals, jobs scoped, output unchanged', { skip, timeout: 90_000 }, async (t) => {
  await scenario(t, { label: 'cjs', args: ['--require', REGISTER_CJS, join(FIXTURES, 'bullmq', 'app.cjs')], dir: BULLMQ6, locals: true });
});

test('BullMQ 6, ES module app (--import)', { skip, timeout: 90_000 }, async (t) => {
  await scenario(t, { label: 'esm', args: ['--import', REGISTER_ESM, join(FIXTURES, 'bullmq', 'app.mjs')], dir: BULLMQ6, locals: true });
});

test('BullMQ 5, with exception locals off: failures still reported, jobs scoped', { skip, timeout: 90_000 }, async (t) => {
  await scenario(t, { label: 'v5', args: ['--require', REGISTER_CJS, join(FIXTURES, 'bullmq5', 'app.cjs')], dir: BULLMQ5, locals: false });
});

test('Bull 4: failed attempts reported with job and locals, jobs scoped, output unchanged', { skip, timeout: 90_000 }, async (t) => {
  await scenario(t, { label: 'bull', args: ['--require', REGISTER_CJS, join(FIXTURES, 'bullmq', 'app-bull.cjs')], kind: 'bull', dir: BULL, locals: true });
});

test('the scope statements: added at the end of callProcessJob\'s two lines, in every BullMQ build, nothing moved', () => {
  const builds = [
    [join(BULLMQ6, 'dist', 'cjs', 'classes', 'worker.js'), 'script'],
    [join(BULLMQ6, 'dist', 'esm', 'classes', 'worker.js'), 'module'],
    [join(BULLMQ5, 'dist', 'cjs', 'classes', 'worker.js'), 'script'],
    [join(BULLMQ5, 'dist', 'esm', 'classes', 'worker.js'), 'module'],
    // as BullMQ 5.0 to 5.4x spell it (no abort signal)
    ['class W {\n    callProcessJob(job, token) {\n        return this.processFn(job, token);\n    }\n}\n', 'script'],
  ];
  for (const [fileOrSource, sourceType] of builds) {
    const source = fileOrSource.startsWith('class') ? fileOrSource : readFileSync(fileOrSource, 'utf8');
    const changed = appendedLines(source, rewriteWorker(source), sourceType, fileOrSource.slice(0, 80));
    assert.equal(changed.length, 2);
    assert.match(changed[0], /^callProcessJob\(job, token(, signal)?\) \{$/);
    assert.match(changed[1], /^return this\.processFn\(job, token(, signal)?\);$/);
  }
  assert.equal(rewriteWorker('class W { callProcessJob(job) { return run(job); } }'), undefined, 'another layout is left alone');
});

test("Bull's scope statements: added at the end of the line before processJob calls the processor and of that line, nothing moved", () => {
  const source = readFileSync(join(BULL, 'lib', 'queue.js'), 'utf8');
  assert.deepEqual(appendedLines(source, rewriteQueue(source), 'script'), ['} else {', 'let jobPromise = handler(job);']);
  assert.equal(rewriteQueue('if (a) {} else {\n  run(job);\n}'), undefined, 'another layout is left alone');
});
