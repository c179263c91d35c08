// Pure helpers of the exception pipeline, in-process with fake clocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const { alignFrames } = require('../dist/worker/events/align-locals.js');
const { createPauseBudget, createTokenBucket } = require('../dist/worker/inspector/pause-budget.js');
const { createFingerprintLimiter } = require('../dist/shared/rate-limit.js');
const { createSourceMapper } = require('../dist/worker/events/source-maps.js');
const { unhandledRejectionsMode } = require('../dist/main/capture/process-hooks.js');
const { fingerprint } = require('../dist/worker/event-payload.js');
const { isAppUrl, isOwnUrl } = require('../dist/worker/inspector/app-frames.js');
const { dependencyRanges, inRanges } = require('../dist/worker/inspector/bundled-dependencies.js');
const { isControlFlowThrow } = require('../dist/worker/inspector/control-flow-throws.js');
const { setBounded } = require('../dist/shared/bounded-map.js');
const { TraceMap } = require('@jridgewell/trace-mapping');

const at = (file, line) => ({ file, line });
const paused = (file, line, functionLine = 0) => ({ file, line, functionLine });

test('alignFrames: outer frames match exactly, the throwing frame takes its creation frame', () => {
  // Error created one line above the throw, in the same function.
  assert.deepEqual(alignFrames([at('a', 31), at('a', 40), at('b', 5)], [paused('a', 32, 27), paused('a', 40), paused('b', 5)]), [0, 1, 2]);
  // Error created in a helper (extra top frame in the stack): the throwing frame is the one below it.
  assert.deepEqual(alignFrames([at('h', 3), at('a', 12), at('a', 20)], [paused('a', 13, 10), paused('a', 20)]), [1, 2]);
  // Stack cut by Error.stackTraceLimit: deeper pause frames find nothing.
  assert.deepEqual(alignFrames([at('a', 5)], [paused('a', 5), paused('a', 9), paused('a', 30)]), [0, -1, -1]);
  // Async: the stack has frames the pause does not; the pause has only the resumed function.
  assert.deepEqual(alignFrames([at('a', 10), at('a', 15), at('a', 22)], [paused('a', 10, 7)]), [0]);
  // Recursion: same function, same lines, matched in order.
  assert.deepEqual(alignFrames([at('r', 4), at('r', 6), at('r', 6), at('r', 9)], [paused('r', 4, 2), paused('r', 6), paused('r', 6), paused('r', 9)]), [0, 1, 2, 3]);
  // A frame from another file never matches; a position outside the function never matches.
  assert.deepEqual(alignFrames([at('x', 5)], [paused('a', 5)]), [-1]);
  assert.deepEqual(alignFrames([at('a', 2), at('a', 50)], [paused('a', 20, 10), paused('a', 50)]), [-1, 1]);
});

test('pause budget: a token bucket of pauses per second, and a per-site cap per minute', () => {
  let now = 1_000_000;
  const b = createPauseBudget(10, 5, () => now);
  let taken = 0;
  while (b.take()) taken++;
  assert.equal(taken, 10);
  assert.equal(b.empty(), true);
  assert.equal(b.msUntilToken(), 100);
  now += 100;
  assert.equal(b.take(), true);
  assert.equal(b.take(), false);
  now += 5000;
  assert.equal(b.msUntilToken(), 0);
  for (let i = 0; i < 5; i++) assert.equal(b.allowSite('s:1:1'), true);
  assert.equal(b.allowSite('s:1:1'), false);
  assert.equal(b.allowSite('s:2:1'), true);
  now += 60_000;
  assert.equal(b.allowSite('s:1:1'), true);
  const off = createPauseBudget(0, 5, () => now);
  assert.equal(off.take(), false);
  assert.equal(off.msUntilToken(), Infinity);
});

