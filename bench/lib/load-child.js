'use strict';
// The load generator, in its own process so that it never shares an event loop with the app under
// test nor with the harness. Receives {id, opts} over IPC, answers {id, result} or {id, error}.
const autocannon = require('autocannon');

function summarise(r) {
  const seconds = r.duration > 0 ? r.duration : NaN;
  const codes = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) codes[code] = v.count;
  return {
    reqPerSec: r.requests.total / seconds,
    requests: r.requests.total,
    seconds,
    latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes: codes,
  };
}

process.on('message', (msg) => {
  if (!msg || typeof msg.id !== 'number') return;
  autocannon(msg.opts, (err, result) => {
    if (err) process.send({ id: msg.id, error: String(err?.stack ?? err) });
    else process.send({ id: msg.id, result: summarise(result) });
  });
});

// The harness going away (crash, Ctrl-C) takes the load generator with it.
process.on('disconnect', () => process.exit(0));
