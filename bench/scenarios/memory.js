'use strict';
// Memory of an app throwing `errorRate` errors per second while the agent's backend is down.
const net = require('node:net');
const { setTimeout: delay } = require('node:timers/promises');
const { startApp } = require('../lib/app');
const { getJson } = require('../lib/http');
const { median } = require('../lib/stats');
const f = require('../lib/format');

const MB = 1024 * 1024;
/** Growth over the second half of the run that still counts as flat (GC and allocator noise). */
const FLAT_BYTES = 5 * MB;
/** What the agent may hold on top of the app: the queue cap (10 MiB by default), the worker, slack. */
const MAX_EXTRA_BYTES = 64 * MB;

/** A ws:// URL on which nothing listens. */
function deadBackendUrl() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(`ws://127.0.0.1:${port}/ws/monitor/agent`));
    });
  });
}

/** Median rss of the samples taken in [from, to) seconds. */
function rssBetween(samples, from, to) {
  return median(samples.filter((s) => s.t >= from && s.t < to).map((s) => s.rss));
}

async function runMemory(ctx) {
  const seconds = ctx.opts.memorySeconds;
  const rate = ctx.opts.errorRate;
  const none = await startApp('express-throw.js', false);
  const agent = await startApp('express-throw.js', { backendUrl: await deadBackendUrl() });
  try {
    const sides = { none: { app: none, samples: [] }, agent: { app: agent, samples: [] } };
    const t0 = Date.now();
    const sample = async () => {
      for (const side of Object.values(sides)) {
        const m = await getJson(`${side.app.url}/__rss`);
        side.samples.push({ t: (Date.now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed });
      }
    };
    await sample();
    // Both apps under the same fixed load at once: this measures memory, not throughput.
    const load = { connections: 10, duration: seconds, overallRate: rate };
    let finished = false;
    const loads = Promise.all([ctx.load.run({ ...load, url: none.url }), ctx.load.run({ ...load, url: agent.url })]).finally(() => {
      finished = true;
    });
    const every = Math.max(1000, (seconds * 1000) / 30);
    while (!finished) {
      await Promise.race([delay(every), loads]);
      await sample();
    }
    const [loadNone, loadAgent] = await loads;
    ctx.log(`memory: ${Math.round(loadNone.reqPerSec)} / ${Math.round(loadAgent.reqPerSec)} errors/s (none / agent)`);
    if (loadAgent.reqPerSec < rate * 0.9) ctx.note(`memory: the agent side only got ${Math.round(loadAgent.reqPerSec)} of the ${rate} errors/s asked for`);

    const summary = {};
    for (const [name, side] of Object.entries(sides)) {
      const end = side.samples.at(-1).t;
      const mid = rssBetween(side.samples, end * 0.4, end * 0.6);
      const last = rssBetween(side.samples, end * 0.85, end + 1);
      summary[name] = { start: side.samples[0].rss, mid, end: last, peak: Math.max(...side.samples.map((s) => s.rss)), growthSecondHalf: last - mid, samples: side.samples };
    }
    const extra = summary.agent.end - summary.none.end;
    const flat = summary.agent.growthSecondHalf <= FLAT_BYTES;
    const ok = flat && extra <= MAX_EXTRA_BYTES;
    return [
      {
        name: 'memory',
        title: `RSS after ${seconds} s of ${rate} errors/s, backend down`,
        without: f.mb(summary.none.end),
        with: f.mb(summary.agent.end),
        result: `+${f.mb(extra)}; 2nd half ${summary.agent.growthSecondHalf >= 0 ? '+' : ''}${f.mb(summary.agent.growthSecondHalf)}`,
        p99Without: `peak ${f.mb(summary.none.peak)}`,
        p99With: `peak ${f.mb(summary.agent.peak)}`,
        target: 'bounded, flat',
        verdict: f.verdict(ok),
        data: { seconds, errorRate: rate, achievedRate: { none: loadNone.reqPerSec, agent: loadAgent.reqPerSec }, extraBytes: extra, flatBytes: FLAT_BYTES, maxExtraBytes: MAX_EXTRA_BYTES, ...summary },
      },
    ];
  } finally {
    await none.stop();
    await agent.stop();
  }
}

module.exports = { runMemory };
