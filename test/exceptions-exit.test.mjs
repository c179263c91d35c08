// How the process ends, with and without the agent: same stdout, same stderr (pid normalised), same
// exit code, for crashes, every --unhandled-rejections mode and apps with their own listeners.
// The event is delivered before the process is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, cleanEnv, runNode } from './helpers/process.mjs';
import { EXC_FIXTURES } from './helpers/exceptions.mjs';

const FILE = join(EXC_FIXTURES, 'exit-cases.cjs');
const MODES = ['throw', 'strict', 'warn', 'none', 'warn-with-error-code'];
const normalise = (s) => s.replace(/\(node:\d+\)/g, '(node:PID)');

/**
 * Node prints the source line of the throw above a fatal rejection, from the error's
 * not-yet-formatted stack. An inspector pause on the rejection formats the stack (V8 reads
 * `error.stack` to describe the exception), and Node then prints its own internal line instead.
 * This is the one known difference; the rest of stderr must match byte for byte.
 */
function withoutSourceHeader(stderr) {
  const blank = stderr.indexOf('\n\n');
  return blank >= 0 ? stderr.slice(blank) : stderr;
}

/**
 * An error thrown inside a listener of a `process` event passes through the agent's `process.emit`
 * wrapper (process-hooks.ts), whose frame is then one line of its stack.
 */
const AGENT_EMIT_FRAME = /^ {4}at process\.emit \(\S+\/dist\/main\/start\.js:\d+:\d+\)\n/m;

let seq = 0;
async function compare(t, backend, { exitCase, mode, extraEnv = {}, expectEvent = true, header = 'same', code, throwsInListener = false }) {
  const tag = `t${process.pid}-${++seq}`;
  const args = [...(mode ? [`--unhandled-rejections=${mode}`] : []), FILE];
  const appEnv = { EXIT_CASE: exitCase, RUN_TAG: tag };
  const [plain, withAgent] = await Promise.all([
    runNode(args, { env: cleanEnv(appEnv) }),
    runNode(['--require', REGISTER_CJS, ...args], { env: agentEnv(backend, { ...appEnv, ...extraEnv }) }),
  ]);
  const what = `${exitCase} ${mode ?? ''}`;
  if (code !== undefined) assert.equal(plain.code, code, `${what}: exit code without the agent\n${plain.stderr}`);
  assert.equal(withAgent.code, plain.code, `${what}: exit code\n${withAgent.stderr}`);
  assert.equal(withAgent.signal, plain.signal, what);
  assert.equal(withAgent.stdout, plain.stdout, `${what}: stdout`);
  let a = normalise(withAgent.stderr);
  if (throwsInListener) {
    assert.match(a, AGENT_EMIT_FRAME, `${what}: the agent's frame`);
    a = a.replace(AGENT_EMIT_FRAME, '');
  }
  const p = normalise(plain.stderr);
  if (header === 'same') assert.equal(a, p, `${what}: stderr`);
  else {
    assert.equal(withoutSourceHeader(a), withoutSourceHeader(p), `${what}: stderr after the source header`);
    assert.ok(a === p || /^node:internal\/process\/promises:\d+\n\s*triggerUncaughtException\(err, true \/\* fromPromise \*\/\);\n\s*\^\n/.test(a), `${what}: header\n${a}`);
  }
  assert.doesNotMatch(withAgent.stderr, /Waiting for the debugger|Debugger listening|aivory-monitor/);
  if (!expectEvent) return undefined;
  return backend.waitFor('exception', (e) => e.message.includes(tag), 10000);
}

