'use strict';
// What watching for blocked event loops costs: http hello with the agent, with and without
// AIVORY_EVENT_LOOP_BLOCKED_MS at its shortest threshold (100 ms: the delay monitor's native timer
// runs on the app's thread every 10 ms, the most often it ever does), and against no agent.
const { startApp } = require('../lib/app');
const { runRounds, summariseSide } = require('../lib/rounds');
const { runCpuRounds } = require('../lib/cpu');
const { startAgentApp, ratioRow, cpuRow, cpuRate, healthNotes } = require('./throughput');

const SCRIPT = 'http-hello.js';
const THRESHOLD_MS = '100';

async function runBlockedWatch(ctx) {
  const title = `http hello, blocked-loop watch at ${THRESHOLD_MS} ms`;
  const backend = await ctx.backend();
  const apps = [];
  try {
    const none = await startApp(SCRIPT, false);
    apps.push(none);
    const agent = await startAgentApp(ctx, SCRIPT, backend);
    apps.push(agent);
    const watched = await startAgentApp(ctx, SCRIPT, backend, { AIVORY_EVENT_LOOP_BLOCKED_MS: THRESHOLD_MS });
    apps.push(watched);
    const rounds = await runRounds(
      ctx,
      [{ name: 'none', url: none.url }, { name: 'agent', url: agent.url }, { name: 'watched', url: watched.url }],
      { label: 'blocked-watch' },
    );
    const a = summariseSide(rounds.none);
    const b = summariseSide(rounds.agent);
    const c = summariseSide(rounds.watched);
    healthNotes(ctx, 'blocked-watch', c, 'watched');
    const own = ratioRow('blocked-watch', `${title} (vs agent without)`, b, c, 0.99, { baseName: 'agent', otherName: 'agentWatching' });
    own.without = `${own.without} (agent)`;
    const whole = ratioRow('blocked-watch', `${title} (vs no agent)`, a, c, 0.97, { otherName: 'agentWatching' });
    const rate = cpuRate(b, c);
    const cpu = await runCpuRounds(ctx, [{ name: 'agent', url: agent.url, pid: agent.pid }, { name: 'watched', url: watched.url, pid: watched.pid }], { rate, label: 'blocked-watch' });
    if (!cpu) return [own, whole];
    const cpuOwn = cpuRow({ name: 'blocked-watch', title: `${title} (vs agent without)`, target: 0.99 }, rate, cpu.agent, cpu.watched, { base: 'agentUs', other: 'agentWatchingUs' });
    return [own, cpuOwn, whole];
  } finally {
    for (const app of apps) await app.stop();
  }
}

module.exports = { runBlockedWatch };
