'use strict';
// Starts one scenario app, with or without the agent, and waits until it listens.
const { join } = require('node:path');
const { startNode } = require('./children');
const { APPS, baseEnv, agentEnv, preloadArgs } = require('./paths');

/**
 * script: file name under bench/apps. agent: false, or { backendUrl, env?, preload? ('import'|'require'), onLine? }.
 * Resolves with { url, port, pid, output(), waitFor(re, ms), stop() }.
 */
async function startApp(script, agent) {
  const args = agent ? [...preloadArgs(agent.preload), join(APPS, script)] : [join(APPS, script)];
  const env = agent ? agentEnv(agent.backendUrl, agent.env) : baseEnv();
  // cwd is the apps folder so that no .env of the repository reaches the agent.
  const proc = startNode(args, { env, cwd: APPS, pinned: true, onLine: agent ? agent.onLine : undefined });
  try {
    const m = await proc.waitFor(/listening (\d+)/, 20000);
    const port = Number(m[1]);
    return { url: `http://127.0.0.1:${port}`, port, pid: proc.pid, output: proc.output, waitFor: proc.waitFor, stop: proc.stop, exited: proc.exited };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

module.exports = { startApp };