test('token bucket: a burst of its capacity, then its rate', () => {
  let now = 5_000;
  const b = createTokenBucket(10, 100, () => now);
  let taken = 0;
  while (b.take()) taken++;
  assert.equal(taken, 100, 'the whole burst');
  assert.equal(b.msUntilToken(), 100);
  now += 1000;
  taken = 0;
  while (b.take()) taken++;
  assert.equal(taken, 10, 'one second refills its rate, not the burst');
  now += 60_000;
  taken = 0;
  while (b.take()) taken++;
  assert.equal(taken, 100, 'never more than the capacity');
});

test('fingerprint limiter: first N per minute go out, the next one sent carries the suppressed count', () => {
  let now = 0;
  const l = createFingerprintLimiter(3, () => now);
  assert.deepEqual([l.admit('f'), l.admit('f'), l.admit('f'), l.admit('f'), l.admit('f')], [0, 0, 0, undefined, undefined]);
  assert.equal(l.admit('g'), 0, 'other fingerprints are independent');
  now += 60_000;
  assert.equal(l.admit('f'), 2);
  assert.equal(l.admit('f'), 0);
  // Drops counted on the app's thread are added to the count the next sent event carries.
  assert.equal(l.admit('g', 5), 5);
  // dropIfOver: counts a drop only while the key is over its limit in the current window.
  assert.equal(l.dropIfOver('unknown'), false);
  assert.equal(l.dropIfOver('f'), false, 'f has sent 2 of 3 this window');
  assert.equal(l.admit('f'), 0);
  assert.equal(l.dropIfOver('f'), true);
  assert.equal(l.dropIfOver('f'), true);
  now += 60_000;
  assert.equal(l.dropIfOver('f'), false, 'a new window: the next one goes out');
  assert.equal(l.admit('f'), 2, 'the drops counted by dropIfOver travel with it');
});

test('head shape: type and message with numbers and hex ids blanked, words kept', () => {
  const { describeHead, headShape } = require('../dist/main/capture/build-event.js');
  const shape = (e) => headShape(describeHead(e));
  assert.equal(shape(new Error('order 42 failed')), shape(new Error('order 7 failed')));
  assert.equal(shape(new Error('user 3f2a9c1e-77b0-4c1d-9e2f-0a1b2c3d4e5f')), shape(new Error('user 0e2a9c1e-77b0-4c1d-9e2f-0a1b2c3d4e60')));
  assert.notEqual(shape(new Error('order 42 failed')), shape(new Error('order 42 shipped')));
  assert.notEqual(shape(new TypeError('x')), shape(new RangeError('x')));
  assert.equal(describeHead(new Error('m')).stack, undefined, 'the head never formats the stack');
});

test('repeat key: type and stack frames, not the message', () => {
  const { describeThrown, repeatKey } = require('../dist/main/capture/build-event.js');
  const site = (message) => new TypeError(message);
  const key = (e) => repeatKey(describeThrown(e));
  const [a, b] = ['order 1', 'order 2'].map((m) => key(site(m)));
  assert.equal(a, b, 'same site, other message: one key');
  assert.notEqual(key(site('x')), key(new TypeError('x')), 'another line: another key');
  const e = site('x');
  const r = new RangeError('x');
  r.stack = e.stack.replace(/^TypeError/, 'RangeError');
  assert.notEqual(key(e), key(r), 'another type at the same frames: another key');
  assert.equal(key('just a string'), 'string');
});

