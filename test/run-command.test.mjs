// `aivory-monitor run -- <command>`: preload added to NODE_OPTIONS (kept otherwise), exit codes and
// signals passed through, works through npx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REGISTER_CJS, ROOT, cleanEnv, runNode, startNode } from './helpers/process.mjs';
import { startBackend, agentEnv } from './helpers/backend.mjs';

const require = createRequire(import.meta.url);
const { preloadOption, withPreload } = require('../dist/main/run-command.js');
const { removePreload, hasPreload, tokenizeNodeOptions } = require('../dist/main/worker-env.js');
const SIGNALS = join(ROOT, 'test', 'fixtures', 'apps', 'signals.cjs');
const OWN = preloadOption();

test('NODE_OPTIONS: preload appended, existing options kept, never added twice', () => {
  assert.equal(OWN, `--require ${join(ROOT, 'register.js')}`);
  assert.equal(withPreload(undefined), OWN);
  assert.equal(withPreload('  --max-old-space-size=100 '), `--max-old-space-size=100 ${OWN}`);
  assert.equal(withPreload(OWN), OWN);
  assert.equal(withPreload('--import aivory-monitor/register --trace-warnings'), '--import aivory-monitor/register --trace-warnings');
  assert.equal(withPreload('-r /srv/app/node_modules/aivory-monitor/register.js'), '-r /srv/app/node_modules/aivory-monitor/register.js');
  // A user's own register.js is not ours.
  assert.equal(withPreload('--require /home/aivory/app/register.js'), `--require /home/aivory/app/register.js ${OWN}`);
  assert.equal(hasPreload('--require=aivory-monitor/register'), true);
  assert.equal(hasPreload('--inspect'), false);
});

test('paths with spaces are quoted the way NODE_OPTIONS parses them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aivory run "quoted" '));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pre load.js');
  writeFileSync(file, 'process.stdout.write("preloaded\\n");');
  const option = preloadOption(file);
  assert.deepEqual(tokenizeNodeOptions(option).map((x) => x.value), ['--require', file]);
  const r = await runNode(['-e', '0'], { env: cleanEnv({ NODE_OPTIONS: `--no-warnings ${option}` }) });
  assert.equal(r.stdout, 'preloaded\n', r.stderr);
  // removePreload keeps other quoted options byte for byte.
  assert.equal(removePreload(`--title "a b" ${OWN} --no-warnings`), '--title "a b" --no-warnings');
});

test('run: the command gets the preload and an agent; exit code passed through', async (t) => {
  const backend = await startBackend({ t });
  const env = agentEnv(backend, { NODE_OPTIONS: '--max-old-space-size=200', MODE: 'handle', AIVORY_ENVIRONMENT: 'run-command' });
  const app = startNode([BIN, 'run', '--', process.execPath, SIGNALS], { env, t });
  const [, options] = await app.waitForOutput(/ready (.*)\n/);
  assert.equal(options, `--max-old-space-size=200 ${OWN}`);
  await backend.waitFor('agent', (a) => a.environment === 'run-command');
  app.child.kill('SIGTERM');
  const { code, signal } = await app.exited;
  assert.deepEqual({ code, signal }, { code: 42, signal: null }, 'the app handled SIGTERM and exited 42');

  for (const n of [0, 3, 255]) {
    const r = await runNode([BIN, 'run', '--', process.execPath, SIGNALS], { env: cleanEnv({ MODE: `exit:${n}` }) });
    assert.equal(r.code, n, r.stderr);
  }
});

test('run: a command killed by SIGTERM makes run die of SIGTERM too', async (t) => {
  const app = startNode([BIN, 'run', '--', process.execPath, SIGNALS], { env: cleanEnv({ MODE: 'default' }), t });
  await app.waitForOutput(/ready/);
  app.child.kill('SIGTERM');
  const { code, signal } = await app.exited;
  assert.deepEqual({ code, signal }, { code: null, signal: 'SIGTERM' });
});

test('run: usage errors and missing commands', async () => {
  const none = await runNode([BIN, 'run', '--'], { env: cleanEnv() });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no command given/);
  const missing = await runNode([BIN, 'run', '--', 'aivory-no-such-command-xyz'], { env: cleanEnv() });
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /cannot start "aivory-no-such-command-xyz"/);
});

test('run works through npx from an installed copy', { timeout: 60_000 }, async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'aivory-npx-'));
  t.after(() => rmSync(project, { recursive: true, force: true }));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'npx-consumer', version: '1.0.0', private: true }));
  mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(ROOT, join(project, 'node_modules', 'aivory-monitor'), 'dir');
  symlinkSync(join('..', 'aivory-monitor', 'bin', 'aivory-monitor.js'), join(project, 'node_modules', '.bin', 'aivory-monitor'));
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  const nodeDir = join(process.execPath, '..');
  const env = cleanEnv({ MODE: 'exit:5', PATH: `${nodeDir}:${process.env.PATH}`, npm_config_update_notifier: 'false' });
  let status = 0;
  try {
    execFileSync(npx, ['--offline', '--no-install', 'aivory-monitor', 'run', '--', process.execPath, SIGNALS], { cwd: project, env, stdio: 'ignore' });
  } catch (err) {
    status = err.status;
  }
  assert.equal(status, 5);
});

