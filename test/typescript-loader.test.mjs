// TypeScript run straight from .ts files: by a loader (tsx, ts-node), which compiles each file in memory
// under the .ts file's own URL with an inline source map, so the compiled lines are not the
// file's; and by Node itself where it strips types. Breakpoints set on .ts lines, hits and crashes
// must all speak the .ts file's lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, REGISTER_ESM, ROOT, startNode } from './helpers/process.mjs';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'tsx', 'app.mts');

/**
 * The fixture as `file`: app.mts is an ES module; the same code as app.ts in a folder without a
 * package.json is compiled by tsx as CommonJS.
 */
function fixtureAs(t, file) {
  if (file === 'app.mts') return FIXTURE;
  const dir = mkdtempSync(join(tmpdir(), 'aivory-tsx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(FIXTURE, join(dir, file));
  return join(dir, file);
}

function markerLine(file, marker) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `${marker} in ${file}`);
  return i + 1;
}

/** Every variable name a payload shows, at the top and in each frame. */
function variableNames(payload) {
  const names = Object.keys(payload.local_variables ?? {});
  for (const f of payload.stack_trace ?? []) names.push(...Object.keys(f.local_variables ?? {}));
  return names;
}

// Node strips types itself from 22.18 / 23.6 on (the lines stay where they are, no source map).
const nativeTypes = Boolean(process.features.typescript);
const CASES = [
  { file: 'app.ts', runner: 'tsx', loader: ['--import', 'tsx'] },
  { file: 'app.mts', runner: 'tsx', loader: ['--import', 'tsx'] },
  { file: 'app.mts', runner: "Node's own type stripping", loader: [], skip: !nativeTypes && `node ${process.version} does not run .ts files` },
  {
    file: 'app.ts',
    runner: 'ts-node',
    loader: ['--require', 'ts-node/register'],
    // With any --import, Node loads the main file as an ES module, which ts-node's require hook never sees.
    preload: ['--require', REGISTER_CJS],
    env: { TS_NODE_TRANSPILE_ONLY: '1', TS_NODE_COMPILER_OPTIONS: JSON.stringify({ module: 'commonjs', moduleResolution: 'node', esModuleInterop: true, target: 'es2022' }) },
  },
];

for (const { file, runner, loader, skip, env = {}, preload = ['--import', REGISTER_ESM] } of CASES) {
  test(`${runner} runs ${file}: a breakpoint on a .ts line hits there, and a crash reports .ts lines and locals`, { skip }, async (t) => {
    const source = fixtureAs(t, file);
    const bpLine = markerLine(source, '// BREAKPOINT lookup');
    const throwLine = markerLine(source, '// THROW missing');
    const backend = await startBackend({ t });
    const app = startNode([...loader, ...preload, source], { env: agentEnv(backend, env), t, cwd: ROOT });
    const port = (await app.waitForOutput(/listening (\d+)/))[1];
    await backend.waitFor('agent');

    // The line is below declarations that compile to nothing: the compiled line is a different one.
    const bp = await backend.post('/api/breakpoints', { file_path: file, line_number: bpLine });
    const installed = await backend.waitFor('breakpoint_status', (s) => s.breakpoint_id === bp.id && s.status !== 'received');
    assert.equal(installed.status, 'installed', installed.message);
    assert.equal(installed.actual_line, bpLine, installed.message);

    const ok = await fetch(`http://127.0.0.1:${port}/accounts/1`);
    assert.deepEqual(await ok.json(), { id: 1, owner: 'ann', balance: 120 });
    const hit = await backend.waitFor('breakpoint_hit', (h) => h.breakpoint_id === bp.id);
    assert.equal(hit.line_number, bpLine);
    assert.equal(hit.file_path, source);
    assert.equal(hit.local_variables.id.value, '1');

    // A request for a missing account answers 404, then the error crashes the process.
    const missing = await fetch(`http://127.0.0.1:${port}/accounts/9`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), 'not found');
    const crash = await backend.waitFor('exception', (e) => e.message === 'no account 9');
    assert.equal(crash.exception_type, 'RangeError');
    const top = crash.stack_trace[0];
    assert.equal(top.file_path, source);
    assert.equal(top.line_number, throwLine);
    assert.equal(top.local_variables?.id?.value, '9');
    // The compiler's helper functions (__name, __toESM, ...) are not the app's variables.
    const helpers = variableNames(crash).filter((n) => n.startsWith('__'));
    assert.deepEqual(helpers, []);

    const exit = await app.exited;
    assert.equal(exit.code, 1);
    assert.match(app.stderr(), /RangeError: no account 9/);
  });
}
