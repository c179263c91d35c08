'use strict';
// Breakpoint scenarios. They always talk to the bench's recording backend, which sends
// set_breakpoint straight to the agent and timestamps every hit and status on arrival.
const { join } = require('node:path');
const { startApp } = require('../lib/app');
const { APPS } = require('../lib/paths');
const { getJson } = require('../lib/http');
const { markerLine, setBreakpoint, removeBreakpoint, NOT_AVAILABLE } = require('../lib/breakpoints');
const { runRounds, summariseSide } = require('../lib/rounds');
const { median, percentile } = require('../lib/stats');
const { startAgentApp, ratioRow, healthNotes, agentVariantRows } = require('./throughput');
const f = require('../lib/format');

const SCRIPT = 'express-breakpoints.js';
const APP_FILE = join(APPS, SCRIPT);
const COLD_FILE = join(APPS, 'lib', 'cold.js');
/** The protocol's cap on max_hits: the most a single breakpoint can cost. */
const MAX_HITS = 50;

function naRow(name, title, target, reason) {
  return { name, title, without: '', with: '', result: reason, p99Without: '', p99With: '', target, verdict: 'n/a', data: { available: false, reason } };
}

/** Sets a breakpoint and turns "no answer" or an error status into a reason string. */
async function trySet(recorder, agentId, spec) {
  if (!agentId) return { reason: 'n/a (the agent did not register)' };
  const bp = await setBreakpoint(recorder, agentId, spec);
  if (!bp.status) return { reason: NOT_AVAILABLE };
  if (bp.status.status !== 'installed') return { reason: `n/a (breakpoint ${bp.status.status}: ${bp.status.message ?? ''})`.replace(/: \)$/, ')') };
  return { id: bp.id, status: bp.status };
}

// --- a breakpoint in another file ------------------------------------------------------------

async function runElsewhere(ctx) {
  const title = 'express hello, breakpoint set in another file';
  const recorder = await ctx.recorder();
  const withBp = await startAgentApp(ctx, SCRIPT, recorder);
  const apps = [withBp];
  try {
    const set = await trySet(recorder, withBp.agentId, { file: COLD_FILE, line: markerLine(COLD_FILE, 'cold'), maxHits: 1 });
    if (!set.id) return [naRow('bp-elsewhere', title, '>= 0.99', set.reason)];
    const none = await startApp(SCRIPT, false);
    apps.push(none);
    const plain = await startAgentApp(ctx, SCRIPT, recorder);
    apps.push(plain);
    // The breakpoint's own cost (same agent, breakpoint or not), and the whole cost to the app.
    return await agentVariantRows(ctx, { name: 'bp-elsewhere', title, none, agent: plain, variant: withBp, key: 'agentWithBreakpoint' });
  } finally {
    for (const app of apps) await app.stop();
  }
}

// --- a breakpoint on the route itself: until exhausted, then after ----------------------------

