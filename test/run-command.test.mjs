// `aivory-monitor run -- <command>`: preload added to NODE_OPTIONS (kept otherwise), exit codes and
// signals passed through, works through npx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, cleanEnv, runNode, startNode } from './helpers/process.mjs';
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
