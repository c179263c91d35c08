// The app's worker threads: their crashes, unhandled rejections and API calls are reported through
// the agent of their process (the main thread's), with the thread's id, its own user and the locals
// of its frames; no thread registers an agent of its own, and the app sees and prints what it does
// without the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REGISTER_CJS, REGISTER_ESM, ROOT, assertSameOutput, cleanEnv, startNode } from './helpers/process.mjs';
import { agentEnv, startBackend } from './helpers/backend.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'apps', 'threads.cjs');

const DEBUG_LINE = /^\[aivory-monitor\] debug: .*\n/gm;

/**
 * Runs the fixture in `mode`; its threads work on SIGUSR2, sent once `backend`'s agent registered
 * and, with `armedThreads`, once the agent says it armed exception locals in that many threads
 * (its debug lines, left out of the stderr returned).
 */
async function run(t, preload, mode, backend, environment, armedThreads = 0) {
  const env = backend ? agentEnv(backend, { AIVORY_ENVIRONMENT: environment, ...(armedThreads ? { AIVORY_DEBUG: 'true' } : {}) }) : cleanEnv();
  const app = startNode([...preload, APP, mode], { env, t });
  await app.waitForOutput(/^ready$/m, 20000);
  const agent = backend ? await backend.waitFor('agent', (a) => a.environment === environment, 15000) : undefined;
  if (armedThreads) await app.waitForOutput(new RegExp(`(?:worker thread \\d+: exception locals armed[^]*?){${armedThreads}}`), 15000, 'stderr');
  app.child.kill('SIGUSR2');
  const closed = await app.closed;
  closed.stderr = closed.stderr.replace(DEBUG_LINE, '');
  if (!agent) return { closed };
  // Its connection is gone: the backend has everything the agent sent.
  await backend.waitFor('agent', (a) => a.agent_id === agent.agent_id && a.connected === false, 15000);
  const events = backend.events('exception').filter((e) => e.environment === environment);
  const agents = new Set(backend.events('agent').filter((a) => a.environment === environment).map((a) => a.agent_id));
  return { closed, events, agent, agents };
}

for (const preload of [['--require', REGISTER_CJS], ['--import', REGISTER_ESM]]) {
  test(`${preload[0]}: a worker thread's uncaught error the app handles ('error' on its Worker) is reported once, from the thread, with its locals; output unchanged`, { timeout: 60_000 }, async (t) => {
    const base = await run(t, [], 'handled');
    assert.match(base.closed.stdout, /thread failed: image img-7 too wide/);
    const backend = await startBackend({ t });
    const environment = `threads-handled${preload[0]}`;
    const { closed, events, agent, agents } = await run(t, preload, 'handled', backend, environment, 1);
    assertSameOutput(closed, base.closed);
    assert.equal(closed.code, base.closed.code);

    assert.equal(events.length, 1, JSON.stringify(events.map((e) => e.message)));
    const [event] = events;
    assert.equal(event.message, 'image img-7 too wide: 9 > 4');
    assert.equal(event.exception_type, 'RangeError');
    assert.equal(event.mechanism, 'uncaught');
    assert.equal(event.stack_trace[0].method_name, 'resize');
    assert.equal(event.locals_status, 'captured');
    const { local_variables: locals } = event.stack_trace[0];
    assert.equal(locals.limit?.value, '4');
    assert.equal(locals.image?.children?.id?.value, 'img-7', JSON.stringify(locals));
    assert.ok(Number.isInteger(event.context.thread?.id) && event.context.thread.id > 0, JSON.stringify(event.context));
    // Node 22 and later tell a thread its name.
    assert.equal(event.context.thread.name, Number(process.versions.node.split('.')[0]) >= 22 ? 'resizer' : undefined);
    assert.equal(event.agent_id, agent.agent_id, "sent by the process's agent");
    assert.deepEqual([...agents], [agent.agent_id], 'the thread registers no agent of its own');
  });
}

