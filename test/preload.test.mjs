// The preload starts one agent per process: the app's worker threads report through it (threads.test.mjs),
// Node's loader-hooks thread runs nothing; child processes that inherit NODE_OPTIONS get their own
// agent. And it is silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, REGISTER_CJS, REGISTER_ESM, cleanEnv, runNode, startListening, startNode } from './helpers/process.mjs';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { get } from './helpers/http.mjs';

const SPAWNER = join(ROOT, 'test', 'fixtures', 'apps', 'spawner.cjs');
const CLUSTER = join(ROOT, 'test', 'fixtures', 'apps', 'cluster.cjs');

for (const flag of ['--require', '--import']) {
  test(`NODE_OPTIONS=${flag}: 4 worker threads and 2 child processes -> exactly 3 agents`, { timeout: 60_000 }, async (t) => {
    const backend = await startBackend({ t });
    const environment = `spawner${flag}`;
    const env = agentEnv(backend, { NODE_OPTIONS: `${flag} aivory-monitor/register`, AIVORY_ENVIRONMENT: environment, WITH_LOADER_THREAD: '1', AIVORY_DEBUG: 'true' });
    const app = startNode([SPAWNER], { env, t });
    const [line] = await app.waitForOutput(/^\{"main".*\n/m, 30000);
    const report = JSON.parse(line);

    assert.equal(report.workers.length, 4);
    for (const w of report.workers) assert.equal(w.agentId, null, 'no agent in a worker thread');
    // These threads run code given as a string: `--import` preloads do not run there, `--require` ones do.
    if (flag === '--require') for (const w of report.workers) assert.deepEqual([w.preloaded, w.reporting], [true, true], 'the preload ran in the worker and hooked its crashes');
    // Each thread that reports says so when debugging: the four workers, not Node's loader-hooks thread.
    if (flag === '--require') await app.waitForOutput(/(?:this worker thread reports[^]*?){4}/, 15000, 'stderr');
    const threadLines = app.stderr().split('\n').filter((l) => l.includes('this worker thread reports'));
    assert.equal(threadLines.length, flag === '--require' ? 4 : 0, app.stderr());
    const ids = [report.main.agentId, ...report.children.map((c) => c.agentId)];
    for (const id of ids) assert.match(id ?? '', /^agent-[0-9a-f]+-[0-9a-f]{8}$/);
    assert.equal(new Set(ids).size, 3, 'main and each child have their own agent');

    for (const id of ids) await backend.waitFor('agent', (a) => a.agent_id === id, 20000);
    const registered = new Set(backend.events('agent').filter((a) => a.environment === environment).map((a) => a.agent_id));
    assert.deepEqual([...registered].sort(), [...ids].sort());
  });
}

test('the preload is silent (also with both --require and --import, and no backend)', async () => {
  // A backend that is not there: the agent must still say nothing.
  const env = cleanEnv({ AIVORY_API_KEY: 'k', AIVORY_BACKEND_URL: 'ws://127.0.0.1:9/ws/agent' });
  for (const args of [['--require', REGISTER_CJS, '-e', '0'], ['--import', REGISTER_ESM, '-e', '0'], ['--require', REGISTER_CJS, '--import', REGISTER_ESM, '-e', 'console.log(1)']]) {
    const r = await runNode(args, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, args.at(-1) === '0' ? '' : '1\n');
  }
});

test('starting the agent loads no HTTP module, nor worker_threads or streams before the first turn is over (each costs every process start-up time)', async () => {
  const env = cleanEnv({ AIVORY_API_KEY: 'k', AIVORY_BACKEND_URL: 'ws://127.0.0.1:9/ws/agent' });
  const print = 'console.log(JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule _?https?\\b|^NativeModule _http_|^NativeModule worker_threads$|^NativeModule internal\\/streams\\/(readable|writable|duplex)$/.test(m))))';
  for (const flag of [['--require', REGISTER_CJS], ['--import', REGISTER_ESM]]) {
    const r = await runNode([...flag, '-e', print], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [], flag[0]);
  }
  // The check sees a loaded module when there is one.
  const loaded = await runNode(['-e', `require('node:http'); require('node:worker_threads'); ${print}`], { env: cleanEnv() });
  assert.ok(JSON.parse(loaded.stdout).includes('NativeModule http'), loaded.stdout);
  assert.ok(JSON.parse(loaded.stdout).includes('NativeModule worker_threads'), loaded.stdout);
});

test('DEBUG=require-in-the-middle still prints the require hook\'s own diagnostics, and only when named', async () => {
  const base = { AIVORY_API_KEY: 'k', AIVORY_BACKEND_URL: 'ws://127.0.0.1:9/ws/agent' };
  const args = ['--require', REGISTER_CJS, '-e', "require('express'); console.log('ok')"];
  const named = await runNode(args, { env: cleanEnv({ ...base, DEBUG: 'other,require-in-*' }) });
  assert.equal(named.code, 0, named.stderr);
  assert.equal(named.stdout, 'ok\n');
  assert.match(named.stderr, /require-in-the-middle processing non-core module require\('express'\)/);
  const excluded = await runNode(args, { env: cleanEnv({ ...base, DEBUG: '*,-require-in-the-middle' }) });
  assert.equal(excluded.code, 0, excluded.stderr);
  assert.equal(excluded.stderr, '');
});

test('node:cluster: the primary and each worker have their own agent; a worker\'s errors carry its request and locals and come from its agent; SIGTERM still stops the workers, then the primary (exit 0, nothing on stderr)', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const environment = 'cluster';
  const { child: app, port } = await startListening(['--import', REGISTER_ESM, CLUSTER], { env: agentEnv(backend, { AIVORY_ENVIRONMENT: environment }), t });
  await backend.waitFor('agent', () => new Set(backend.events('agent').filter((a) => a.environment === environment).map((a) => a.agent_id)).size === 3, 20000);
  // The primary hands connections to the workers in turn: a few requests reach both.
  const pids = new Set();
  for (let i = 0; i < 20 && pids.size < 2; i++) {
    const answer = await get(port, `/fail?n=${i}`);
    assert.equal(answer.status, 500);
    pids.add(answer.body);
  }
  assert.equal(pids.size, 2, 'both workers answered');
  const failures = () => backend.events('exception').filter((e) => e.environment === environment);
  await backend.waitFor('exception', () => new Set(failures().map((e) => /in (\d+)$/.exec(e.message)?.[1])).size === 2, 15000);
  const agentsByPid = new Map();
  for (const e of failures()) {
    const pid = /in (\d+)$/.exec(e.message)[1];
    assert.ok(pids.has(pid), e.message);
    agentsByPid.set(pid, new Set([...(agentsByPid.get(pid) ?? []), e.agent_id]));
    assert.match(e.context.request.url, /\/fail\?n=\d+$/);
    assert.equal(e.local_variables.order?.children?.worker?.value, pid);
  }
  const workerAgents = [...agentsByPid.values()].map((ids) => [...ids]);
  for (const ids of workerAgents) assert.equal(ids.length, 1, 'one agent per worker');
  assert.notEqual(workerAgents[0][0], workerAgents[1][0], 'each worker has its own agent');

  app.child.kill('SIGTERM');
  const closed = await app.closed;
  assert.equal(closed.code, 0, closed.stderr);
  assert.match(closed.stdout, /^workers stopped$/m);
  assert.equal(closed.stderr, '');
});
