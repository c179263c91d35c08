// The demo's sample shop API: an ordinary express 5 app with no agent code except setContext/setUser.
// Run under `node --import aivory-monitor/register` (scripts/demo.js does it) and every route
// below that fails shows up in the dev backend's UI with its locals.
import express from 'express';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { setContext, setUser } from '../../index.mjs';

const REGISTER = fileURLToPath(new URL('../../register.mjs', import.meta.url));
const REPORT_JOB = fileURLToPath(new URL('./report-job.mjs', import.meta.url));
const IMPORT_JOB = fileURLToPath(new URL('./import-job.mjs', import.meta.url));
const THUMBNAILS = new URL('./thumbnails.mjs', import.meta.url);

class ValueError extends Error {
  constructor(message, field) {
    super(message);
    this.name = 'ValueError';
    // no HTTP `status` on purpose: a bug in business logic, not a client error (those are not reported)
    this.field = field;
  }
}

const users = new Map([[1, { id: 1, name: 'Ada', profile: { plan: 'pro' } }]]);
const catalog = { apple: 0.5, pear: 0.75, coffee: 7.9 };

function parseQuantity(raw) {
  const limits = { min: 1, max: 100 };
  const quantity = Number(raw);
  if (!Number.isInteger(quantity) || quantity < limits.min || quantity > limits.max) {
    throw new ValueError(`quantity must be an integer from ${limits.min} to ${limits.max}, got ${JSON.stringify(raw)}`, 'quantity');
  }
  return quantity;
}

function displayName(userId) {
  const user = users.get(userId) ?? null;
  return `${user.profile.plan}: ${user.name}`;
}

function average(total, count) {
  if (count === 0) throw new RangeError(`division by zero: cannot average ${total} over ${count} orders`);
  return total / count;
}

function priceCart(items) {
  let total = 0;
  for (const item of items) total += (catalog[item.sku] ?? 0) * item.quantity;
  const cart = { items, total: Math.round(total * 100) / 100, currency: 'EUR' };
  return cart; // demo-breakpoint
}

/** Busy-retries until the books balance or the deadline passes: nothing else is served meanwhile. */
function reconcile(ledger, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  let rounds = 0;
  while (Date.now() < deadline && ledger.credits !== ledger.debits) rounds++;
  return { balanced: ledger.credits === ledger.debits, rounds };
}

const app = express();

app.get('/', (_req, res) => {
  res.type('text').send('demo shop: /orders/validate?quantity=abc /users/7/profile /stats/average?total=120&count=0 /jobs/report /jobs/import /images/photo-9/thumbnail?width=5000 /ledger/reconcile /checkout\n');
});

app.get('/orders/validate', (req, res) => {
  const sku = String(req.query.sku ?? 'apple');
  const quantity = parseQuantity(req.query.quantity);
  res.json({ sku, quantity });
});

app.get('/users/:id/profile', (req, res) => {
  const userId = Number(req.params.id);
  res.json({ name: displayName(userId) });
});

app.get('/stats/average', (req, res) => {
  const total = Number(req.query.total ?? 0);
  const count = Number(req.query.count ?? 0);
  setUser({ id: '42', email: 'ada@example.com', username: 'ada' });
  setContext({ report: 'average-order-value', total, count });
  res.json({ average: average(total, count) });
});

app.get('/checkout', (req, res) => {
  const items = [{ sku: 'coffee', quantity: 2 }, { sku: 'apple', quantity: Number(req.query.apples ?? 6) }];
  res.json(priceCart(items));
});

app.get('/ledger/reconcile', (_req, res) => {
  const ledger = { account: 'ACME-7', credits: 1200, debits: 1150, currency: 'EUR' };
  res.json(reconcile(ledger, 1200));
});

/**
 * Runs `script` in a child process (also under the agent) and answers 500 with how it ended and
 * the part of its stderr `pick` keeps.
 */
function runJob(res, job, nodeArgs, script, pick, env = process.env) {
  const child = spawn(process.execPath, [...nodeArgs, '--import', REGISTER, script], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { if (stderr.length < 4000) stderr += d; });
  child.on('exit', (code, signal) => {
    res.status(500).json({ job, crashed: code !== 0, code, signal, stderr: pick(stderr.split('\n')) });
  });
}

// A report job that crashes with an uncaught error.
app.get('/jobs/report', (_req, res) => {
  runJob(res, 'report', [], REPORT_JOB, (lines) => lines.slice(0, 6).join('\n'));
});

// An import job with a small heap that keeps every row in memory until Node ends it with
// "JavaScript heap out of memory". Its import never lets its event loop come round either: its
// blocked-loop reports are turned off, so that the demo shows the out-of-memory report alone.
app.get('/jobs/import', (_req, res) => {
  const env = { ...process.env, AIVORY_EVENT_LOOP_BLOCKED_MS: '0' };
  runJob(res, 'import', ['--max-old-space-size=32'], IMPORT_JOB, (lines) => lines.find((l) => l.startsWith('FATAL ERROR')) ?? '', env);
});

// A worker thread that makes thumbnails, started with the shop (the preload runs in it too); one
// that ends with an error is replaced.
const startThumbnails = () => new Worker(THUMBNAILS, { name: 'thumbnails' });
let thumbnails = startThumbnails();
app.get('/images/:id/thumbnail', (req, res) => {
  const worker = thumbnails;
  const onMessage = (thumb) => {
    worker.off('error', onError);
    res.json(thumb);
  };
  const onError = (err) => {
    worker.off('message', onMessage);
    thumbnails = startThumbnails();
    res.status(500).json({ error: err.message });
  };
  worker.once('message', onMessage);
  worker.once('error', onError);
  worker.postMessage({ id: req.params.id, width: Number(req.query.width ?? 800), height: 600 });
});

// An ordinary production-style error handler: answers JSON, logs nothing.
app.use((err, _req, res, _next) => {
  res.status(err.status ?? 500).json({ error: err.message });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`demo app listening on http://127.0.0.1:${server.address().port}\n`);
});
