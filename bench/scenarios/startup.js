'use strict';
// Start-up time the preload adds to `node -e 0` (spawn to exit, median of many alternating runs).
const { join } = require('node:path');
const { randomUUID } = require('node:crypto');
const { timeNode, outputOfNode } = require('../lib/children');
const { getJson } = require('../lib/http');
const { markerLine, removeBreakpoint } = require('../lib/breakpoints');
const { startAgentApp } = require('./throughput');
const { APPS, baseEnv, agentEnv, preloadArgs, customPreloadInUse } = require('../lib/paths');
const { median, percentile } = require('../lib/stats');
const { alternate } = require('../lib/rounds');
const f = require('../lib/format');

/** `node -e 0` takes well under a second; a run still going after this never ends on its own. */
const TIMEOUT_MS = 10000;

async function runStartup(ctx) {
  const backend = await ctx.backend();
  const variants = [
    { name: 'none', args: ['-e', '0'], env: baseEnv() },
    { name: 'import', args: [...preloadArgs('import'), '-e', '0'], env: agentEnv(backend.wsUrl) },
  ];
  // --require only for this package's own entry; a custom preload is measured as given.
  if (!customPreloadInUse()) variants.push({ name: 'require', args: [...preloadArgs('require'), '-e', '0'], env: agentEnv(backend.wsUrl) });
  // The preload with monitoring off (no key): what loading the package costs before the worker starts.
  variants.push({ name: 'off', args: [...preloadArgs('import'), '-e', '0'], env: baseEnv() });
  const noisy = new Set();
  const run = async (v) => {
    const r = await timeNode(v.args, { env: v.env, cwd: APPS, timeoutMs: TIMEOUT_MS });
    if (r.timedOut) throw new Error(`\`node ${v.name === 'none' ? '' : `--${v.name} <register> `}-e 0\` had not exited after ${TIMEOUT_MS / 1000} s: the agent keeps the process alive`);
    if (r.code !== 0) throw new Error(`node ${v.args.join(' ')} exited with ${r.code ?? r.signal}: ${r.stderr}`);
    return r;
  };
  // One untimed run each, so that the first timed run does not pay for a cold file cache.
  for (const v of variants) await run(v);
  const times = await alternate(ctx.opts.startupRuns, variants, async (v) => {
    const r = await run(v);
    // Without a key the agent says once that monitoring is off: expected, not noise.
    if (r.stderr && v.name !== 'off') noisy.add(`${v.name}: ${r.stderr.trim().split('\n')[0]}`);
    return r.ms;
  });
  for (const line of noisy) ctx.note(`startup: the process printed on stderr (${line})`);
  const base = median(times.none);
  ctx.note(`startup: the preload without an API key (agent off) adds ${f.ms(median(times.off) - base)}`);
  return variants.slice(1).filter((v) => v.name !== 'off').map(({ name }) => {
    const m = median(times[name]);
    const added = m - base;
    return {
      name: 'startup',
      title: `start-up added to \`node -e 0\` (--${name}, ${times[name].length} runs)`,
      without: f.ms(base),
      with: f.ms(m),
      result: `+${f.ms(added)}`,
      p99Without: `p90 ${f.ms(percentile(times.none, 90))}`,
      p99With: `p90 ${f.ms(percentile(times[name], 90))}`,
      target: '<= 30 ms',
      verdict: f.verdict(added <= 30),
      data: { preload: name, medianWithoutMs: base, medianWithMs: m, addedMs: added, runsWithout: times.none, runsWith: times[name] },
    };
  });
}

/**
 * What the preload adds to starting one of the app's worker threads (where it installs the
 * thread's crash hooks): `new Worker` to the thread's first message, threads started one at a time.
 * Any `--import` preload makes Node start its ES module loader in each thread (about 10 ms here,
 * for an empty module too): `--import` is compared with an empty `--import` preload, and that cost
 * goes in a note.
 */
