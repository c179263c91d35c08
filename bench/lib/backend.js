'use strict';
// The backend the "with agent" side talks to: the package's own development server
// (`aivory-monitor server`) when this build has one, else the bench's recording backend.
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { startNode } = require('./children');
const { CLI, baseEnv } = require('./paths');
const { startRecorder } = require('./recorder');
const { getJson } = require('./http');

const LISTENING = /listening on (https?:\/\/\S+) \(agents: (wss?:\/\/[^\s)]+)\)/;

async function startDevServer() {
  const data = mkdtempSync(join(tmpdir(), 'aivory-bench-'));
  // Also on Ctrl-C, when stop() never runs.
  const removeData = () => rmSync(data, { recursive: true, force: true });
  process.once('exit', removeData);
  const proc = startNode([CLI, 'server', '--port', '0', '--host', '127.0.0.1', '--data', data], { env: baseEnv({ NODE_ENV: 'development' }), cwd: data });
  try {
    const m = await proc.waitFor(LISTENING, 15000);
    return {
      kind: 'server',
      httpUrl: m[1],
      wsUrl: m[2],
      counts: null,
      /** Exception events stored so far (sum over the groups of GET /api/exceptions). */
      async exceptionCount() {
        const groups = await getJson(`${m[1]}/api/exceptions`);
        return Array.isArray(groups) ? groups.reduce((n, g) => n + (Number(g.count) || 0), 0) : NaN;
      },
      async stop() {
        await proc.stop();
        removeData();
      },
    };
  } catch (err) {
    await proc.stop();
    removeData();
    throw err;
  }
}

/**
 * mode: 'server' (the package's dev server, or fail), 'recorder' (the bench's own), 'auto'
 * (server when available). Resolves with { kind, wsUrl, httpUrl, stop(), ... }.
 */
async function startBackend(mode) {
  if (mode === 'recorder') return startRecorder();
  try {
    return await startDevServer();
  } catch (err) {
    if (mode === 'server') throw new Error(`the development server did not start: ${err.message}`);
    const backend = await startRecorder();
    backend.fallbackReason = 'the development server is not available in this build';
    return backend;
  }
}

module.exports = { startBackend };
