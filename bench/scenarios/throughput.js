'use strict';
// Hello-world and throwing-route throughput, without and with the agent.
const { startApp } = require('../lib/app');
const { waitForAgent } = require('../lib/breakpoints');
const { runRounds, summariseSide, compare } = require('../lib/rounds');
const { runCpuRounds, compareCpu } = require('../lib/cpu');
const f = require('../lib/format');
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { ROOT } = require('../lib/paths');

const DEFINITIONS = [
  { name: 'http', title: 'http hello', script: 'http-hello.js', target: 0.97 },
  { name: 'express', title: 'express hello', script: 'express-hello.js', target: 0.97 },
  { name: 'fastify', title: 'fastify hello', script: 'fastify-hello.js', target: 0.97 },
  { name: 'hono', title: 'Hono hello', script: 'hono-hello.js', target: 0.97 },
  {
    name: 'express-throw',
    title: 'express route that throws (500), capture on',
    script: 'express-throw.js',
    target: 0.9,
    expectStatus: 500,
  },
  { name: 'express-await', title: 'express route awaiting 20 times', script: 'express-await.js', target: 0.97 },
  { name: 'nextjs', title: 'Next.js page', script: 'nextjs-page.js', target: 0.97, path: '/ok', prepare: buildNextFixture },
];

