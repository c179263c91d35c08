// Packs the module, installs the tarball into a fresh project, and runs it the ways users do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, ROOT, runNode } from './helpers/process.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

async function deadPort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

test('the packed tarball installs and works with require, import, --require, --import and NODE_OPTIONS', { timeout: 180_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'aivory-pack-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const packOut = execFileSync(npm, ['pack', '--json', '--pack-destination', work, '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const tarball = join(work, JSON.parse(packOut)[0].filename);
  const project = join(work, 'project');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--omit=dev', tarball], { cwd: project, stdio: 'ignore' });
  for (const f of ['app.js', 'app.mjs']) copyFileSync(join(ROOT, 'test', 'fixtures', 'package', f), join(project, f));

  const port = await deadPort();
  const agentEnv = cleanEnv({ AIVORY_API_KEY: 'test-key-not-secret', AIVORY_BACKEND_URL: `ws://127.0.0.1:${port}/ws/agent` });
  const opts = (env) => ({ cwd: project, env });

  const cjsPlain = await runNode(['app.js'], opts(cleanEnv()));
  assert.equal(cjsPlain.code, 7, cjsPlain.stderr);
  assert.equal(cjsPlain.stdout, 'cjs app function function function\n');
  const esmPlain = await runNode(['app.mjs'], opts(cleanEnv()));
  assert.equal(esmPlain.code, 5, esmPlain.stderr);
  assert.equal(esmPlain.stdout, 'esm app function,function,function,function,function,function\n');

  const runs = [
    [['--require', 'aivory-monitor/register', 'app.js'], agentEnv, cjsPlain],
    [['--import', 'aivory-monitor/register', 'app.mjs'], agentEnv, esmPlain],
    [['--import', 'aivory-monitor/register', 'app.js'], agentEnv, cjsPlain],
    [['app.js'], { ...agentEnv, NODE_OPTIONS: '--require aivory-monitor/register' }, cjsPlain],
    [['app.mjs'], { ...agentEnv, NODE_OPTIONS: '--import aivory-monitor/register' }, esmPlain],
  ];
  for (const [args, env, plain] of runs) {
    const r = await runNode(args, opts(env));
    assert.equal(r.code, plain.code, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, plain.stdout, args.join(' '));
    assert.equal(r.stderr, plain.stderr, args.join(' '));
    // The same run with debug output proves the agent really started there.
    const dbg = await runNode(args, opts({ ...env, AIVORY_DEBUG: 'true' }));
    assert.match(dbg.stderr, /\[aivory-monitor\] debug: agent agent-[0-9a-f]+-[0-9a-f]{8} started/, args.join(' '));
    assert.equal(dbg.stdout, plain.stdout);
  }

  const bin = await runNode([join(project, 'node_modules', 'aivory-monitor', 'bin', 'aivory-monitor.js'), '--version'], opts(cleanEnv()));
  assert.match(bin.stdout, /^\d+\.\d+\.\d+\n$/);
});
