'use strict';
// The harness side of the load generator: one long-lived child process running autocannon.
const { join } = require('node:path');
const { forkNode } = require('./children');
const { baseEnv } = require('./paths');

/** Starts the load generator. Returns { run(opts) -> Promise<summary>, stop() }. */
function startLoad() {
  const child = forkNode(join(__dirname, 'load-child.js'), { env: baseEnv(), pinned: true });
  const pending = new Map();
  let nextId = 1;
  child.on('message', (msg) => {
    const p = pending.get(msg?.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`autocannon: ${msg.error}`));
    else p.resolve(msg.result);
  });
  child.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`load generator exited (${code ?? signal})`));
    pending.clear();
  });
  return {
    /**
     * One autocannon run. opts: url, connections, duration (s), and any other autocannon option.
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
