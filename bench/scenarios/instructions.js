'use strict';
// Instructions per request on the app's main thread, counted by valgrind's callgrind: what
// req/s and CPU-time ratios on a shared machine cannot resolve (their rounds move by 10-30%, the
// counts outside garbage collection by about 1%). Opt-in (`--only instructions`): it needs
// valgrind and takes about 10 minutes, since node runs ~50 times slower under it. Run it on an
// otherwise idle machine: other processes change when V8 compiles and collects, and so the counts
// (a koa run next to a test suite read 0.942, alone 0.988).
const { spawnSync } = require('node:child_process');
const { mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { startNode } = require('../lib/children');
const { APPS, baseEnv, agentEnv, preloadArgs } = require('../lib/paths');
const { markerLine, waitForAgent, setBreakpoint } = require('../lib/breakpoints');
const f = require('../lib/format');

/** Requests before the counters are zeroed (the JIT settles), then the counted ones, one at a time. */
const WARM_UP_REQUESTS = 1500;
const COUNTED_REQUESTS = 2000;
/**
 * A fixed young generation. V8 sizes it by allocation rate over time, which valgrind's slowness
 * distorts differently from run to run; fixed, the collections follow what the requests allocate.
 */
const NODE_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16'];
const REQUEST_CONTEXT_ONLY = join(APPS, 'lib', 'request-context-only.js');
const COLD_FILE = join(APPS, 'lib', 'cold.js');

const POST = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'World', items: [1, 2, 3] }) };
const CASES = [
  { script: 'http-hello.js', title: 'http hello' },
  // A body read with req.on('data'|'end'): on Node 24+ the agent re-enters the request's scope there.
  { script: 'http-post.js', title: 'http POST hello', request: POST },
  { script: 'express-hello.js', title: 'express hello' },
  { script: 'fastify-hello.js', title: 'fastify hello' },
  { script: 'koa-hello.js', title: 'koa hello' },
  { script: 'hono-hello.js', title: 'Hono hello' },
];

function valgrindMissing() {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'valgrind is not installed (Debian: apt-get install valgrind)';
  const annotate = spawnSync('callgrind_annotate', ['--version'], { encoding: 'utf8' });
  if (annotate.error) return 'callgrind_annotate (part of valgrind) is not on the PATH';
  return null;
}

/** Total instructions of the main thread's dump, and the part spent in garbage collections. */
function readCounts(dir, pid) {
  const file = readdirSync(dir).find((n) => n.startsWith(`cg.${pid}.`) && n.endsWith('-01'));
  if (!file) throw new Error(`callgrind wrote no dump of the main thread (files: ${readdirSync(dir).join(', ')})`);
  const path = join(dir, file);
  const total = Number(/^summary: (\d+)/m.exec(readFileSync(path, 'utf8'))?.[1]);
  if (!Number.isFinite(total)) throw new Error(`no summary line in ${file}`);
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', '--auto=no', path], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const line = (annotated.stdout ?? '').split('\n').find((l) => /v8::internal::Heap::CollectGarbage\(/.test(l));
  const gc = line ? Number(line.trim().split(/\s+/)[0].replace(/,/g, '')) : 0;
  return { total, gc };
}

/**
 * One app process under callgrind: warm-up, zero the counters, the counted requests, dump.
 * variant: 'none' | 'context' (REQUEST_CONTEXT_ONLY) | 'agent' | 'breakpoint' (agent + one in COLD_FILE).
 */
async function countRequests(ctx, script, variant, request = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'aivory-callgrind-'));
  const recorder = variant === 'agent' || variant === 'breakpoint' ? await ctx.recorder() : null;
  let args = [join(APPS, script)];
  if (variant === 'context') args = ['--require', REQUEST_CONTEXT_ONLY, ...args];
  if (recorder) args = [...preloadArgs('require'), ...args];
  const wrapper = ['valgrind', '--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${join(dir, 'cg.%p')}`];
  const since = Date.now();
  const app = startNode([...NODE_FLAGS, ...args], { env: recorder ? agentEnv(recorder.wsUrl) : baseEnv(), cwd: APPS, wrapper });
  try {
    const port = Number((await app.waitFor(/listening (\d+)/, 180_000))[1]);
    if (recorder) {
      const agentId = await waitForAgent(recorder, since, 180_000);
      if (!agentId) throw new Error('the agent did not register under valgrind within 180 s');
      if (variant === 'breakpoint') {
        const bp = await setBreakpoint(recorder, agentId, { file: COLD_FILE, line: markerLine(COLD_FILE, 'cold'), maxHits: 50 }, 120_000);
        if (bp.status?.status !== 'installed') throw new Error(`the breakpoint was not installed (${bp.status?.status ?? 'no answer'})`);
      }
    }
    const url = `http://127.0.0.1:${port}/`;
    await ctx.load.run({ ...request, url, connections: 1, amount: WARM_UP_REQUESTS, timeout: 60 });
    const control = (flag) => {
      const r = spawnSync('callgrind_control', [flag, String(app.pid)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`callgrind_control ${flag} failed: ${r.stderr || r.stdout}`);
    };
    control('-z');
    const r = await ctx.load.run({ ...request, url, connections: 1, amount: COUNTED_REQUESTS, timeout: 60 });
    control('-d');
    if (r.non2xx || r.errors || r.requests !== COUNTED_REQUESTS) throw new Error(`${r.requests} requests, ${r.non2xx} non-2xx, ${r.errors} errors`);
    const { total, gc } = readCounts(dir, app.pid);
    ctx.log(`${script} ${variant}: ${(total / COUNTED_REQUESTS / 1000).toFixed(1)} k instructions per request (${(gc / COUNTED_REQUESTS / 1000).toFixed(1)} k in collections)`);
    return { perRequest: total / COUNTED_REQUESTS, gcPerRequest: gc / COUNTED_REQUESTS };
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const k = (n) => `${(n / 1000).toFixed(1)} k`;

/** A row: base / other instruction counts; the ratio is what the other side leaves of the base's capacity. */
function row(title, base, other, target) {
  const ratio = base.perRequest / other.perRequest;
  const outside = (base.perRequest - base.gcPerRequest) / (other.perRequest - other.gcPerRequest);
  return {
    name: 'instructions',
    title,
    without: k(base.perRequest),
    with: k(other.perRequest),
    result: `${f.ratio(ratio)} (${f.ratio(outside)} outside collections)`,
    p99Without: '',
    p99With: '',
    target: `>= ${target.toFixed(2)}`,
    verdict: f.verdict(ratio >= target),
    data: { ratio, ratioOutsideCollections: outside, base, other },
  };
}

async function runInstructions(ctx) {
  const missing = valgrindMissing();
  if (missing) {
    ctx.note(`instructions: skipped, ${missing}`);
    return [];
  }
  const rows = [];
  for (const c of CASES) {
    const none = await countRequests(ctx, c.script, 'none', c.request);
    const context = await countRequests(ctx, c.script, 'context', c.request);
    const agent = await countRequests(ctx, c.script, 'agent', c.request);
    rows.push(row(`${c.title}, AsyncLocalStorage alone: main-thread instructions per request`, none, context, 0.97));
    rows.push(row(`${c.title}: main-thread instructions per request`, none, agent, 0.97));
  }
  const agent = await countRequests(ctx, 'express-breakpoints.js', 'agent');
  const withBreakpoint = await countRequests(ctx, 'express-breakpoints.js', 'breakpoint');
  rows.push(row('express hello, breakpoint set in another file (vs agent without): main-thread instructions per request', agent, withBreakpoint, 0.99));
  return rows;
}

module.exports = { runInstructions };