/** `next build` of the test fixture the nextjs app serves (a few seconds; its output is reused by the test). */
async function buildNextFixture(ctx) {
  const dir = join(ROOT, 'test', 'fixtures', 'nextjs');
  ctx.log('nextjs: next build');
  const r = spawnSync(process.execPath, [require.resolve('next/dist/bin/next'), 'build', dir], { cwd: dir, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`next build failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
}

/** Starts an app with the agent and, on the recording backend, waits until the agent registered. */
async function startAgentApp(ctx, script, backend, env, onLine) {
  // Listen before the start: the agent often registers before the app prints that it listens.
  const registered = backend.kind === 'recorder' ? waitForAgent(backend, Date.now()) : Promise.resolve(undefined);
  const app = await startApp(script, { backendUrl: backend.wsUrl, env, onLine });
  app.agentId = await registered;
  if (app.agentId === null) ctx.note(`${script}: the agent did not register with the backend within 15 s`);
  return app;
}

/** A row comparing two summarised sides against a minimum ratio. */
function ratioRow(name, title, base, other, target, extra = {}) {
  const c = compare(other, base);
  return {
    name,
    title,
    without: f.rpsSpread(base),
    with: f.rpsSpread(other),
    result: `${f.ratio(c.ratio)} (${f.ratio(c.pairRange[0])}-${f.ratio(c.pairRange[1])})`,
    p99Without: f.ms(base.p99, 0),
    p99With: f.ms(other.p99, 0),
    target: `>= ${target.toFixed(2)}`,
    verdict: f.verdict(c.ratio >= target),
    data: { ratio: c.ratio, pairRatioRange: c.pairRange, target, [extra.baseName ?? 'none']: base, [extra.otherName ?? 'agent']: other },
  };
}

/**
 * CPU per request at a fixed rate of two sides (base, other: µs per round); the ratio base/other is
 * the share of the app's capacity the other side leaves.
 */
function cpuRow(def, rate, base, other, names = { base: 'noneUs', other: 'agentUs' }) {
  const c = compareCpu(base, other);
  return {
    name: def.name,
    title: `${def.title}: CPU per request at ${rate.toLocaleString('en-US')} req/s`,
    without: `${c.base.toFixed(1)} µs`,
    with: `${c.other.toFixed(1)} µs`,
    result: `${f.ratio(c.ratio)} (${f.ratio(c.pairRange[0])}-${f.ratio(c.pairRange[1])})`,
    p99Without: '',
    p99With: '',
    target: `>= ${def.target.toFixed(2)}`,
    verdict: f.verdict(c.ratio >= def.target),
    data: { metric: 'cpu-per-request', rate, ratio: c.ratio, pairRatioRange: c.pairRange, target: def.target, [names.base]: base, [names.other]: other },
  };
}

/** Half the slower side's saturated throughput: both sides keep up, and the CPU each needs is compared. */
function cpuRate(a, b) {
  return Math.max(100, Math.round(Math.min(a.reqPerSec, b.reqPerSec) / 2));
}

/**
 * Rows for something the agent can add (a breakpoint, a setting): three running apps, no agent,
 * the agent, the agent with it (`variant`), loaded in alternating rounds. Its own cost is the
 * agent with it against the agent without (req/s and CPU per request, target `ownTarget`); the
 * whole cost, against no agent (>= 0.97). `key` names the variant in the rows' data.
 */
async function agentVariantRows(ctx, { name, title, none, agent, variant, key, ownTarget = 0.99 }) {
  const rounds = await runRounds(ctx, [{ name: 'none', url: none.url }, { name: 'agent', url: agent.url }, { name: 'variant', url: variant.url }], { label: name });
  const a = summariseSide(rounds.none);
  const b = summariseSide(rounds.agent);
  const c = summariseSide(rounds.variant);
  healthNotes(ctx, name, c, key);
  const own = ratioRow(name, `${title} (vs agent without)`, b, c, ownTarget, { baseName: 'agent', otherName: key });
  own.without = `${f.rpsSpread(b)} (agent)`;
  const whole = ratioRow(name, `${title} (vs no agent)`, a, c, 0.97, { otherName: key });
  const rate = cpuRate(b, c);
  const cpu = await runCpuRounds(ctx, [{ name: 'agent', url: agent.url, pid: agent.pid }, { name: 'variant', url: variant.url, pid: variant.pid }], { rate, label: name });
  if (!cpu) return [own, whole];
  const cpuOwn = cpuRow({ name, title: `${title} (vs agent without)`, target: ownTarget }, rate, cpu.agent, cpu.variant, { base: 'agentUs', other: `${key}Us` });
  return [own, cpuOwn, whole];
}

function healthNotes(ctx, label, side, sideName) {
  if (side.errors > 0) ctx.note(`${label}: ${side.errors} connection errors/timeouts on the ${sideName} side`);
  if (side.unexpectedStatus > 0) ctx.note(`${label}: ${side.unexpectedStatus} responses with an unexpected status on the ${sideName} side`);
}

async function runThroughput(ctx, def) {
  const expectStatus = def.expectStatus ?? 200;
  const path = def.path ?? '/';
  if (def.prepare) await def.prepare(ctx);
  const backend = await ctx.backend();
  const none = await startApp(def.script, false);
  const agent = await startAgentApp(ctx, def.script, backend);
  try {
    const before = def.expectStatus ? await backend.exceptionCount().catch(() => NaN) : NaN;
    const rounds = await runRounds(ctx, [{ name: 'none', url: none.url }, { name: 'agent', url: agent.url }], { label: def.name, path });
    const a = summariseSide(rounds.none, expectStatus);
    const b = summariseSide(rounds.agent, expectStatus);
    healthNotes(ctx, def.name, a, 'without-agent');
    healthNotes(ctx, def.name, b, 'agent');
    const row = ratioRow(def.name, def.title, a, b, def.target);
    if (Number.isFinite(before)) {
      const got = (await backend.exceptionCount().catch(() => NaN)) - before;
      row.data.exceptionEventsReceived = got;
      ctx.note(`${def.name}: the backend received ${got} exception events during the agent's rounds`);
    }
    const rate = cpuRate(a, b);
    const cpu = await runCpuRounds(ctx, [{ name: 'none', url: none.url, pid: none.pid }, { name: 'agent', url: agent.url, pid: agent.pid }], { rate, label: def.name, path });
    return cpu ? [row, cpuRow(def, rate, cpu.none, cpu.agent)] : [row];
  } finally {
    await none.stop();
    await agent.stop();
  }
}

module.exports = { DEFINITIONS, runThroughput, startAgentApp, ratioRow, cpuRow, cpuRate, healthNotes, agentVariantRows };