async function runOnRoute(ctx) {
  const title = `express hello, breakpoint on the route (max_hits ${MAX_HITS})`;
  const recorder = await ctx.recorder();
  const line = markerLine(APP_FILE, 'route');
  const agent = await startAgentApp(ctx, SCRIPT, recorder);
  const apps = [agent];
  try {
    // Probe on a line no request runs, so that warm-up cannot spend the real breakpoint's hits.
    const probe = await trySet(recorder, agent.agentId, { file: COLD_FILE, line: markerLine(COLD_FILE, 'cold'), maxHits: 1 });
    if (!probe.id) {
      return [naRow('bp-route', `${title}, round with the hits`, '-', probe.reason), naRow('bp-route', `${title}, after exhausted`, '>= 0.97', probe.reason)];
    }
    removeBreakpoint(recorder, agent.agentId, probe.id);
    await recorder.waitFor((e) => e.type === 'breakpoint_status' && e.payload?.breakpoint_id === probe.id && e.payload?.status === 'removed', 5000).catch(() => {});

    const none = await startApp(SCRIPT, false);
    apps.push(none);
    const base = { connections: ctx.opts.connections, pipelining: 1, duration: ctx.opts.warmup };
    await ctx.load.run({ ...base, url: none.url });
    await ctx.load.run({ ...base, url: agent.url });

    const noneRounds = [];
    const active = [];
    const after = [];
    const hitsPerRound = [];
    const exhaustMs = [];
    const heldUnderLoad = [];
    const exhaustTimeoutMs = Math.max(10000, ctx.opts.duration * 2000);
    const runAgent = async (r) => {
      const setAt = Date.now();
      let hits = 0;
      let id = null;
      const hitRequests = [];
      const unsubscribe = recorder.subscribe((e) => {
        if (e.type !== 'breakpoint_hit' || e.payload?.breakpoint_id !== id) return;
        hits++;
        const n = hitLocal(e.payload, 'n');
        if (n !== null) hitRequests.push(n);
      });
      const ended = (bpId) =>
        recorder.waitFor((e) => e.type === 'breakpoint_status' && e.payload?.breakpoint_id === bpId && ['exhausted', 'removed', 'expired'].includes(e.payload?.status), exhaustTimeoutMs);
      try {
        const bp = await setBreakpoint(recorder, agent.agentId, { file: APP_FILE, line, maxHits: MAX_HITS });
        id = bp.id;
        const done = ended(bp.id).then((e) => e.at, () => null);
        active.push(await ctx.load.run({ ...base, url: agent.url, duration: ctx.opts.duration }));
        const endedAt = await done;
        if (endedAt === null) {
          ctx.note(`bp-route round ${r + 1}: not exhausted within ${exhaustTimeoutMs} ms (${hits} hits); removed before the "after" round`);
          removeBreakpoint(recorder, agent.agentId, bp.id);
        } else {
          exhaustMs.push(endedAt - setAt);
        }
        hitsPerRound.push(hits);
        if (hitRequests.length) heldUnderLoad.push(...(await getJson(`${agent.url}/held?n=${hitRequests.join(',')}`)).filter((v) => typeof v === 'number'));
        after.push(await ctx.load.run({ ...base, url: agent.url, duration: ctx.opts.duration }));
      } finally {
        unsubscribe();
      }
      ctx.log(`bp-route: agent round ${r + 1}/${ctx.opts.rounds}: active ${Math.round(active.at(-1).reqPerSec)} req/s, after ${Math.round(after.at(-1).reqPerSec)} req/s, ${hits} hits`);
    };
    const runNone = async (r) => {
      noneRounds.push(await ctx.load.run({ ...base, url: none.url, duration: ctx.opts.duration }));
      ctx.log(`bp-route: none round ${r + 1}/${ctx.opts.rounds}: ${Math.round(noneRounds.at(-1).reqPerSec)} req/s`);
    };
    for (let r = 0; r < ctx.opts.rounds; r++) {
      if (r % 2 === 0) {
        await runNone(r);
        await runAgent(r);
      } else {
        await runAgent(r);
        await runNone(r);
      }
    }
    const n = summariseSide(noneRounds);
    const act = summariseSide(active);
    const aft = summariseSide(after);
    healthNotes(ctx, 'bp-route', act, 'agent (active)');
    const activeRow = ratioRow('bp-route', `${title}, round with the hits`, n, act, 0, { otherName: 'agentActive' });
    activeRow.target = '-';
    activeRow.verdict = '-';
    activeRow.data.hitsPerRound = hitsPerRound;
    activeRow.data.msToExhausted = exhaustMs;
    ctx.note(`bp-route: hits per round ${hitsPerRound.join(', ')}; set -> exhausted in ${exhaustMs.length ? f.ms(median(exhaustMs), 0) : '-'} (median)`);
    const afterRow = ratioRow('bp-route', `${title}, after exhausted`, n, aft, 0.97, { otherName: 'agentAfter' });
    if (heldUnderLoad.length === 0) return [activeRow, afterRow];
    // The same hold as bp-latency's, but of requests that took a hit while the app was busy.
    return [activeRow, afterRow, percentileRow('bp-route', `request held by a breakpoint hit, app under load (${heldUnderLoad.length} hits)`, heldUnderLoad, { check: 'p99' })];
  } finally {
    for (const app of apps) await app.stop();
  }
}

/**
 * A bp-latency row of p50/p99 over `values` (ms). `check` ('p50' or 'p99') is the percentile held
 * to 1 ms; without it the row is a reference, with no target.
 */
function percentileRow(name, title, values, { without = '', check, data = {} } = {}) {
  const p50 = percentile(values, 50);
  const p99 = percentile(values, 99);
  return {
    name,
    title,
    without,
    with: `p50 ${f.ms(p50, 2)}`,
    result: `p99 ${f.ms(p99, 2)}`,
    p99Without: '',
    p99With: '',
    target: check ? `<= 1 ms ${check}` : '-',
    verdict: check ? f.verdict((check === 'p50' ? p50 : p99) <= 1) : '-',
    data: { samples: values.length, p50, p99, max: Math.max(...values), ...data },
  };
}

