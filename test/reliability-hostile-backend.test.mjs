// Hostile input from the backend: set_breakpoint frames whose conditions try to exit the process,
// write a file, loop forever or read process.env; file paths with `..`, NUL or absurd lines;
// thousands of breakpoints; malformed ids. Each gets a clear error status (or, without a usable id,
// is ignored) and nothing changes in the app. A real ws server plays the backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, markerLine, startEdge } from './helpers/edge.mjs';
import { REGISTER_CJS, cleanEnv, startNode } from './helpers/process.mjs';
import { assertAppUnaffected, waitLoopsAdvance } from './helpers/reliability.mjs';

const LINE = markerLine(APP, 'work');
const FILE = 'reliability/app.cjs';
const ENV_SECRET = 'env-secret-value-7c1e';

function startApp(t, edge, extra = {}) {
  return startNode(['--require', REGISTER_CJS, APP], {
    env: cleanEnv({ AIVORY_API_KEY: 'fake-key-hostile-0000', AIVORY_BACKEND_URL: edge.url, AIVORY_DEBUG: '1', WORK: '1', STATS_MS: '250', SOME_SETTING: ENV_SECRET, ...extra }),
    t,
  });
}
const statusesOf = (edge, id) => edge.frames('breakpoint_status').filter((f) => f.payload.breakpoint_id === id).map((f) => f.payload);
const finalStatus = (edge, id, ms = 15000) =>
  edge.next((f) => f.type === 'breakpoint_status' && f.payload.breakpoint_id === id && f.payload.status !== 'received', ms).then((f) => f.payload);

test('hostile set_breakpoint frames: each refused with a reason, the app untouched, a good breakpoint still works', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aivory-hostile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const written = join(dir, 'written-by-condition');
  const refused = {
    // conditions
    exit: [{ condition: 'process.exit(7)' }, /`process` is not allowed/],
    exitEscape: [{ condition: 'label.constructor.constructor("return process")().exit(3)' }, /`constructor` is not allowed/],
    exitIndirect: [{ condition: "label['constr' + 'uctor']['constr' + 'uctor']('return process')()" }, /only calls to read-only built-ins/],
    writeFile: [{ condition: `require('fs').writeFileSync(${JSON.stringify(written)}, 'x')` }, /`require` is not allowed/],
    importFs: [{ condition: `import('fs').then((fs) => fs.writeFileSync(${JSON.stringify(written)}, 'x'))` }, /`import` is not allowed/],
    loop: [{ condition: 'while (true) {}' }, /`while` is not allowed/],
    loopFn: [{ condition: '(() => { for (;;); })()' }, /not allowed/],
    readEnv: [{ condition: 'process.env.SOME_SETTING.length > 0' }, /`process` is not allowed/],
    readEnvGlobal: [{ condition: 'globalThis.process.env' }, /`globalThis` is not allowed/],
    callsUserCode: [{ condition: 'values.hooks.toString() === "x"' }, /calling `toString` is not allowed/],
    // paths and lines
    dotdot: [{ file_path: '../../../../etc/passwd' }, /"\.\." segments/],
    dotdotToApp: [{ file_path: '../reliability/app.cjs' }, /"\.\." segments/],
    nul: [{ file_path: 'app.cjs\u0000.js' }, /control characters/],
    newline: [{ file_path: 'app.cjs\n[aivory-monitor] forged' }, /control characters/],
    longPath: [{ file_path: `${'a/'.repeat(300_000)}app.cjs` }, /at most 4096 characters/],
    hugeLine: [{ line_number: Number.MAX_SAFE_INTEGER }, /line_number must be an integer from 1 to 2147483647/],
    pastEnd: [{ line_number: 100_000 }, /has no code at or after it/],
    noFile: [{ file_path: '/' }, /names no file/],
    fraction: [{ max_hits: 0.5 }, /max_hits must be an integer/],
    ttl: [{ ttl_seconds: -1 }, /ttl_seconds must be a positive number/],
  };
  // Frames without a usable id: nothing to report a status against, so they are ignored (debug line).
  const noId = [{ id: 42 }, { id: '' }, { id: 'x'.repeat(201) }, { id: { toString: 'x' } }, {}, { id: 'ok', line_number: -1 }, { id: 'ok', line_number: 1.5 }, { id: 'ok', file_path: 7 }];
  const oddId = 'odd "id" \\ $^|()[] \u0000\u001b[31m\u2028 end';

  const edge = await startEdge(t, {
    onRegister(conn) {
      conn.accept();
      const send = (payload) => conn.send({ type: 'set_breakpoint', payload: { file_path: FILE, line_number: LINE, ...payload }, timestamp: Date.now() });
      for (const [id, [payload]] of Object.entries(refused)) send({ id, ...payload });
      for (const payload of noId) send(payload);
      conn.send({ type: 'remove_breakpoint', payload: { id: 'never-set' } });
      conn.send({ type: 'remove_breakpoint', payload: { id: ['array'] } });
      // After all of that, ordinary breakpoints still work, whatever their id's characters.
      send({ id: oddId });
      send({ id: 'good', max_hits: 2 });
    },
  });
  const app = startApp(t, edge);
  await edge.next((f) => f.type === 'breakpoint_hit' && f.payload.breakpoint_id === 'good' && f.payload.hit_count === 2, 20_000);
  await edge.next((f) => f.type === 'breakpoint_hit' && f.payload.breakpoint_id === oddId, 5000);

  for (const [id, [, reason]] of Object.entries(refused)) {
    const s = await finalStatus(edge, id);
    assert.equal(s.status, 'error', `${id}: ${JSON.stringify(s)}`);
    assert.match(s.message, reason, id);
    assert.ok(statusesOf(edge, id).every((x) => x.status === 'received' || x.status === 'error'), `${id} was never installed`);
    assert.equal(edge.frames('breakpoint_hit').filter((f) => f.payload.breakpoint_id === id).length, 0, `${id} never hit`);
  }
  const ignored = app.stderr().match(/ignored a set_breakpoint frame without id, file_path or line_number/g) ?? [];
  assert.equal(ignored.length, noId.length, 'one debug line per frame without a usable id');
  assert.deepEqual(statusesOf(edge, 'ok'), [], 'nothing reported for a frame that was ignored');
  assert.match(app.stderr(), /ignored a remove_breakpoint frame without id/);
  assert.equal((await finalStatus(edge, 'never-set')).message, 'not set');

  // Nothing changed: the app runs on (loop counter moves), no file, no secret anywhere.
  await waitLoopsAdvance(app);
  assert.equal(app.child.exitCode, null, 'still running');
  assert.equal(existsSync(written), false, 'no file was written');
  assert.ok(!edge.allText().includes(ENV_SECRET), 'process.env never left the process');
  const good = edge.frames('breakpoint_hit').filter((f) => f.payload.breakpoint_id === 'good');
  assert.deepEqual(good.map((f) => f.payload.local_variables.label.value.startsWith('loop ')), [true, true]);
  // Text from the backend cannot forge log lines or reach the terminal raw.
  const err = app.stderr();
  assert.doesNotMatch(err, /[\u0000\u001b\u2028]/, 'control characters are escaped in log lines');
  for (const line of err.split('\n').filter(Boolean)) assert.match(line, /^\[aivory-monitor\] debug: /);
  assert.ok(err.includes('odd "id" \\ $^|()[] \\u0000\\u001b[31m\\u2028 end'), 'the odd id is logged escaped');
  assertAppUnaffected(t, app, { maxLateMs: 1000 });
});