test("a pool's task error, caught in the thread and reported by the main thread from its copy, gets the locals the thread captured", { timeout: 60_000 }, async (t) => {
  const base = await run(t, [], 'pool');
  assert.match(base.closed.stdout, /task failed: image img-7 too wide/);
  const backend = await startBackend({ t });
  const { closed, events } = await run(t, ['--require', REGISTER_CJS], 'pool', backend, 'threads-pool', 1);
  assertSameOutput(closed, base.closed);
  assert.equal(events.length, 1, JSON.stringify(events.map((e) => e.message)));
  const [event] = events;
  assert.equal(event.message, 'image img-7 too wide: 9 > 4');
  assert.equal(event.mechanism, 'manual');
  assert.equal(event.locals_status, 'captured');
  assert.equal(event.stack_trace[0].method_name, 'resize');
  assert.equal(event.stack_trace[0].local_variables?.limit?.value, '4', JSON.stringify(event.stack_trace[0]));
  assert.ok(event.context.thread?.id > 0, 'the thread whose locals they are');
});

test("an armed thread's error reaches the backend while the main thread is busy", { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'threads-busy';
  const app = startNode(['--require', REGISTER_CJS, APP, 'busy'], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment, AIVORY_DEBUG: 'true' }), t });
  await app.waitForOutput(/^ready$/m, 20000);
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  await app.waitForOutput(/worker thread \d+: exception locals armed/, 15000, 'stderr');
  app.child.kill('SIGUSR2');
  const event = await backend.waitFor('exception', (e) => e.environment === environment, 15000);
  assert.doesNotMatch(app.stdout(), /no longer busy/, 'the event came while the main thread was still busy');
  assert.equal(event.message, 'image img-7 too wide: 9 > 4');
  assert.equal(event.locals_status, 'captured');
  assert.equal(event.stack_trace[0].local_variables.limit?.value, '4');
  const closed = await app.closed;
  assert.match(closed.stdout, /no longer busy\n(?:.*\n)*thread exited with 1/);
  assert.equal(backend.events('exception').filter((e) => e.environment === environment).length, 1, 'reported once');
});

test("a thread per task: a task that fails in its first second has no locals ('not_ready'); the next task's thread is armed at once and its failure has them", { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'threads-per-task';
  const app = startNode(['--require', REGISTER_CJS, join(ROOT, 'test', 'fixtures', 'apps', 'thread-per-task.cjs')], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment, AIVORY_DEBUG: 'true' }), t });
  await app.waitForOutput(/^ready$/m, 20000);
  await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  const failure = (task) => backend.waitFor('exception', (e) => e.environment === environment && e.message.startsWith(`task ${task}:`), 15000);

  app.child.kill('SIGUSR2');
  const first = await failure(1);
  assert.equal(first.locals_status, 'not_ready', 'the thread ended (400 ms) before the agent armed it (1 s)');
  assert.doesNotMatch(app.stderr(), /armed at once/);

  app.child.kill('SIGUSR2');
  const second = await failure(2);
  assert.match(app.stderr(), /worker thread \d+: armed at once, as a thread failed before its locals were armed/);
  assert.equal(second.locals_status, 'captured');
  assert.equal(second.stack_trace[0].method_name, 'crop');
  assert.equal(second.stack_trace[0].local_variables.margin?.value, '12');
  assert.equal(second.context.thread?.name, Number(process.versions.node.split('.')[0]) >= 22 ? 'task-2' : undefined);

  const closed = await app.closed;
  assert.equal(closed.code, 0, closed.stderr);
  assert.deepEqual(closed.stdout.split('\n').filter(Boolean), [
    'ready',
    'task 1 failed: task 1: crop margin 12 leaves nothing of 20 px',
    'task 2 failed: task 2: crop margin 12 leaves nothing of 20 px',
    'done',
  ]);
});

