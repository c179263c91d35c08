'use strict';
// `npm run bench -- [options]`: see `--help` and bench/README.md.
const { existsSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { execFileSync } = require('node:child_process');
const { parseOptions, HELP, SCENARIOS, OPT_IN } = require('./lib/options');
const { ROOT, usePreload } = require('./lib/paths');
const { killAll, usePinning, pinning } = require('./lib/children');
const { startLoad } = require('./lib/load');
const { startBackend } = require('./lib/backend');
const { startRecorder } = require('./lib/recorder');
const { closeIdle } = require('./lib/http');
const { formatTable, saveResults } = require('./lib/report');
const { DEFINITIONS, runThroughput } = require('./scenarios/throughput');
const { runElsewhere, runOnRoute, runLatency, runAwaitAfterBreakpoint } = require('./scenarios/breakpoints');
const { runStartup, runThreadStart, runThreadStartWithBreakpoint } = require('./scenarios/startup');
const { runMemory } = require('./scenarios/memory');
const { runInstructions } = require('./scenarios/instructions');
const { runGrpc } = require('./scenarios/grpc');
const { runBlockedWatch } = require('./scenarios/blocked-loop');

const RUNNERS = {
  ...Object.fromEntries(DEFINITIONS.map((d) => [d.name, (ctx) => runThroughput(ctx, d)])),
  'bp-elsewhere': runElsewhere,
  'bp-route': runOnRoute,
  'bp-await': runAwaitAfterBreakpoint,
  'bp-latency': runLatency,
  startup: runStartup,
  'thread-start': runThreadStart,
  'thread-start-bp': runThreadStartWithBreakpoint,
  memory: runMemory,
  instructions: runInstructions,
  grpc: runGrpc,
  'blocked-watch': runBlockedWatch,
};

function machine() {
  const cpus = os.cpus();
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (dirty) commit += '+changes';
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpu: `${cpus.length} x ${cpus[0]?.model?.trim() ?? 'unknown'}`,
    memory: `${Math.round(os.totalmem() / 1024 ** 3)} GB`,
    loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    commit,
  };
}

/** A value computed on first use and shared by every scenario (backends start once per run). */
function once(make) {
  let p = null;
  const get = () => (p ??= make());
  get.started = () => p;
  return get;
}

/** Generous upper bound for one scenario, so that a hung app or agent cannot hang the whole run. */
function scenarioDeadlineMs(opts, name) {
  // under valgrind: 11 app processes, each up to a minute
  if (name === 'instructions') return 60 * 60_000;
  const load = (opts.warmup * 3 + opts.rounds * opts.duration * 4) * 1000;
  return Math.max(120_000, 3 * load, 3 * opts.memorySeconds * 1000);
}

function withDeadline(promise, ms, name) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!err.usage) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${HELP}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (opts.list) {
    for (const [n, d] of SCENARIOS) process.stdout.write(`${n.padEnd(14)} ${d}\n`);
    return 0;
  }
  if (!existsSync(join(ROOT, 'dist', 'register.js'))) {
    process.stderr.write('bench: dist/ is missing; run `npm run build` (or use `npm run bench`)\n');
    return 1;
  }

  if (opts.preload) {
    if (!existsSync(opts.preload)) {
      process.stderr.write(`bench: --preload ${opts.preload} does not exist\n`);
      return 1;
    }
    usePreload(opts.preload);
  }

  const startedAt = new Date();
  const info = machine();
  const names = SCENARIOS.map(([n]) => n).filter((n) => (opts.only.length ? opts.only.includes(n) : !OPT_IN.has(n)));
  const notes = [];
  const log = (msg) => process.stderr.write(`  ${msg}\n`);
  const note = (msg) => {
    notes.push(msg);
    log(`note: ${msg}`);
  };
  const pinned = usePinning(opts.pin);
  const load = startLoad();
  const backend = once(async () => {
    const b = await startBackend(opts.backend);
    log(`backend: ${b.kind} at ${b.wsUrl}${b.fallbackReason ? ` (${b.fallbackReason})` : ''}`);
    return b;
  });
  const recorder = once(async () => {
    // Reuse the main backend when it is a recorder already; never start the dev server for this.
    const b = backend.started() ? await backend.started().catch(() => null) : null;
    return b?.kind === 'recorder' ? b : startRecorder();
  });
  const ctx = { opts, load, log, note, backend, recorder };

  process.stderr.write(`bench: ${names.join(', ')}${opts.quick ? ' (quick)' : ''} on node ${info.node}, ${info.cpu}, load ${info.loadAverageAtStart.join(' ')}\n`);
  const rows = [];
  const timings = {};
  try {
    for (const name of names) {
      const t0 = Date.now();
      process.stderr.write(`${name}\n`);
      try {
        rows.push(...(await withDeadline(RUNNERS[name](ctx), scenarioDeadlineMs(opts, name), name)));
      } catch (err) {
        note(`${name} failed: ${err.message.split('\n')[0]}`);
        rows.push({ name, title: name, result: `error: ${err.message.split('\n')[0]}`, verdict: 'error', data: { error: String(err.stack ?? err) } });
      }
      timings[name] = (Date.now() - t0) / 1000;
    }
  } finally {
    load.stop();
    closeIdle();
    const started = new Set();
    for (const get of [backend, recorder]) {
      try {
        if (get.started()) started.add(await get.started());
      } catch {
        // it failed to start: nothing to stop
      }
    }
    for (const b of started) await b.stop().catch(() => {});
    killAll();
  }

  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const b = backend.started() ? await backend.started().catch(() => null) : null;
  const rec = recorder.started() ? await recorder.started().catch(() => null) : null;
  const backends = [b && `${b.kind}${b.fallbackReason ? ` (${b.fallbackReason})` : ''}`, rec && rec !== b && 'recorder for breakpoints'].filter(Boolean).join(', ') || 'none';
  const header = `node ${info.node} · ${info.platform} · ${info.cpu} · ${info.memory} · load at start ${info.loadAverageAtStart.join(' ')} · commit ${info.commit ?? '?'}`;
  const settings = `${opts.quick ? 'quick: ' : ''}${opts.rounds} rounds x ${opts.duration} s per side after ${opts.warmup} s warm-up, ${opts.connections} connections; backend: ${backends}; ${pinned ? `apps on CPU ${pinning.app}, load on CPU ${pinning.load}` : 'not pinned'}; ${Math.round(seconds)} s in all`;
  process.stdout.write(`\n${header}\n${settings}\n\n${formatTable(rows)}\n`);
  if (notes.length) process.stdout.write(`\n${notes.map((n) => `- ${n}`).join('\n')}\n`);

  if (opts.save) {
    const file = saveResults({ startedAt: startedAt.toISOString(), seconds, machine: info, options: opts, backend: b?.kind ?? null, breakpointBackend: rec ? 'recorder' : null, preload: opts.preload ?? 'aivory-monitor/register', timings, notes, rows });
    process.stdout.write(`\nresults: ${file}\n`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    killAll();
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
