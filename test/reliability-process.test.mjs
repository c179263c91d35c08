// Process life with the agent on: signals, beforeExit and the end of the app's work behave as without
// it. The agent installs no signal or beforeExit listener of its own. (Crashes, process.exit(n),
// process.exitCode and --unhandled-rejections: exceptions-exit.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { FIXTURES } from './helpers/edge.mjs';
import { REGISTER_CJS, REGISTER_ESM, cleanEnv, runNode, startNode } from './helpers/process.mjs';

const FILE = join(FIXTURES, 'process-life.cjs');

/** A process still running this long after it was started is killed: the comparison then fails on its signal. */
const DEADLINE_MS = 20_000;

/**
 * Runs the case twice at once, bare and with the agent (connected to `backend`); `drive` acts on
 * each running process. `agentExtra`: more env for the agent's run.
 */
async function compare(t, backend, exitCase, drive = async () => {}, agentExtra = {}) {
  const run = async (withAgent) => {
    const args = withAgent ? ['--require', REGISTER_CJS, FILE] : [FILE];
    const env = withAgent ? agentEnv(backend, { CASE: exitCase, ...agentExtra }) : cleanEnv({ CASE: exitCase });
    const p = startNode(args, { env, t });
    const deadline = setTimeout(() => p.kill(), DEADLINE_MS);
    const started = process.hrtime.bigint();
    try {
      await drive(p, withAgent);
      const r = await p.closed;
      return { ...r, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    } finally {
      clearTimeout(deadline);
    }
  };
  const [bare, agent] = await Promise.all([run(false), run(true)]);
  assert.equal(agent.code, bare.code, `${exitCase}: exit code\n${agent.stderr}`);
  assert.equal(agent.signal, bare.signal, `${exitCase}: signal`);
  assert.equal(agent.stdout, bare.stdout, `${exitCase}: stdout`);
  assert.equal(agent.stderr, bare.stderr, `${exitCase}: stderr`);
  return { bare, agent };
}

test('the agent adds no signal, beforeExit or process error listeners the app could see (--require and --import)', async (t) => {
  const backend = await startBackend({ t });
  const bare = await runNode([FILE], { env: cleanEnv({ CASE: 'listeners' }) });
  for (const preload of [REGISTER_CJS, REGISTER_ESM]) {
    const flag = preload === REGISTER_CJS ? '--require' : '--import';
    const withAgent = await runNode([flag, preload, FILE], { env: agentEnv(backend, { CASE: 'listeners' }) });
    assert.equal(withAgent.stdout, bare.stdout, flag);
    assert.equal(withAgent.stderr, '');
  }
  const counts = JSON.parse(bare.stdout);
  delete counts.warning; // Node's own default listener
  assert.deepEqual(Object.entries(counts).filter(([, n]) => n !== 0), [], 'none, as in the bare app');
});

test('SIGTERM and SIGINT: default death and the app\'s own graceful handlers behave as without the agent', async (t) => {
  const backend = await startBackend({ t });
  const signal = (sig) => async (p, withAgent) => {
    await p.waitForOutput(/ready/);
    // With the agent, send it once it is connected: a signal mid-start is the harder case for it.
    if (withAgent) await backend.waitFor('agent', (a) => a.connected && a.agent_id && !seen.has(a.agent_id) && seen.add(a.agent_id));
    p.child.kill(sig);
  };
  const seen = new Set();
  const term = await compare(t, backend, 'sigterm-default', signal('SIGTERM'));
  assert.equal(term.agent.signal, 'SIGTERM');
  const graceful = await compare(t, backend, 'sigterm-handler', signal('SIGTERM'));
  assert.equal(graceful.agent.code, 3);
  assert.match(graceful.agent.stdout, /got SIGTERM/);
  const int = await compare(t, backend, 'sigint-handler', signal('SIGINT'));
  assert.equal(int.agent.code, 4);
});

test('beforeExit fires as often as without the agent, and the app still ends by itself', async (t) => {
  const backend = await startBackend({ t });
  const { agent } = await compare(t, backend, 'before-exit');
  assert.equal(agent.code, 0);
  assert.equal(agent.stdout.match(/beforeExit/g).length, 3);
});

test('an app that reported errors exits promptly when its work ends, its events delivered', async (t) => {
  const backend = await startBackend({ t });
  // The agent may wait for its last frames, but not for anything else: with an exit flush allowed
  // to wait a minute, waiting for its timeout would outlast the deadline (killed: signal, no code).
  const { bare, agent } = await compare(t, backend, 'work-then-end', undefined, { AIVORY_EXIT_FLUSH_TIMEOUT_MS: '60000' });
  assert.equal(agent.code, 0);
  t.diagnostic(`${agent.ms.toFixed(0)} ms with the agent, ${bare.ms.toFixed(0)} ms without`);
  await backend.waitFor('exception', (e) => e.message === 'end-3', 5000);
});
