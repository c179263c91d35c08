'use strict';
// Alternating load rounds over several running apps ("sides"), and their summary.
const { median, spread, range } = require('./stats');

/**
 * sides: [{ name, url, before?(): Promise }]. Warms every side up, then runs `rounds` rounds; each
 * round loads every side once, in an order that flips every round (A B, B A, A B...) so that a
 * machine getting slower or faster during the run does not favour one side.
 * Resolves { [side.name]: [summary per round] }.
 */
async function runRounds(ctx, sides, { path = '/', label }) {
  const { opts, load } = ctx;
  const base = { connections: opts.connections, pipelining: 1 };
  for (const side of sides) {
    await side.before?.();
    await load.run({ ...base, url: side.url + path, duration: opts.warmup });
  }
  return alternate(opts.rounds, sides, async (side, r) => {
    await side.before?.();
    const res = await load.run({ ...base, url: side.url + path, duration: opts.duration });
    ctx.log(`${label}: ${side.name} round ${r + 1}/${opts.rounds}: ${Math.round(res.reqPerSec)} req/s, p99 ${res.latency.p99} ms`);
    return res;
  });
}

/**
 * Runs `measure(side, round)` for every side in each of `rounds` rounds, in an order that flips
 * every round. Resolves { [side.name]: [what measure returned, per round] }.
 */
async function alternate(rounds, sides, measure) {
  const out = Object.fromEntries(sides.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) out[side.name].push(await measure(side, r));
  }
  return out;
}

/** Median req/s, its spread, median p99 and any request that did not answer `expectStatus`. */
function summariseSide(rounds, expectStatus = 200) {
  const rps = rounds.map((r) => r.reqPerSec);
  let unexpected = 0;
  let errors = 0;
  for (const r of rounds) {
    errors += r.errors + r.timeouts;
    for (const [code, n] of Object.entries(r.statusCodes)) if (Number(code) !== expectStatus) unexpected += n;
  }
  return {
    reqPerSec: median(rps),
    spread: spread(rps),
    p99: median(rounds.map((r) => r.latency.p99)),
    p50: median(rounds.map((r) => r.latency.p50)),
    errors,
    unexpectedStatus: unexpected,
    rounds: rps,
    roundDetails: rounds.map((r) => ({ reqPerSec: r.reqPerSec, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, timeouts: r.timeouts, statusCodes: r.statusCodes })),
  };
}

/** ratio of medians, and the range of the per-round ratios (round i of `a` over round i of `b`). */
function compare(a, b) {
  const pairs = a.rounds.map((x, i) => x / b.rounds[i]);
  return { ratio: a.reqPerSec / b.reqPerSec, pairRange: range(pairs) };
}

module.exports = { runRounds, alternate, summariseSide, compare };