async function runThreadStart(ctx) {
  const backend = await ctx.backend();
  const emptyImport = ['--import', 'data:text/javascript,'];
  const variants = [
    { name: 'none', args: ['thread-start.js'], env: baseEnv() },
    { name: 'empty-import', args: [...emptyImport, 'thread-start.js'], env: baseEnv() },
    { name: 'import', args: [...preloadArgs('import'), 'thread-start.js'], env: agentEnv(backend.wsUrl), base: 'empty-import' },
  ];
  if (!customPreloadInUse()) variants.push({ name: 'require', args: [...preloadArgs('require'), 'thread-start.js'], env: agentEnv(backend.wsUrl), base: 'none' });
  const run = async (v) => JSON.parse(await outputOfNode(v.args, { env: v.env, cwd: APPS, timeoutMs: TIMEOUT_MS * 3 }));
  for (const v of variants) await run(v);
  const runs = await alternate(Math.max(2, Math.round(ctx.opts.startupRuns / 4)), variants, run);
  const times = Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.flat()]));
  ctx.note(`thread-start: an empty \`--import\` preload adds ${f.ms(median(times['empty-import']) - median(times.none))} to each thread (Node's ES module loader)`);
  return variants.filter((v) => v.base).map(({ name, base: baseName }) => {
    const base = median(times[baseName]);
    const m = median(times[name]);
    return {
      name: 'thread-start',
      title: `a worker thread's start (new Worker to its first message), --${name} against ${baseName === 'none' ? 'no preload' : 'an empty --import'}, ${times[name].length} threads`,
      without: f.ms(base),
      with: f.ms(m),
      result: `${m - base >= 0 ? '+' : ''}${f.ms(m - base)}`,
      p99Without: `p90 ${f.ms(percentile(times[baseName], 90))}`,
      p99With: `p90 ${f.ms(percentile(times[name], 90))}`,
      // No target of the project's; a thread's start varies by several ms from run to run here.
      target: '<= 5 ms',
      verdict: f.verdict(m - base <= 5),
      data: { preload: name, against: baseName, medianWithoutMs: base, medianWithMs: m, addedMs: m - base, threadsWithout: times[baseName], threadsWith: times[name] },
    };
  });
}

/**
 * What a set breakpoint adds to a thread's start: while one is set (installed or pending), the
 * agent switches a new thread's debugger on as it starts instead of a second later. One agent
 * process (thread-start-server.js) starts threads in rounds, alternately with a pending breakpoint
 * set (on a file no thread loads) and without.
 */
async function runThreadStartWithBreakpoint(ctx) {
  const title = "a worker thread's start while a breakpoint is set (vs none set, same process)";
  const recorder = await ctx.recorder();
  const app = await startAgentApp(ctx, 'thread-start-server.js', recorder);
  try {
    if (!app.agentId) return [{ name: 'thread-start-bp', title, without: '', with: '', result: 'n/a (the agent did not register)', p99Without: '', p99With: '', target: '-', verdict: 'n/a', data: { available: false } }];
    const perRound = 5;
    const startThreads = () => getJson(`${app.url}/start?n=${perRound}`, TIMEOUT_MS);
    const pendingBreakpoint = async () => {
      const id = `bench-${randomUUID()}`;
      const pending = recorder.waitFor((e) => e.type === 'breakpoint_status' && e.payload?.breakpoint_id === id && e.payload?.status === 'pending', 5000);
      recorder.send(app.agentId, 'set_breakpoint', { id, file_path: join(APPS, 'lib', 'cold.js'), line_number: markerLine(join(APPS, 'lib', 'cold.js'), 'cold'), max_hits: 1 });
      await pending;
      return id;
    };
    await startThreads();
    const without = [];
    const withBp = [];
    const rounds = Math.max(2, Math.round(ctx.opts.startupRuns / 5));
    for (let r = 0; r < rounds; r++) {
      without.push(...(await startThreads()));
      const id = await pendingBreakpoint();
      withBp.push(...(await startThreads()));
      const removed = recorder.waitFor((e) => e.type === 'breakpoint_status' && e.payload?.breakpoint_id === id && e.payload?.status === 'removed', 5000);
      removeBreakpoint(recorder, app.agentId, id);
      await removed;
    }
    const base = median(without);
    const m = median(withBp);
    return [
      {
        name: 'thread-start-bp',
        title: `${title}, ${withBp.length} threads`,
        without: f.ms(base),
        with: f.ms(m),
        result: `${m - base >= 0 ? '+' : ''}${f.ms(m - base)}`,
        p99Without: `p90 ${f.ms(percentile(without, 90))}`,
        p99With: `p90 ${f.ms(percentile(withBp, 90))}`,
        // No target of the project's: the price of reaching threads that live under a second.
        target: '-',
        verdict: '-',
        data: { medianWithoutMs: base, medianWithMs: m, addedMs: m - base, threadsWithout: without, threadsWith: withBp },
      },
    ];
  } finally {
    await app.stop();
  }
}

module.exports = { runStartup, runThreadStart, runThreadStartWithBreakpoint };
