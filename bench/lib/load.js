'use strict';
// The harness side of a load generator: one long-lived child process (autocannon, or gRPC calls).
const { join } = require('node:path');
const { forkNode } = require('./children');
const { baseEnv } = require('./paths');

/**
 * Starts a load generator: autocannon (load-child.js), or another child speaking the same
 * {id, opts} -> {id, result | error} messages (grpc-load-child.js). Returns { run(opts) -> Promise<summary>, stop() }.
 */
function startLoad(childModule = 'load-child.js') {
  const child = forkNode(join(__dirname, childModule), { env: baseEnv(), pinned: true });
  const pending = new Map();
  let nextId = 1;
  child.on('message', (msg) => {
    const p = pending.get(msg?.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`${childModule}: ${msg.error}`));
    else p.resolve(msg.result);
  });
  child.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`load generator exited (${code ?? signal})`));
    pending.clear();
  });
  return {
    /**
     * One run. autocannon: opts url, connections, duration (s), and any other autocannon option;
     * grpc-load-child.js: see there.
     * Resolves with { reqPerSec, requests, latency: {p50, p99, ...}, errors, timeouts, non2xx, statusCodes }.
     */
    run(opts) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, opts });
      });
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

module.exports = { startLoad };
