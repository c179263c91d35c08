// Unit tests of the bench's own helpers: `node --test bench/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { median, percentile, spread, range } = require('../lib/stats');
const { parseOptions } = require('../lib/options');
const { formatTable } = require('../lib/report');
const { summariseSide, compare } = require('../lib/rounds');

test('median and percentiles interpolate and ignore non-numbers', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(percentile([1, 2, 3, 4, 5], 0), 1);
  assert.equal(percentile([1, 2, 3, 4, 5], 100), 5);
  assert.equal(percentile([0, 10], 99), 9.9);
  assert.ok(Number.isNaN(median([NaN, undefined])));
  assert.equal(spread([90, 100, 110]), 0.2);
  assert.deepEqual(range([5, 1, 3]), [1, 5]);
});

test('quick mode shortens rounds; explicit values win; bad input is a usage error', () => {
  const q = parseOptions(['--quick', '--rounds=3']);
  assert.equal(q.quick, true);
  assert.equal(q.rounds, 3);
  assert.ok(q.duration < parseOptions([]).duration);
  assert.deepEqual(parseOptions(['--only', 'http', '--only=express,fastify']).only, ['http', 'express', 'fastify']);
  for (const bad of [['--only', 'nope'], ['--rounds', '1.5'], ['--connections', '-1'], ['--backend', 'x'], ['--what']]) {
    assert.throws(() => parseOptions(bad), (err) => err.usage === true, bad.join(' '));
  }
});

test('sides are summarised by medians and compared round by round', () => {
  const round = (reqPerSec, status = 200) => ({ reqPerSec, latency: { p50: 1, p99: 2 }, errors: 0, timeouts: 0, statusCodes: { [status]: 10 } });
  const none = summariseSide([round(100), round(110), round(90)]);
  const agent = summariseSide([round(95), round(99, 500), round(90)]);
  assert.equal(none.reqPerSec, 100);
  assert.equal(agent.unexpectedStatus, 10);
  const c = compare(agent, none);
  assert.equal(c.ratio, 0.95);
  assert.deepEqual(c.pairRange, [0.9, 1]);
});

test('the table is aligned Markdown and escapes pipes', () => {
  const t = formatTable([{ title: 'a|b', without: '1', with: '2', result: '0.5', p99Without: '', p99With: '', target: '>= 1', verdict: 'FAIL' }]);
  const lines = t.split('\n');
  assert.equal(lines.length, 3);
  assert.ok(lines[2].includes('a\\|b'));
  assert.equal(new Set(lines.map((l) => l.length)).size, 1);
});

test('CPU per request: /proc CPU time of a process grows with its work; ratios are without / with', { skip: process.platform !== 'linux' }, () => {
  const { processCpuMs, compareCpu } = require('../lib/cpu');
  const before = processCpuMs(process.pid);
  assert.ok(Number.isFinite(before) && before >= 0);
  // Busy until Node itself counts 200 ms of CPU (wall time would depend on the machine's load).
  const start = process.cpuUsage();
  let x = 0;
  while (process.cpuUsage(start).user < 200_000) x += Math.sqrt(x + 1);
  const used = processCpuMs(process.pid) - before;
  assert.ok(used >= 150 && used < 2000, `200 ms of CPU counted as ${used} ms`);
  assert.ok(Number.isNaN(processCpuMs(2 ** 30)), 'a process that does not exist');
  const c = compareCpu([100, 120, 110], [110, 125, 121]);
  assert.equal(c.base, 110);
  assert.equal(c.other, 121);
  assert.equal(c.ratio, 110 / 121);
  assert.deepEqual(c.pairRange, [100 / 110, 120 / 125]);
});