/** The reference row: the line under a breakpoint whose condition never holds. */
function falseConditionRow(held) {
  const title = 'same line, breakpoint with condition `false` (never a hit)';
  if (!held) return naRow('bp-latency', title, '-', 'n/a (the breakpoint was not installed)');
  return percentileRow('bp-latency', title, held);
}

// --- hit latency ----------------------------------------------------------------------------

/** A numeric local of a hit (`seq`, `n`), from the top-level locals or the first frame's. */
function hitLocal(payload, name) {
  const v = payload?.local_variables?.[name] ?? payload?.stack_trace?.[0]?.local_variables?.[name];
  const n = Number(v?.value);
  return Number.isFinite(n) ? n : null;
}

/** How long the marked line takes over 50 requests, one at a time, when no hit is taken (ms each). */
async function heldWithoutHit(agent) {
  const held = [];
  for (let i = 0; i < 50; i++) held.push((await getJson(`${agent.url}/hit?seq=-1`)).heldMs);
  return held;
}

/**
 * How long the line takes while a breakpoint with condition `false` is set on it (one request at a
 * time, as the hits are timed): what any conditional breakpoint costs the line before the agent's
 * own work. Null when the breakpoint could not be set.
 */
async function heldUnderFalseCondition(recorder, agent, line) {
  const set = await trySet(recorder, agent.agentId, { file: APP_FILE, line, maxHits: MAX_HITS, condition: 'false' });
  if (!set.id) return null;
  try {
    return await heldWithoutHit(agent);
  } finally {
    removeBreakpoint(recorder, agent.agentId, set.id);
  }
}

/** `breakpoint <id> hit <n>/<max>: ... (queued at <epoch ms>)`: the agent's debug line once a hit is handed to its socket. */
const QUEUED_LINE = /breakpoint (\S+) hit (\d+)\/\d+: .*\(queued at ([\d.]+)\)/;

async function runLatency(ctx) {
  const titleQueued = 'breakpoint line run -> hit queued';
  const titleDelivered = 'breakpoint line run -> hit at the backend';
  const titleHeld = 'request held by a breakpoint hit';
  const recorder = await ctx.recorder();
  const line = markerLine(APP_FILE, 'hit');
  // When each hit left the agent: only its worker knows, and says so in its debug output.
  const queuedAt = new Map();
  const onLine = (text) => {
    const m = QUEUED_LINE.exec(text);
    if (m) queuedAt.set(`${m[1]}#${m[2]}`, Number(m[3]));
  };
  const agent = await startAgentApp(ctx, SCRIPT, recorder, { AIVORY_DEBUG: 'true' }, onLine);
  try {
    // Reference: the same line without a breakpoint.
    const plainHeld = await heldWithoutHit(agent);
    // V8's share: the same line under a breakpoint whose condition is always false. V8 evaluates a
    // breakpoint's condition in a debug context built for each run of the line; no hit is taken.
    const falseHeld = await heldUnderFalseCondition(recorder, agent, line);

    const delivered = [];
    const hits = [];
    const held = [];
    let seq = 0;
    let missed = 0;
    let bp = null;
    let hitsOnBp = 0;
    const deadline = Date.now() + ctx.opts.hitSeconds * 1000;
    while (delivered.length < ctx.opts.hits && Date.now() < deadline) {
      if (!bp || hitsOnBp >= MAX_HITS) {
        const set = await trySet(recorder, agent.agentId, { file: APP_FILE, line, maxHits: MAX_HITS });
        if (!set.id) {
          if (delivered.length) break;
          return [naRow('bp-latency', titleQueued, '<= 1 ms p50', set.reason), naRow('bp-latency', titleHeld, '<= 1 ms p99', set.reason)];
        }
        bp = set.id;
        hitsOnBp = 0;
      }
      const mySeq = ++seq;
      const id = bp;
      const hit = recorder.waitFor((e) => e.type === 'breakpoint_hit' && e.payload?.breakpoint_id === id && (hitLocal(e.payload, 'seq') ?? mySeq) === mySeq, 2000).catch(() => null);
      const res = await getJson(`${agent.url}/hit?seq=${mySeq}`);
      const e = await hit;
      if (!e) {
        // A hit the agent chose not to take (rate cap, budget) or lost: start over on a fresh breakpoint.
        missed++;
        removeBreakpoint(recorder, agent.agentId, bp);
        bp = null;
        if (missed >= 5 && delivered.length === 0) break;
        continue;
      }
      hitsOnBp++;
      delivered.push(e.at - res.reachedAt);
      held.push(res.heldMs);
      hits.push({ key: `${id}#${e.payload.hit_count}`, reachedAt: res.reachedAt });
    }
    if (bp) removeBreakpoint(recorder, agent.agentId, bp);
    if (delivered.length === 0) {
      const reason = 'n/a (breakpoint installed but no hit arrived)';
      return [naRow('bp-latency', titleQueued, '<= 1 ms p50', reason), naRow('bp-latency', titleHeld, '<= 1 ms p99', reason)];
    }
    if (missed) {
      // Requests come faster than the per-breakpoint rate cap (10 hits/s, burst 10), so a run of them
      // ends with a skipped hit; the loop then starts over on a fresh breakpoint.
      ctx.note(`bp-latency: ${missed} requests ran the line without a hit arriving within 2 s (the rate cap skips hits past 10/s; a fresh breakpoint follows each)`);
    }
    // The debug line of a hit is written after its frame: it may still be on its way for the last one.
    const queued = hits.filter((h) => queuedAt.has(h.key)).map((h) => queuedAt.get(h.key) - h.reachedAt);
    if (queued.length < delivered.length - 1) ctx.note(`bp-latency: the agent's debug output named ${queued.length} of ${delivered.length} hits as queued`);
    return [
      queued.length
        ? percentileRow('bp-latency', `${titleQueued} (${queued.length} hits)`, queued, { check: 'p50', data: { missed } })
        : naRow('bp-latency', titleQueued, '<= 1 ms p50', 'n/a (the agent printed no queued times)'),
      percentileRow('bp-latency', `${titleDelivered} (${delivered.length} hits)`, delivered, { data: { missed } }),
      percentileRow('bp-latency', titleHeld, held, {
        without: `p50 ${f.ms(percentile(plainHeld, 50), 3)}`,
        check: 'p99',
        data: { withoutBreakpointP50: percentile(plainHeld, 50) },
      }),
      falseConditionRow(falseHeld),
    ];
  } finally {
    await agent.stop();
  }
}

