'use strict';
// The gRPC load generator, in its own process (as load-child.js for HTTP). Receives
// {id, opts: {port, seconds, rate, concurrency}} over IPC: unary calls over 4 channels, as fast as
// `concurrency` calls in flight allow (rate 0), or at `rate` calls per second. Answers
// {id, result: {callsPerSec, calls, seconds, errors, p99}} or {id, error}.
const grpc = require('@grpc/grpc-js');
const { GreeterService } = require('../apps/lib/greeter-service');

const Client = grpc.makeGenericClientConstructor(GreeterService, 'Greeter');
const CHANNELS = 4;
const TICK_MS = 10;

async function run({ port, seconds, rate = 0, concurrency = 50 }) {
  const clients = Array.from({ length: CHANNELS }, () => new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()));
  const latencies = [];
  let calls = 0;
  let errors = 0;
  let inFlight = 0;
  let next = 0;
  const call = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      inFlight++;
      clients[next++ % CHANNELS].Hello({ name: 'bench' }, (err) => {
        inFlight--;
        if (err) errors++;
        else {
          calls++;
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        resolve();
      });
    });
  const start = Date.now();
  const end = start + seconds * 1000;
  if (rate > 0) {
    // Fixed rate: every tick, the calls due since the start, at most `concurrency` in flight.
    let issued = 0;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const now = Date.now();
        const due = Math.floor(((Math.min(now, end) - start) / 1000) * rate);
        while (issued < due && inFlight < concurrency) {
          issued++;
          void call();
        }
        if (now >= end) {
          clearInterval(timer);
          resolve();
        }
      }, TICK_MS);
    });
    while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  } else {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) await call();
      }),
    );
  }
  const elapsed = (Date.now() - start) / 1000;
  for (const c of clients) c.close();
  latencies.sort((a, b) => a - b);
  return { callsPerSec: calls / elapsed, calls, seconds: elapsed, errors, p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN };
}

process.on('message', (msg) => {
  if (!msg || typeof msg.id !== 'number') return;
  run(msg.opts).then(
    (result) => process.send({ id: msg.id, result }),
    (err) => process.send({ id: msg.id, error: String(err?.stack ?? err) }),
  );
});

// The harness going away takes the load generator with it.
process.on('disconnect', () => process.exit(0));
