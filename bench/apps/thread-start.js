'use strict';
// Starts THREADS worker threads one after another (from this file, so that `--import` preloads run
// in them too) and prints, as JSON, the milliseconds from each `new Worker` to its first message.
const { isMainThread, parentPort } = require('node:worker_threads');
const { startThreads } = require('./lib/start-threads');

const THREADS = Number(process.env.THREADS) || 10;

if (!isMainThread) parentPort.postMessage('up');
else startThreads(__filename, THREADS).then((times) => console.log(JSON.stringify(times)));
