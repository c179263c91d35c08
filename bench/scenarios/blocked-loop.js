'use strict';
// What watching for blocked event loops costs: http hello with the agent, with and without
// AIVORY_EVENT_LOOP_BLOCKED_MS at its shortest threshold (100 ms: the delay monitor's native timer
// runs on the app's thread every 10 ms, the most often it ever does), and against no agent.
const { startApp } = require('../lib/app');
const { startAgentApp, agentVariantRows } = require('./throughput');

const SCRIPT = 'http-hello.js';
const THRESHOLD_MS = '100';

async function runBlockedWatch(ctx) {
  const backend = await ctx.backend();
  const apps = [];
  try {
    const none = await startApp(SCRIPT, false);
    apps.push(none);
    const agent = await startAgentApp(ctx, SCRIPT, backend);
    apps.push(agent);
    const watched = await startAgentApp(ctx, SCRIPT, backend, { AIVORY_EVENT_LOOP_BLOCKED_MS: THRESHOLD_MS });
    apps.push(watched);
    return await agentVariantRows(ctx, { name: 'blocked-watch', title: `http hello, blocked-loop watch at ${THRESHOLD_MS} ms`, none, agent, variant: watched, key: 'agentWatching' });
  } finally {
    for (const app of apps) await app.stop();
  }
}

module.exports = { runBlockedWatch };