test('run -- npm start: one agent, the app\'s (npm\'s own process and this CLI\'s get none); exit code passed through both', { timeout: 60_000 }, async (t) => {
  const backend = await startBackend({ t });
  const project = mkdtempSync(join(tmpdir(), 'aivory-npm-start-'));
  t.after(() => rmSync(project, { recursive: true, force: true }));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'npm-start-app', version: '1.0.0', private: true, scripts: { start: 'node app.js' } }));
  // npm does not pass SIGTERM on to its script, so the test stops the app itself, by its pid.
  writeFileSync(join(project, 'app.js'), "process.on('SIGTERM', () => process.exit(42)); console.log('ready', process.pid); setInterval(() => {}, 1000);");
  const nodeDir = join(process.execPath, '..');
  const env = agentEnv(backend, {
    // As with ENV NODE_OPTIONS in a Dockerfile: the wrapper itself then has the preload too.
    NODE_OPTIONS: `--require ${JSON.stringify(REGISTER_CJS)}`,
    AIVORY_DEBUG: 'true',
    AIVORY_ENVIRONMENT: 'run-npm-start',
    PATH: `${nodeDir}:${process.env.PATH}`,
    npm_config_update_notifier: 'false',
  });
  const app = startNode([BIN, 'run', '--', 'npm', 'start', '--silent'], { env, cwd: project, t });
  const [, pid] = await app.waitForOutput(/ready (\d+)\n/);
  t.after(() => {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const agent = await backend.waitFor('agent', (a) => a.environment === 'run-npm-start', 20000);
  assert.equal(agent.git_context?.project_name, 'npm-start-app', 'the registered agent is the app\'s (npm_package_name of the script it runs)');
  process.kill(Number(pid), 'SIGTERM');
  const { code } = await app.closed;
  assert.equal(code, 42);
  const err = app.stderr();
  assert.match(err, /not started in aivory-monitor's own process/);
  assert.match(err, /not started in npm's own process/);
  assert.equal(err.match(/debug: agent agent-\S+ started/g)?.length, 1, err);
  assert.deepEqual([...new Set(backend.events('agent').filter((a) => a.environment === 'run-npm-start').map((a) => a.agent_id))], [agent.agent_id]);
});

test('package and process managers\' own scripts (npm, yarn, pnpm, corepack, PM2, nodemon, tsx, Next.js but for next start), wherever installed, start no agent; their app processes and scripts that only look like one do', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aivory-pm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = cleanEnv({ AIVORY_API_KEY: 'k', AIVORY_BACKEND_URL: 'ws://127.0.0.1:9/ws/agent', AIVORY_DEBUG: 'true', NODE_OPTIONS: `--require ${JSON.stringify(REGISTER_CJS)}` });
  const cases = [
    ['node_modules/npm/bin/npx-cli.js', 'npm'],
    ['lib/node_modules/yarn/bin/yarn.js', 'yarn'],
    ['node_modules/pnpm/bin/pnpm.cjs', 'pnpm'],
    ['node_modules/corepack/dist/yarn.js', 'corepack'],
    ['.yarn/releases/yarn-4.5.1.cjs', 'yarn'],
    ['node_modules/pm2/bin/pm2', 'pm2'],
    ['node_modules/pm2/bin/pm2-runtime', 'pm2'],
    ['node_modules/pm2/lib/Daemon.js', 'pm2'],
    ['node_modules/nodemon/bin/nodemon.js', 'nodemon'],
    ['node_modules/tsx/dist/cli.mjs', 'tsx'],
    ['node_modules/next/dist/bin/next', 'next', ['dev']],
    ['node_modules/next/dist/bin/next', 'next', ['build']],
    ['node_modules/next/dist/bin/next', 'next'],
    // next start serves in its own process
    ['node_modules/next/dist/bin/next', null, ['start', '-p', '0']],
    // the processes PM2 runs the app in, and tsx as a loader, are the app
    ['node_modules/pm2/lib/ProcessContainerFork.js', null],
    ['node_modules/pm2/lib/ProcessContainer.js', null],
    ['node_modules/tsx/dist/loader.mjs', null],
    ['node_modules/left-pad/bin/npm-cli.js', null],
    ['npm/bin/npm-cli.js', null],
  ];
  for (const [i, [file, tool, args = []]] of cases.entries()) {
    const path = join(dir, file);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'process.stdout.write("ran\\n");');
    // Through a symlink, as bin entries are installed.
    const link = join(dir, `link-${i}`);
    symlinkSync(path, link);
    const r = await runNode([link, ...args], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ran\n');
    if (tool) {
      assert.equal(r.stderr, `[aivory-monitor] debug: not started in ${tool}'s own process (the node processes it starts get their agent)\n`, file);
    } else {
      assert.match(r.stderr, /debug: agent agent-\S+ started/, file);
    }
  }
});

test('tsx app.js with the preload in NODE_OPTIONS: one agent, in the app\'s process, not in tsx\'s', async () => {
  const env = cleanEnv({ AIVORY_API_KEY: 'k', AIVORY_BACKEND_URL: 'ws://127.0.0.1:9/ws/agent', AIVORY_DEBUG: 'true', NODE_OPTIONS: `--require ${JSON.stringify(REGISTER_CJS)}` });
  const r = await runNode([join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), SIGNALS], { env: { ...env, MODE: 'exit:3' }, timeoutMs: 30000 });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /not started in tsx's own process/);
  assert.equal(r.stderr.match(/debug: agent agent-\S+ started/g)?.length, 1, r.stderr);
});
