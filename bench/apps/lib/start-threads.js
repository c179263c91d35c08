'use strict';
// Starts n worker threads of `file` one after another and resolves with the milliseconds from each
// `new Worker` to its first message (the thread ends after it).
const { Worker } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');

async function startThreads(file, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const worker = new Worker(file);
    await new Promise((resolve) => worker.once('message', resolve));
    times.push(performance.now() - t0);
    await worker.terminate();
  }
  return times;
}

module.exports = { startThreads };
