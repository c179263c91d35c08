'use strict';
// Every process the bench starts goes through here, so that all of them die with the bench:
// on normal exit, on Ctrl-C, and on a crash of the harness itself.
const { spawn, fork } = require('node:child_process');

const live = new Set();

function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Kills every child still running (SIGKILL: a benchmark app has nothing to flush). */
function killAll() {
  for (const child of live) {
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      killAll();
      process.stderr.write(`\nbench: interrupted (${sig})\n`);
      process.exit(130);
    });
  }
}

/**
 * Starts `node ...args`. Returns a handle with waitFor(re, ms) on stdout+stderr, output(), and
 * stop() which kills and waits for the exit.
 */
function startNode(args, { env, cwd }) {
  hookExit();
  const child = track(spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const waiters = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const m = waiters[i].re.exec(out);
      if (m) {
        const [w] = waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(m);
      }
    }
  };
  const onData = (d) => {
    // Keep only the head of long outputs: an app logging every error must not grow the harness.
    if (out.length < 64 * 1024) out += d;
    check();
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`process exited (${code ?? signal}) before printing ${w.re}; output:\n${out.slice(0, 2000)}`));
      }
      resolve({ code, signal });
    });
  });
  return {
    child,
    pid: child.pid,
    exited,
    output: () => out,
    waitFor(re, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const w = {
          re,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output:\n${out.slice(0, 2000)}`));
          }, timeoutMs),
        };
        waiters.push(w);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** fork() with IPC, tracked like the others. */
function forkNode(modulePath, { env, cwd, execArgv = [] } = {}) {
  hookExit();
  return track(fork(modulePath, [], { env, cwd, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

/** Runs `node ...args` to completion; resolves with { code, signal, ms, stderr, timedOut } (ms: spawn to exit). */
function timeNode(args, { env, cwd, timeoutMs = 30000 }) {
  hookExit();
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = track(spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] }));
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { if (err.length < 4096) err += d; });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      clearTimeout(timer);
      resolve({ code, signal, ms, stderr: err, timedOut });
    });
  });
}

module.exports = { startNode, forkNode, timeNode, killAll };