test('uncaught exception, own listeners, exit codes: identical with and without the agent', async (t) => {
  const backend = await startBackend({ t });
  const crash = await compare(t, backend, { exitCase: 'uncaught' });
  assert.equal(crash.mechanism, 'uncaught');
  assert.equal(crash.locals_status, 'captured');
  assert.equal(crash.stack_trace[0].local_variables.local.value, 'local-timer');

  const listened = await compare(t, backend, { exitCase: 'own-uncaught-listener' });
  assert.equal(listened.mechanism, 'uncaught');
  const rejListened = await compare(t, backend, { exitCase: 'own-rejection-listener' });
  assert.equal(rejListened.mechanism, 'unhandled_rejection');
  assert.equal(rejListened.stack_trace[0].local_variables.key.value, 'order-8');

  const early = await compare(t, backend, { exitCase: 'startup-crash' });
  assert.equal(early.mechanism, 'uncaught');
  assert.equal(early.locals_status, 'not_ready');
  assert.equal(early.stack_trace[0].method_name, 'crash');

  // The app's own 'uncaughtException' listener throws: Node ends the process without its 'exit'
  // event (code 7), the agent still delivers the crash first. At start-up the agent's worker is
  // not even running yet when the process dies. The stack Node prints of the listener's error has
  // the agent's process.emit frame in it.
  const failedHandler = await compare(t, backend, { exitCase: 'throwing-uncaught-listener', code: 7, throwsInListener: true });
  assert.equal(failedHandler.mechanism, 'uncaught');
  assert.equal(failedHandler.stack_trace[0].local_variables.local.value, 'local-handler');
  const failedAtStart = await compare(t, backend, { exitCase: 'startup-crash-throwing-listener', code: 7, throwsInListener: true });
  assert.equal(failedAtStart.stack_trace[0].method_name, 'crash');

  await compare(t, backend, { exitCase: 'exit-code', expectEvent: false });
  await compare(t, backend, { exitCase: 'process-exit', expectEvent: false });
  // Exiting while the agent's session is still being opened: never "Waiting for the debugger...".
  for (let i = 0; i < 3; i++) {
    await compare(t, backend, { exitCase: 'immediate-exit', expectEvent: false });
    await compare(t, backend, { exitCase: 'startup-exit', expectEvent: false });
  }
});

for (const mode of MODES) {
  test(`--unhandled-rejections=${mode}: identical behaviour, the rejection is reported once`, async (t) => {
    const backend = await startBackend({ t });
    const fatal = mode === 'throw' || mode === 'strict';
    const ev = await compare(t, backend, { exitCase: 'rejection', mode, header: fatal ? 'known-difference' : 'same' });
    assert.equal(ev.mechanism, 'unhandled_rejection');
    assert.equal(ev.locals_status, 'captured');
    assert.equal(ev.stack_trace[0].method_name, 'failLater');
    assert.equal(ev.stack_trace[0].local_variables.key.value, 'order-7');
    await compare(t, backend, { exitCase: 'rejection-primitive', mode, expectEvent: false });
    // Without exception pauses (budget spent) the crash output is byte for byte Node's own.
    const noPause = await compare(t, backend, { exitCase: 'rejection', mode, extraEnv: { AIVORY_MAX_PAUSES_PER_SECOND: '0' } });
    assert.equal(noPause.locals_status, 'budget');
    const reported = backend.events('exception').filter((e) => e.message.includes('rejected t'));
    assert.equal(reported.length, 2, 'each rejection reported exactly once');
  });
}

test('AIVORY_IGNORE_ERRORS: the errors it names (by type, code, regular expression) are not reported; a DOMException goes by its own name and message; output unchanged', async (t) => {
  const backend = await startBackend({ t });
  const tag = `t${process.pid}-ignore`;
  const args = ['--unhandled-rejections=warn', join(EXC_FIXTURES, 'ignore-errors.cjs')];
  const appEnv = { RUN_TAG: tag };
  const [plain, withAgent] = await Promise.all([
    runNode(args, { env: cleanEnv(appEnv) }),
    runNode(['--require', REGISTER_CJS, ...args], { env: agentEnv(backend, { ...appEnv, AIVORY_IGNORE_ERRORS: 'AbortError, ECONNRESET, /^Error: quota exceeded for tenant \\d+ \\(\\d+\\), retry/i' }) }),
  ]);
  assert.equal(withAgent.code, plain.code);
  assert.equal(withAgent.stdout, plain.stdout);
  assert.equal(normalise(withAgent.stderr), normalise(plain.stderr));
  await backend.waitFor('exception', (e) => e.message === `last one (${tag})`, 10000);
  const reported = backend.events('exception').filter((e) => e.message.includes(tag)).map((e) => [e.exception_type, e.message]);
  assert.deepEqual(reported.sort(), [
    ['RangeError', `last one (${tag})`],
    ['TimeoutError', `The operation was aborted due to timeout (${tag})`],
  ]);
});