test('source mapper: .map next to the file, inline data: URL maps, unmapped files, bad maps', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aivory-maps-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // "AAAA;AACA" -> generated line 1 col 0 -> src.ts 1:0; generated line 2 col 0 -> src.ts 2:0 (+1 line each: ;AACA)
  const map = { version: 3, sources: ['src.ts'], names: [], mappings: 'AAAA;AAEA;AAEA' };
  writeFileSync(join(dir, 'out.js'), 'a();\nb();\nc();\n//# sourceMappingURL=out.js.map\n');
  writeFileSync(join(dir, 'out.js.map'), JSON.stringify(map));
  writeFileSync(join(dir, 'inline.js'), `a();\nb();\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`);
  writeFileSync(join(dir, 'plain.js'), 'a();\n');
  writeFileSync(join(dir, 'broken.js'), 'a();\n//# sourceMappingURL=broken.js.map\n');
  writeFileSync(join(dir, 'broken.js.map'), '{not json');
  const m = createSourceMapper();
  assert.deepEqual(m.map(join(dir, 'out.js'), 2, 1), { file: join(dir, 'src.ts'), line: 3, column: 1 });
  assert.deepEqual(m.map(pathToFileURL(join(dir, 'out.js')).href, 3, 1), { file: join(dir, 'src.ts'), line: 5, column: 1 });
  assert.deepEqual(m.map(join(dir, 'inline.js'), 2, 1), { file: join(dir, 'src.ts'), line: 3, column: 1 });
  assert.equal(m.map(join(dir, 'plain.js'), 1, 1), undefined);
  assert.equal(m.map(join(dir, 'broken.js'), 1, 1), undefined);
  assert.equal(m.map('node:internal/timers', 1, 1), undefined);
  assert.equal(m.map(join(dir, 'missing.js'), 1, 1), undefined);
});

test('--unhandled-rejections mode: NODE_OPTIONS, then the command line, last one wins', () => {
  assert.equal(unhandledRejectionsMode([], ''), 'throw');
  assert.equal(unhandledRejectionsMode(['--unhandled-rejections=warn'], ''), 'warn');
  assert.equal(unhandledRejectionsMode([], '--unhandled-rejections=none'), 'none');
  assert.equal(unhandledRejectionsMode(['--unhandled-rejections=strict'], '--unhandled-rejections=none'), 'strict');
  assert.equal(unhandledRejectionsMode(['--unhandled-rejections', 'warn-with-error-code'], ''), 'warn-with-error-code');
});

test('fingerprint: stable across machines (no absolute paths), sensitive to type and in-app frames only', () => {
  const frame = (file_path, line_number, method_name = 'f', in_app = true) => ({ file_path, line_number, method_name, in_app });
  const a = fingerprint('TypeError', [frame('/home/a/app/src/x.js', 3), frame('/home/a/app/node_modules/lib/i.js', 9, 'g', false)], '/home/a/app');
  const b = fingerprint('TypeError', [frame('/srv/app/src/x.js', 3), frame('/srv/app/node_modules/lib/i.js', 12, 'g', false)], '/srv/app');
  assert.equal(a, b);
  assert.match(a, /^[0-9a-f]{16}$/);
  assert.notEqual(a, fingerprint('RangeError', [frame('/srv/app/src/x.js', 3)], '/srv/app'));
  assert.notEqual(a, fingerprint('TypeError', [frame('/srv/app/src/x.js', 4)], '/srv/app'));
});

test('app frames: the app, not node internals, dependencies or the agent itself', () => {
  assert.equal(isAppUrl('file:///srv/app/index.js'), true);
  assert.equal(isAppUrl('/srv/app/index.js'), true);
  assert.equal(isAppUrl('node:internal/timers'), false);
  assert.equal(isAppUrl('file:///srv/app/node_modules/express/index.js'), false);
  assert.equal(isAppUrl(''), false);
  const own = pathToFileURL(require.resolve('../dist/main/capture/report.js')).href;
  assert.equal(isOwnUrl(own), true);
  assert.equal(isAppUrl(own), false);
});

