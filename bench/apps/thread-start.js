'use strict';
// Starts THREADS worker threads one after another (from this file, so that `--import` preloads run
// in them too) and prints, as JSON, the milliseconds from each `new Worker` to its first message.
const { Worker, isMainThread, parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');

const THREADS = Number(process.env.THREADS) || 10;

if (!isMainThread) {
  parentPort.postMessage('up');
} else {
  (async () => {
    const times = [];
    for (let i = 0; i < THREADS; i++) {
      const t0 = performance.now();
      const worker = new Worker(__filename);
      await new Promise((resolve) => worker.once('message', resolve));
      times.push(performance.now() - t0);
      await worker.terminate();
    }
    console.log(JSON.stringify(times));
  })();
}
