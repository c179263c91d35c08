// The backend's `configure` frame changes safe settings live: capture limits, debug output,
// breakpoints on/off; bad values are refused and change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { agentEnv, startBackend } from './helpers/backend.mjs';
import { REGISTER_CJS, ROOT } from './helpers/process.mjs';

const APP = join(ROOT, 'test', 'fixtures', 'configure', 'app.cjs');

function startApp(t, env) {
  const child = spawn(process.execPath, ['--require', REGISTER_CJS, APP], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  t.after(() => child.kill('SIGKILL'));
  /** Resolves once stderr matches `re` (checked on every chunk), or rejects after timeoutMs. */
  const waitForStderr = (re, timeoutMs = 15000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (!re.test(stderr)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${re}; stderr: ${stderr}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        child.stderr.off('data', check);
      };
      child.stderr.on('data', check);
      check();
    });
  return { child, stderr: () => stderr, waitForStderr, send: (line) => child.stdin.write(line + '\n') };
}

test('configure changes capture limits and debug output live, and refuses bad values', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const app = startApp(t, agentEnv(backend));
  const agent = await backend.waitFor('agent', (a) => a.connected === true);
  // The agent arms exception capture shortly after start; an event with locals proves it is armed.
  let round = 0;
  let first;
  for (;;) {
    app.send(`throw ${++round}`);
    first = await backend.waitFor('exception', (e) => e.context?.round === round);
    if (first.locals_status === 'captured') break;
    assert.ok(round < 50, 'locals never captured');
  }
  const text = first.stack_trace.find((f) => f.method_name === 'work').local_variables.text;
  assert.equal(text.value.length, 104);
  assert.equal(text.is_truncated, false);
  assert.doesNotMatch(app.stderr(), /debug:/);

  await backend.post(`/api/agents/${agent.agent_id}/configure`, { max_string_length: 10, max_depth: 1, debug: true, sampling_rate: 'lots', unknown_key: 1 });
  await app.waitForStderr(/configure applied/);
  assert.match(app.stderr(), /configure: refused sampling_rate="lots"/);
  assert.match(app.stderr(), /configure: not changed live: unknown_key/);

  app.send(`throw ${++round}`);
  const after = await backend.waitFor('exception', (e) => e.context?.round === round);
  assert.equal(after.locals_status, 'captured');
  const locals = after.stack_trace.find((f) => f.method_name === 'work').local_variables;
  assert.equal(locals.text.value.length, 10);
  assert.equal(locals.text.is_truncated, true);
  assert.equal(locals.nested.children?.level1?.children, undefined, 'depth 1 stops below the first level');
  assert.equal(locals.nested.children.level1.is_truncated, true);

  // Debug off: nothing says so on stderr, so wait until a second setting sent with it shows in events.
  await backend.post(`/api/agents/${agent.agent_id}/configure`, { debug: false, max_string_length: 20 });
  let applied;
  do {
    app.send(`throw ${++round}`);
    const ev = await backend.waitFor('exception', (e) => e.context?.round === round);
    applied = ev.stack_trace.find((f) => f.method_name === 'work').local_variables?.text?.value.length === 20;
    assert.ok(round < 40, 'max_string_length 20 never applied');
  } while (!applied);
  const before = app.stderr().length;
  app.send(`throw ${++round}`);
  await backend.waitFor('exception', (e) => e.context?.round === round);
  assert.doesNotMatch(app.stderr().slice(before), /debug:/);
});

test('configure enable_breakpoints=false removes installed breakpoints and refuses new ones', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  startApp(t, agentEnv(backend));
  const agent = await backend.waitFor('agent', (a) => a.connected === true);
  const bp = await backend.post('/api/breakpoints', { file_path: 'test/fixtures/configure/app.cjs', line_number: 6 });
  await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'installed');

  await backend.post(`/api/agents/${agent.agent_id}/configure`, { enable_breakpoints: false });
  const removed = await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status === 'removed');
  assert.match(removed.message, /turned off/);

  const next = await backend.post('/api/breakpoints', { file_path: 'test/fixtures/configure/app.cjs', line_number: 7 });
  const refused = await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === next.id && s.status === 'error');
  assert.equal(refused.message, 'disabled');
});