// --- the debugger's own cost, and that it ends with the last breakpoint ------------------------

const AWAIT_SCRIPT = 'express-await.js';

/**
 * With exception locals off (AIVORY_MAX_PAUSES_PER_SECOND=0) the agent enables the debugger only
 * while a breakpoint is set. A route that awaits pays for an enabled debugger on every await: the
 * rounds run while a breakpoint is set on a line that never runs, then again, in the same agent
 * process, once the breakpoint was removed and the agent says its debugger went off.
 */
async function runAwaitAfterBreakpoint(ctx) {
  const title = 'express route awaiting 20 times, exception locals off';
  const recorder = await ctx.recorder();
  const agent = await startAgentApp(ctx, AWAIT_SCRIPT, recorder, { AIVORY_MAX_PAUSES_PER_SECOND: '0', AIVORY_DEBUG: 'true' });
  const apps = [agent];
  try {
    const set = await trySet(recorder, agent.agentId, { file: join(APPS, AWAIT_SCRIPT), line: markerLine(join(APPS, AWAIT_SCRIPT), 'cold'), maxHits: 1 });
    if (!set.id) return [naRow('bp-await', `${title}, breakpoint set elsewhere`, '-', set.reason), naRow('bp-await', `${title}, after it was removed`, '>= 0.97', set.reason)];
    const none = await startApp(AWAIT_SCRIPT, false);
    apps.push(none);
    const sides = [{ name: 'none', url: none.url }, { name: 'agent', url: agent.url }];
    const whileSet = await runRounds(ctx, sides, { label: 'bp-await, breakpoint set' });
    removeBreakpoint(recorder, agent.agentId, set.id);
    try {
      await agent.waitFor(/debugger detached: no breakpoint is left/, 15000);
    } catch {
      ctx.note('bp-await: the agent did not say that its debugger went off within 15 s of the removal');
    }
    const after = await runRounds(ctx, sides, { label: 'bp-await, after removal' });
    const setRow = ratioRow('bp-await', `${title}, breakpoint set elsewhere`, summariseSide(whileSet.none), summariseSide(whileSet.agent), 0.97, { otherName: 'agentWithBreakpoint' });
    setRow.target = '-';
    setRow.verdict = '-';
    return [setRow, ratioRow('bp-await', `${title}, after it was removed`, summariseSide(after.none), summariseSide(after.agent), 0.97, { otherName: 'agentAfterRemoval' })];
  } finally {
    for (const app of apps) await app.stop();
  }
}

module.exports = { runElsewhere, runOnRoute, runLatency, runAwaitAfterBreakpoint };
