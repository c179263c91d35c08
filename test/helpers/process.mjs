// Spawning real node processes for tests: every child is tracked and killed when the test ends.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REGISTER_CJS = join(ROOT, 'register.js');
export const REGISTER_ESM = join(ROOT, 'register.mjs');
export const BIN = join(ROOT, 'bin', 'aivory-monitor.js');

/** Environment for a child: the parent's minus anything AIVORY_* or NODE_OPTIONS, plus `extra`. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('AIVORY_') || k === 'NODE_OPTIONS' || k.startsWith('NODE_TEST')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts `node ...args`. Returns { child, stdout(), stderr(), exited: Promise<{code, signal}>, waitForOutput(re, ms), kill() }.
 * Registers cleanup on the test context `t` when given.
 */
export function startNode(args, { env = cleanEnv(), cwd = ROOT, t, node = process.execPath } = {}) {
  const child = spawn(node, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      const m = w.re.exec(w.stream === 'stderr' ? err : out);
      if (m) {
        waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(m);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; check(); });
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; check(); });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    for (const w of waiters.splice(0)) { clearTimeout(w.timer); w.reject(new Error(`process exited (${code ?? signal}) before output matched ${w.re}\nstdout: ${out}\nstderr: ${err}`)); }
    resolve({ code, signal });
  }));
  // stdout/stderr fully read once the streams close
  const closed = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  const handle = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    closed,
    waitForOutput(re, timeoutMs = 15000, stream = 'stdout') {
      return new Promise((resolve, reject) => {
        const w = { re, stream, resolve, reject, timer: setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} on ${stream}\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs) };
        waiters.push(w);
        check();
      });
    },
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  t?.after(() => handle.kill());
  return handle;
}

/** Runs `node ...args` to completion (killed after timeoutMs) and returns { code, signal, stdout, stderr }. */
export async function runNode(args, opts = {}) {
  const { timeoutMs = 30000 } = opts;
  const h = startNode(args, opts);
  const timer = setTimeout(() => h.kill(), timeoutMs);
  try {
    return await h.closed;
  } finally {
    clearTimeout(timer);
  }
}

/** The app printed what it prints without the agent: stderr as it is, stdout but for its port. */
export function assertSameOutput(got, base) {
  const withoutPort = (text) => text.replace(/listening \d+( tcp \d+)?/, '');
  assert.equal(got.stderr, base.stderr, "the app's stderr is the same as without the agent");
  assert.equal(withoutPort(got.stdout), withoutPort(base.stdout), "the app's stdout is the same as without the agent");
}

/** Starts `node ...args` and waits for the app's "listening <port>" line: { child, port }. */
export async function startListening(args, opts = {}) {
  const child = startNode(args, opts);
  const [, port] = await child.waitForOutput(/listening (\d+)/, 20000);
  return { child, port: Number(port) };
}

/**
 * Runs a fixture app that prints `ready`, starts its work when it gets SIGUSR2 and exits once it
 * printed `done`: the signal is sent once the agent (when `backend` is given) has registered, so
 * that the work's errors find the agent armed. Resolves to { code, signal, stdout, stderr }.
 */
export async function runSignalledApp(t, args, { env, backend, environment, cwd = ROOT }) {
  const app = startNode(args, { env, t, cwd });
  await app.waitForOutput(/^ready$/m, 20000);
  if (backend) await backend.waitFor('agent', (a) => a.environment === environment, 15000);
  app.child.kill('SIGUSR2');
  const closed = await app.closed;
  assert.equal(closed.code, 0, closed.stderr);
  assert.match(closed.stdout, /^done$/m);
  return closed;
}