test("a bundle's dependency ranges: generated code from node_modules or ignore-listed sources, unmapped segments keep their range", () => {
  // Sources: 0 the app, 1 a dependency by its path, 2 one the bundler ignore-lists. Segments:
  // [generated column, source, line, column].
  const mappings = [
    [[0, 0, 0, 0], [20, 1, 4, 0], [30], [40, 2, 0, 0]], // line 0: app, then dependencies from column 20 on
    [[0, 2, 1, 0]], // line 1: still a dependency
    [[4, 0, 9, 0], [12, 1, 0, 0]], // line 2: back to the app at 4, a dependency again from 12 to the end
  ];
  const map = new TraceMap({ version: 3, file: 'bundle.js', sources: ['src/app.js', 'node_modules/a/index.js', 'runtime/chunks.js'], names: [], mappings, ignoreList: [2] });
  const loaded = { map, sourcePaths: ['/srv/app/src/app.js', '/srv/app/node_modules/a/index.js', '/srv/app/runtime/chunks.js'] };
  const ranges = dependencyRanges(loaded);
  assert.deepEqual([...ranges], [0, 20, 2, 4, 2, 12, 3, 0]);
  assert.equal(inRanges(ranges, 0, 19), false);
  assert.equal(inRanges(ranges, 0, 20), true);
  assert.equal(inRanges(ranges, 1, 500), true);
  assert.equal(inRanges(ranges, 2, 3), true);
  assert.equal(inRanges(ranges, 2, 4), false, 'an end is exclusive');
  assert.equal(inRanges(ranges, 2, 11), false);
  assert.equal(inRanges(ranges, 2, 12), true);
  assert.equal(inRanges(ranges, 3, 0), false);
  // Without the ignore list, the third source is the app's: line 1 and the end of line 2 are not ranges.
  const plain = new TraceMap({ version: 3, file: 'bundle.js', sources: ['src/app.js', 'node_modules/a/index.js', 'runtime/chunks.js'], names: [], mappings });
  assert.deepEqual([...dependencyRanges({ ...loaded, map: plain })], [0, 20, 0, 40, 2, 12, 3, 0]);
  // A map with no dependency source has nothing to blackbox.
  assert.equal(dependencyRanges({ map: plain, sourcePaths: ['/srv/app/a.js', '/srv/app/b.js', '/srv/app/c.js'] }), undefined);
});

test("frameworks' control-flow throws, by the thrown value's description; real errors are not", () => {
  const error = (description, className = 'Error') => ({ type: 'object', subtype: 'error', className, description });
  for (const d of [
    "Error: Suspense Exception: This is not a real error! It's an implementation detail of `use`",
    'Error: Suspense Exception: This is not a real error, and should not leak into userspace.',
    'Error: NEXT_REDIRECT\n    at redirect (file:///srv/app/.next/server/chunks/1.js:2:3)',
    'Error: NEXT_HTTP_ERROR_FALLBACK;404',
    'Error: NEXT_NOT_FOUND',
    'DynamicServerError: Dynamic server usage: cookies',
    'Error: Bail out to client-side rendering: next/dynamic',
  ]) assert.equal(isControlFlowThrow(error(d)), true, d);
  assert.equal(isControlFlowThrow({ type: 'object', subtype: 'promise', className: 'Promise', description: 'Promise' }), true, 'React 18 suspends by throwing a promise');
  for (const className of ['Response', '_Response', 'DataWithResponseInit', 'Redirect', 'HttpError']) {
    assert.equal(isControlFlowThrow({ type: 'object', className, description: className }), true, className);
  }
  assert.equal(isControlFlowThrow(error('HttpError: upstream failed', 'HttpError')), false, 'an Error subclass named HttpError is a real error');
  assert.equal(isControlFlowThrow({ type: 'object', className: 'Object', description: 'Object' }), false, 'a thrown plain object');
  for (const d of ['Error: redirect to NEXT_REDIRECT failed', 'TypeError: Suspense Exception', 'Error: order 41 over limit', 'Error: NEXT_HTTP_ERROR_FALLBACK']) {
    assert.equal(isControlFlowThrow(error(d)), false, d);
  }
  assert.equal(isControlFlowThrow({ type: 'string', value: 'NEXT_REDIRECT' }), false, 'a thrown string');
  assert.equal(isControlFlowThrow(undefined), false);
});

test('bounded maps: a new key drops the oldest entry once full; an existing key is updated in place', () => {
  const m = new Map();
  for (const k of ['a', 'b', 'c']) setBounded(m, k, 1, 3);
  setBounded(m, 'b', 2, 3);
  assert.deepEqual([...m], [['a', 1], ['b', 2], ['c', 1]]);
  setBounded(m, 'd', 1, 3);
  assert.deepEqual([...m.keys()], ['b', 'c', 'd']);
});