test('thousands of breakpoints in one burst: the first 100 are taken, the rest refused, the app keeps its pace', { timeout: 60_000 }, async (t) => {
  const N = 2000;
  const edge = await startEdge(t, {
    onRegister(conn) {
      conn.accept();
      for (let i = 0; i < N; i++) {
        // never true: the breakpoints stay installed (a condition that is cheap to evaluate is still evaluated)
        conn.send({ type: 'set_breakpoint', payload: { id: `bp-${i}`, file_path: FILE, line_number: LINE, condition: 'i < 0', ttl_seconds: 60 }, timestamp: Date.now() });
      }
    },
  });
  const app = startApp(t, edge, { AIVORY_DEBUG: '0' });
  await edge.next((f) => f.type === 'breakpoint_status' && f.payload.breakpoint_id === `bp-${N - 1}` && f.payload.status !== 'received', 30_000);
  await edge.next((f) => f.type === 'breakpoint_status' && f.payload.breakpoint_id === 'bp-99' && f.payload.status !== 'received', 30_000);
  const last = new Map();
  for (const f of edge.frames('breakpoint_status')) if (f.payload.status !== 'received') last.set(f.payload.breakpoint_id, f.payload);
  const byStatus = {};
  for (const s of last.values()) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
  t.diagnostic(`statuses: ${JSON.stringify(byStatus)}`);
  assert.equal(last.size, N, 'every breakpoint got an answer');
  assert.equal(byStatus.error, N - 100);
  for (let i = 100; i < N; i++) assert.match(last.get(`bp-${i}`).message, /too many active breakpoints \(100\)/);
  // The first 100 were installed, unless the breakpoint CPU budget removed them (exhausted) first.
  assert.equal((byStatus.installed ?? 0) + (byStatus.exhausted ?? 0), 100);
  assert.equal(edge.frames('breakpoint_hit').length, 0);
  await waitLoopsAdvance(app);
  assertAppUnaffected(t, app, { maxLateMs: 1500 });
  assert.equal(app.stderr(), '');
});