test("an armed thread's captureException and flush() go to the agent's worker directly: reported, flushed", { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const { closed, events } = await run(t, ['--require', REGISTER_CJS], 'armed-api', backend, 'threads-armed-api', 1);
  assert.equal(closed.code, 0, closed.stderr);
  assert.match(closed.stdout, /^thread carol: event reported, flushed true$/m);
  assert.deepEqual(events.map((e) => [e.message, e.mechanism, e.context.user?.id]), [['checked in as carol', 'manual', 'carol']]);
});

test("malformed messages on the agent's thread channel are ignored: the thread's real error is reported, the app unchanged", { timeout: 60_000 }, async (t) => {
  const base = await run(t, [], 'hostile');
  assert.match(base.closed.stdout, /thread failed: image img-7 too wide/);
  const backend = await startBackend({ t });
  // Armed: forged breakpoint hits reach the thread's breakpoints, which take only their own.
  const { closed, events } = await run(t, ['--require', REGISTER_CJS], 'hostile', backend, 'threads-hostile', 1);
  assertSameOutput(closed, base.closed);
  assert.deepEqual(events.map((e) => [e.message, e.mechanism]), [['image img-7 too wide: 9 > 4', 'uncaught']]);
  assert.deepEqual(backend.events('breakpoint_hit'), []);
});

test("a worker thread's error that nothing handles crashes the process as before, and is reported once", { timeout: 60_000 }, async (t) => {
  const base = await run(t, [], 'unhandled');
  assert.equal(base.closed.code, 1);
  const backend = await startBackend({ t });
  const { closed, events } = await run(t, ['--require', REGISTER_CJS], 'unhandled', backend, 'threads-unhandled');
  assertSameOutput(closed, base.closed);
  assert.equal(closed.code, 1);
  // From the thread, or (when the main thread crashed before it read the thread's message) from
  // the main thread's crash: either way one event.
  assert.deepEqual(events.map((e) => [e.message, e.mechanism]), [['image img-7 too wide: 9 > 4', 'uncaught']]);
  assert.equal(events[0].stack_trace[0].method_name, 'resize');

  // The same in a thread the agent armed, whose event goes to the agent's worker directly while
  // the main thread's crash ends the process: delivered once, with the thread's locals.
  const armed = await run(t, ['--require', REGISTER_CJS], 'unhandled', backend, 'threads-unhandled-armed', 1);
  assertSameOutput(armed.closed, base.closed);
  assert.deepEqual(armed.events.map((e) => [e.message, e.mechanism, e.locals_status]), [['image img-7 too wide: 9 > 4', 'uncaught', 'captured']]);
});

test("the API in worker threads (with and without the preload in the thread): each thread's user, flush; a thread's unhandled rejection", { timeout: 60_000 }, async (t) => {
  const base = await run(t, [], 'api');
  assert.match(base.closed.stdout, /thread alice: event not reported/);
  const backend = await startBackend({ t });
  const { closed, events } = await run(t, ['--require', REGISTER_CJS], 'api', backend, 'threads-api');
  assert.equal(closed.code, 0, closed.stderr);
  assert.equal(closed.stderr, base.closed.stderr);
  assert.deepEqual(closed.stdout.split('\n').filter((l) => l.startsWith('thread')), [
    'thread alice: event reported, flushed true',
    'thread bob: event reported, flushed true',
    'thread failed: no thumbnail for img-8',
  ]);

  const byMessage = new Map(events.map((e) => [e.message, e]));
  assert.equal(events.length, 3, JSON.stringify([...byMessage.keys()]));
  for (const user of ['alice', 'bob']) {
    const event = byMessage.get(`checked in as ${user}`);
    assert.equal(event?.mechanism, 'manual', user);
    assert.deepEqual(event.context.user, { id: user }, "the thread's own user");
    assert.ok(event.context.thread?.id > 0);
  }
  const rejected = byMessage.get('no thumbnail for img-8');
  assert.equal(rejected?.mechanism, 'unhandled_rejection');
  assert.equal(rejected.context.user, undefined, "another thread's user is not this one's");
  assert.equal(new Set(events.map((e) => e.context.thread.id)).size, 3, 'three threads');
});
