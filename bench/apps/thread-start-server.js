'use strict';
// A service that starts worker threads on request: GET /start?n=N starts N threads one after
// another (thread-start.js, which answers as soon as it runs) and answers, as JSON, the
// milliseconds from each `new Worker` to its first message.
const http = require('node:http');
const { join } = require('node:path');
const { startThreads } = require('./lib/start-threads');

const THREAD = join(__dirname, 'thread-start.js');

const server = http.createServer(async (req, res) => {
  const n = Math.min(50, Math.max(1, Number(new URL(req.url, 'http://x').searchParams.get('n')) || 1));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(await startThreads(THREAD, n)));
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
