'use strict';
// CPU time per request at a fixed request rate, read from /proc (Linux). On a shared virtual
// machine, saturated throughput moves with what the neighbours do (rounds 30% apart were seen);
// the CPU time a process is given for a request does not count time the CPU spent elsewhere,
// so it shows a few percent of overhead where req/s cannot.
const { readFileSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const { median, range } = require('./stats');
const { alternate } = require('./rounds');

let ticksPerSecond;

/** utime + stime of a process and all its threads, ms; NaN where /proc cannot tell. */
function processCpuMs(pid) {
  try {
    ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return NaN;
  }
}

/**
 * sides: [{ name, url, pid }]. Loads each side at `rate` req/s for opts.duration seconds per round,
 * opts.rounds rounds in alternating order, and measures the CPU its process used per request.
 * `run(side)`: another load than autocannon's (gRPC calls), resolving { requests, reqPerSec }.
 * Resolves { [side.name]: [µs per request, per round] }, or null when /proc is not available.
 */
async function runCpuRounds(ctx, sides, { rate, path = '/', label, run }) {
  if (sides.some((s) => !Number.isFinite(processCpuMs(s.pid)))) return null;
  const { opts, load } = ctx;
  const loadSide = run ?? ((side) => load.run({ url: side.url + path, connections: 10, pipelining: 1, duration: opts.duration, overallRate: rate }));
  return alternate(opts.rounds, sides, async (side, r) => {
    const before = processCpuMs(side.pid);
    const res = await loadSide(side);
    const used = processCpuMs(side.pid) - before;
    const us = res.requests > 0 ? (used * 1000) / res.requests : NaN;
    ctx.log(`${label}: ${side.name} cpu round ${r + 1}/${opts.rounds}: ${Math.round(res.reqPerSec)} req/s, ${us.toFixed(1)} µs CPU per request`);
    return us;
  });
}

/** Median µs per request of each side, and without/with: the share of the app's capacity left. */
function compareCpu(base, other) {
  const pairs = base.map((b, i) => b / other[i]);
  return { base: median(base), other: median(other), ratio: median(base) / median(other), pairRange: range(pairs) };
}

module.exports = { processCpuMs, runCpuRounds, compareCpu };
