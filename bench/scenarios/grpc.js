'use strict';
// gRPC unary calls (@grpc/grpc-js), without and with the agent: calls per second at saturation,
// then CPU per call at a fixed rate. The agent gives every call its own scope (a scope object,
// three stream listeners, enterWith on each stream event) and wraps sendStatus.
const { startApp } = require('../lib/app');
const { startLoad } = require('../lib/load');
const { alternate } = require('../lib/rounds');
const { runCpuRounds } = require('../lib/cpu');
const { median, spread } = require('../lib/stats');
const { startAgentApp, ratioRow, cpuRow, cpuRate } = require('./throughput');

const DEF = { name: 'grpc', title: 'grpc-js unary call', target: 0.97 };
const CONCURRENCY = 50;

/** Median calls/s of a side's rounds, its spread and p99: the shape ratioRow reads. */
function summarise(rounds) {
  const rates = rounds.map((r) => r.callsPerSec);
  return { reqPerSec: median(rates), spread: spread(rates), p99: median(rounds.map((r) => r.p99)), errors: rounds.reduce((n, r) => n + r.errors, 0), rounds: rates };
}

async function runGrpc(ctx) {
  const { opts } = ctx;
  const backend = await ctx.backend();
  const load = startLoad('grpc-load-child.js');
  const none = await startApp('grpc-unary.js', false);
  const agent = await startAgentApp(ctx, 'grpc-unary.js', backend);
  try {
    const sides = [
      { name: 'none', port: none.port, pid: none.pid },
      { name: 'agent', port: agent.port, pid: agent.pid },
    ];
    for (const side of sides) await load.run({ port: side.port, seconds: opts.warmup, concurrency: CONCURRENCY });
    const saturated = await alternate(opts.rounds, sides, async (side, r) => {
      const res = await load.run({ port: side.port, seconds: opts.duration, concurrency: CONCURRENCY });
      ctx.log(`grpc: ${side.name} round ${r + 1}/${opts.rounds}: ${Math.round(res.callsPerSec)} calls/s, p99 ${res.p99.toFixed(1)} ms`);
      return res;
    });
    const a = summarise(saturated.none);
    const b = summarise(saturated.agent);
    for (const [side, name] of [[a, 'without-agent'], [b, 'agent']]) if (side.errors > 0) ctx.note(`grpc: ${side.errors} failed calls on the ${name} side`);
    const rows = [ratioRow(DEF.name, DEF.title, a, b, DEF.target)];
    const rate = cpuRate(a, b);
    const run = async (side) => {
      const res = await load.run({ port: side.port, seconds: opts.duration, rate, concurrency: 256 });
      return { requests: res.calls, reqPerSec: res.callsPerSec };
    };
    const cpu = await runCpuRounds(ctx, sides, { rate, label: 'grpc', run });
    if (cpu) rows.push(cpuRow(DEF, rate, cpu.none, cpu.agent));
    return rows;
  } finally {
    load.stop();
    await none.stop();
    await agent.stop();
  }
}

module.exports = { runGrpc };
