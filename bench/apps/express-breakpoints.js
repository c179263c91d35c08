'use strict';
// express 5 hello, the target of the breakpoint scenarios. Lines marked `// BREAKPOINT <name>`
// are where the bench sets breakpoints (it finds them by that marker, not by number).
const express = require('express');
const { performance } = require('node:perf_hooks');
const { rarelyCalled } = require('./lib/cold');

const app = express();

// How long the marked line of `/` took on the n-th request (ring of recent requests; the n-th
// request's locals include `n`, so a breakpoint hit can be matched with its own hold).
const HELD_RING = 1 << 17;
const routeHeld = new Float64Array(HELD_RING);
let served = 0;

app.get('/', (req, res) => {
  const n = ++served;
  const before = performance.now();
  const greeting = 'Hello World!'; // BREAKPOINT route
  routeHeld[n % HELD_RING] = performance.now() - before;
  res.send(greeting);
});

// ?n=1,2,3 -> the hold (ms) of those requests of `/`, null where the ring no longer has it.
app.get('/held', (req, res) => {
  const wanted = String(req.query.n ?? '').split(',').filter(Boolean).map(Number);
  res.json(wanted.map((n) => (Number.isInteger(n) && n > 0 && served - n < HELD_RING ? routeHeld[n % HELD_RING] : null)));
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
