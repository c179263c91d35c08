'use strict';
// express 5 hello, the target of the breakpoint scenarios. Lines marked `// BREAKPOINT <name>`
// are where the bench sets breakpoints (it finds them by that marker, not by number).
const express = require('express');
const { performance } = require('node:perf_hooks');
const { rarelyCalled } = require('./lib/cold');

const app = express();

app.get('/', (req, res) => {
  const greeting = 'Hello World!'; // BREAKPOINT route
  res.send(greeting);
});

// One request = one run of the marked line. The response says when the line was reached (epoch ms,
// sub-millisecond) and how long the line took to run (the time the request was held by a hit).
app.get('/hit', (req, res) => {
  const seq = Number(req.query.seq);
  const reachedAt = performance.timeOrigin + performance.now();
  const before = performance.now();
  const marker = seq + 1; // BREAKPOINT hit
  const heldMs = performance.now() - before;
  res.json({ seq, marker, reachedAt, heldMs });
});

app.get('/rare', (req, res) => {
  res.json({ value: rarelyCalled(Number(req.query.n) || 1) });
});

const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
