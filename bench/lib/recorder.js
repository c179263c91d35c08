'use strict';
// A tiny recording agent backend for the bench: accepts any agent, answers `register` with
// `registered`, counts what it receives and lets a scenario send `set_breakpoint` to an agent.
// It exists so that breakpoint scenarios can time hits to the microsecond and see every status;
// it measures the app, not a backend.
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { WebSocketServer } = require('ws');

/** Epoch milliseconds with sub-millisecond precision, comparable across processes of one machine. */
function preciseNow() {
  return performance.timeOrigin + performance.now();
}

function startRecorder() {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', recorder: true }));
    });
    const wss = new WebSocketServer({ server, maxPayload: 16 * 1024 * 1024 });
    const agents = new Map();
    const counts = Object.create(null);
    const listeners = new Set();

    wss.on('connection', (ws) => {
      let agentId = null;
      ws.on('message', (data) => {
        const at = preciseNow();
        let frame;
        try {
          frame = JSON.parse(String(data));
        } catch {
          return;
        }
        const type = typeof frame?.type === 'string' ? frame.type : '?';
        counts[type] = (counts[type] ?? 0) + 1;
        const payload = frame.payload ?? {};
        if (type === 'register') {
          agentId = String(payload.agent_id ?? '');
          agents.set(agentId, { ws, register: payload, at });
          ws.send(JSON.stringify({ type: 'registered', payload: { agent_id: agentId }, timestamp: Date.now() }));
        }
        const event = { type, payload, at, agentId };
        for (const fn of [...listeners]) fn(event);
      });
      ws.on('close', () => {
        if (agentId && agents.get(agentId)?.ws === ws) agents.delete(agentId);
      });
      ws.on('error', () => {});
    });

    /** Resolves with the first event matching `test` (type string or predicate), or rejects after timeoutMs. */
    function waitFor(test, timeoutMs) {
      const match = typeof test === 'function' ? test : (e) => e.type === test;
      return new Promise((res, rej) => {
        const fn = (e) => {
          if (!match(e)) return;
          listeners.delete(fn);
          clearTimeout(timer);
          res(e);
        };
        const timer = setTimeout(() => {
          listeners.delete(fn);
          rej(new Error(`no matching message within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(fn);
      });
    }

    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        kind: 'recorder',
        httpUrl: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}/ws/monitor/agent`,
        agents,
        counts,
        async exceptionCount() {
          return counts.exception ?? 0;
        },
        waitFor,
        /** Calls fn for every message until the returned function is called. */
        subscribe(fn) {
          listeners.add(fn);
          return () => listeners.delete(fn);
        },
        /** Sends one frame to a registered agent. Returns false when it is not connected. */
        send(agentId, type, payload) {
          const a = agents.get(agentId);
          if (!a || a.ws.readyState !== a.ws.OPEN) return false;
          a.ws.send(JSON.stringify({ type, payload, timestamp: Date.now() }));
          return true;
        },
        async stop() {
          for (const c of wss.clients) c.terminate();
          await new Promise((r) => wss.close(() => r()));
          await new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

module.exports = { startRecorder, preciseNow };
