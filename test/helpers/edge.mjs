// A raw WebSocket "backend" for the reliability tests: it stands in for the network edge where the
// real dev server would refuse to misbehave (slow, flapping, huge or hostile frames). It records
// every connection (time, headers) and every frame the agent sends.
//
//   const edge = await startEdge(t, { onRegister: (conn, frame) => conn.accept() });
//   const f = await edge.next((f) => f.type === 'exception' && f.payload.message === 'x');
import { createRequire } from 'node:module';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');

export const FIXTURES = fileURLToPath(new URL('../fixtures/reliability/', import.meta.url));
export const APP = join(FIXTURES, 'app.cjs');

/**
 * Options: onRegister(conn, frame) decides what to answer to `register` (default: accept at once);
 * onConnection(conn) runs when a socket opens; server: extra WebSocketServer options.
 * conn = { ws, at, headers, frames, accept(), send(obj|string), close(code) }.
 */
export async function startEdge(t, { onRegister = (conn) => conn.accept(), onConnection, server = {} } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 64 * 1024 * 1024, ...server });
  await new Promise((resolve) => wss.on('listening', resolve));
  const conns = [];
  const received = [];
  const waiters = [];
  wss.on('connection', (ws, req) => {
    const conn = {
      ws,
      at: Date.now(),
      headers: req.headers,
      frames: [],
      raw: [],
      registered: false,
      accept() {
        if (ws.readyState !== ws.OPEN) return;
        conn.registered = true;
        ws.send(JSON.stringify({ type: 'registered', payload: { agent_id: conn.frames[0]?.payload?.agent_id }, timestamp: Date.now() }));
      },
      send(obj) {
        if (ws.readyState === ws.OPEN) ws.send(typeof obj === 'string' || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj));
      },
      close(code = 1000) {
        if (ws.readyState === ws.OPEN) ws.close(code);
      },
    };
    conns.push(conn);
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      const text = String(data);
      conn.raw.push(text);
      let f;
      try {
        f = JSON.parse(text);
      } catch {
        f = { type: '<not json>', text };
      }
      conn.frames.push(f);
      received.push(f);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pred(f)) {
          const w = waiters.splice(i, 1)[0];
          clearTimeout(w.timer);
          w.resolve(f);
        }
      }
      if (f.type === 'register') onRegister(conn, f);
    });
    onConnection?.(conn);
  });
  const stop = async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
  };
  t.after(stop);
  return {
    port: wss.address().port,
    url: `ws://127.0.0.1:${wss.address().port}/ws/agent`,
    conns,
    received,
    /** Every text the agent sent, joined: for "never appears" checks. */
    allText: () => conns.map((c) => c.raw.join('\n')).join('\n'),
    /** The first frame (past or future) matching `pred`. */
    next(pred, ms = 15000) {
      const f = received.find(pred);
      if (f) return Promise.resolve(f);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching frame within ${ms} ms; last frames: ${JSON.stringify(received.slice(-5).map((x) => [x.type, x.payload?.message ?? x.payload?.status ?? '']))}`));
        }, ms);
        waiters.push(w);
      });
    },
    /** Frames of one type, all connections. */
    frames: (type) => received.filter((f) => f.type === type),
    stop,
  };
}

/**
 * A TCP server in front of `target` (a port): in 'blackhole' mode it accepts connections and never
 * answers (a backend that hangs in the upgrade); in 'reset' mode it drops each connection at once
 * (a backend that is down, counted); in 'forward' mode it pipes them to the target.
 * switchTo('forward') also drops the sockets it held (the backend restarted).
 */
export async function startBlackhole(t, targetPort) {
  let mode = 'blackhole';
  const held = new Set();
  const accepted = [];
  const acceptWaiters = [];
  const server = net.createServer((sock) => {
    accepted.push({ at: Date.now(), mode });
    for (let i = acceptWaiters.length - 1; i >= 0; i--) {
      if (accepted.length >= acceptWaiters[i].count) {
        clearTimeout(acceptWaiters[i].timer);
        acceptWaiters.splice(i, 1)[0].resolve();
      }
    }
    sock.on('error', () => undefined);
    if (mode === 'reset') {
      sock.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      held.add(sock);
      sock.on('close', () => held.delete(sock));
      sock.resume(); // read and discard the upgrade request; never answer
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.on('error', () => sock.destroy());
    sock.on('close', () => upstream.destroy());
    upstream.on('close', () => sock.destroy());
    sock.pipe(upstream).pipe(sock);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  t.after(stop);
  return {
    port: server.address().port,
    accepted,
    held,
    /** Resolves once `count` connections were accepted in all. */
    waitAccepted(count, ms = 15000) {
      if (accepted.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { count, resolve };
        w.timer = setTimeout(() => {
          acceptWaiters.splice(acceptWaiters.indexOf(w), 1);
          reject(new Error(`${accepted.length} connection(s) accepted within ${ms} ms, waited for ${count}`));
        }, ms);
        acceptWaiters.push(w);
      });
    },
    switchTo(next) {
      mode = next;
      if (next === 'forward') for (const s of held) s.destroy();
    },
  };
}

/** A port nobody listens on (reserved by listening on 0, then closed). */
export async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** `stats {...}` lines the fixture app printed, parsed. */
export function statsOf(stdout) {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('stats '))
    .map((l) => JSON.parse(l.slice(6)));
}

/** 1-based line of the `// LINE:<name>` marker in a fixture file. */
export function markerLine(file, name) {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(`// LINE:${name}`));
  if (i < 0) throw new Error(`no marker ${name} in ${file}`);
  return i + 1;
}
