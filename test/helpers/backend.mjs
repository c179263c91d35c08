// The real local development backend (`aivory-monitor server`) as a child process, for tests.
//
//   const backend = await startBackend({ t });
//   const app = startNode(['--require', REGISTER_CJS, 'app.js'], { env: agentEnv(backend), t });
//   const ev = await backend.waitFor('exception', (e) => e.message === 'boom');
//
// SSE events (GET /api/stream) are logged from the start, so waitFor() also sees events that arrived
// before it was called; after a restart the stream asks for every event the new server run holds, so
// an agent that reconnects before the stream does is not missed. Event names and data:
//   agent             the agent as GET /api/agents lists it (on register, heartbeat, disconnect)
//   exception         the full exception payload as received + received_at + group (the group summary)
//   breakpoint        the breakpoint as GET /api/breakpoints lists it (create, remove, new hit)
//   breakpoint_status { breakpoint_id, agent_id, status, message?, actual_line?, at }
//   breakpoint_hit    the full breakpoint_hit payload as received + received_at
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cleanEnv, startNode } from './process.mjs';

export const DEV_KEY = 'ilscipio-dev-2024';

/**
 * Starts `aivory-monitor server --port <port|0> --data <dataDir|fresh temp dir>`.
 * Options: t (test context: stop + temp dir removal registered with t.after), keys (extra --key),
 * dataDir, extraArgs, port (default 0: a free one; restart() reuses the port it got).
 *
 * get/post/del resolve with the parsed JSON body and throw on a non-2xx status (err.status, err.body);
 * request(method, path, body) resolves with { status, body } for any status.
 */
/**
 * One server-sent event block (the text between blank lines): { id, name, data } with `data` parsed
 * as JSON where it is JSON; undefined for a block without data (a comment, a keep-alive).
 */
export function parseSseBlock(block) {
  let id;
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('id:')) id = line.slice(3).trim();
    else if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (data.length === 0) return undefined;
  const text = data.join('\n');
  try {
    return { id, name, data: JSON.parse(text) };
  } catch {
    return { id, name, data: text };
  }
}

export async function startBackend({ t, keys = [], dataDir, extraArgs = [], port = 0 } = {}) {
  const ownDir = dataDir === undefined;
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'aivory-backend-'));
  const log = [];
  const waiters = [];
  let proc;
  let stream;
  let currentPort = port;
  let running = false;

  const deliver = (name, data) => {
    log.push({ name, data });
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      let ok = false;
      try {
        ok = w.name === name && w.predicate(data);
      } catch {
        ok = false;
      }
      if (ok) {
        waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(data);
      }
    }
  };

  const connectStream = () =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: currentPort, path: '/api/stream?since=0' }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /api/stream answered ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk) => {
          buf += chunk;
          let end;
          while ((end = buf.indexOf('\n\n')) !== -1) {
            const event = parseSseBlock(buf.slice(0, end));
            buf = buf.slice(end + 2);
            if (event) deliver(event.name, event.data);
          }
        });
        res.on('error', () => undefined);
        resolve(req);
      });
      req.on('error', (err) => {
        if (!stream) reject(err);
      });
    });

  const launch = async () => {
    const args = [BIN, 'server', '--port', String(currentPort), '--host', '127.0.0.1', '--data', dir];
    for (const k of keys) args.push('--key', k);
    args.push(...extraArgs);
    proc = startNode(args, { env: cleanEnv(), t });
    const m = await proc.waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)/, 15000);
    currentPort = Number(m[1]);
    running = true;
    stream = undefined;
    stream = await connectStream();
  };

  const request = async (method, path, body) => {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(`http://127.0.0.1:${currentPort}${path}`, init);
    const text = await res.text();
    let parsed;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  const ok = async (method, path, body) => {
    const r = await request(method, path, body);
    if (r.status < 200 || r.status > 299) {
      throw Object.assign(new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`), { status: r.status, body: r.body });
    }
    return r.body;
  };

  const stop = async (signal = 'SIGTERM') => {
    if (!running) return;
    running = false;
    stream?.destroy();
    stream = undefined;
    proc.kill(signal);
    await proc.closed;
  };

  await launch();

  const backend = {
    get port() {
      return currentPort;
    },
    get httpUrl() {
      return `http://127.0.0.1:${currentPort}`;
    },
    get agentUrl() {
      return `ws://127.0.0.1:${currentPort}/ws/monitor/agent`;
    },
    key: DEV_KEY,
    dataDir: dir,
    /** The current server process's output. */
    stdout: () => proc.stdout(),
    stderr: () => proc.stderr(),
    /** Waits for output of the current server process (stream 'stdout' or 'stderr'). */
    waitForOutput: (re, timeoutMs = 15000, streamName = 'stderr') => proc.waitForOutput(re, timeoutMs, streamName),
    request,
    get: (path) => ok('GET', path),
    post: (path, body) => ok('POST', path, body),
    del: (path) => ok('DELETE', path),
    /** Resolves with the data of the first `name` event matching `predicate` (past ones included). */
    waitFor(name, predicate = () => true, timeoutMs = 15000) {
      for (const e of log) {
        try {
          if (e.name === name && predicate(e.data)) return Promise.resolve(e.data);
        } catch {
          // a predicate that throws does not match
        }
      }
      return new Promise((resolve, reject) => {
        const w = {
          name,
          predicate,
          resolve,
          timer: setTimeout(() => {
            waiters.splice(waiters.indexOf(w), 1);
            const seen = log.filter((e) => e.name === name).slice(-5).map((e) => JSON.stringify(e.data).slice(0, 300));
            reject(new Error(`timed out after ${timeoutMs} ms waiting for a matching '${name}' event; last ones:\n${seen.join('\n')}\nserver stderr: ${proc.stderr()}`));
          }, timeoutMs),
        };
        waiters.push(w);
      });
    },
    /** Data of every `name` event received so far, oldest first. */
    events: (name) => log.filter((e) => e.name === name).map((e) => e.data),
    /** Stops the server (SIGTERM: clean close; 'SIGKILL' to simulate a crash). */
    stop,
    /** Stops (if running) and starts again on the same port with the same data folder. */
    async restart(signal = 'SIGTERM') {
      await stop(signal);
      await launch();
    },
    /** Starts it again after stop(), same port and data folder. */
    start: async () => {
      if (!running) await launch();
    },
  };

  t?.after(async () => {
    await stop('SIGKILL');
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  });
  return backend;
}

/** A clean child env (no inherited AIVORY_ variables nor NODE_OPTIONS) pointing the agent at `backend` with the dev key. */
export function agentEnv(backend, extra = {}) {
  return cleanEnv({
    AIVORY_API_KEY: backend.key,
    AIVORY_BACKEND_URL: backend.agentUrl,
    // Reconnect fast after a backend restart (test-only knob, validated by the agent's config).
    AIVORY_RECONNECT_BASE_MS: '100',
    ...extra,
  });
}
