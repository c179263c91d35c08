'use strict';
// Every process the bench starts goes through here, so that all of them die with the bench:
// on normal exit, on Ctrl-C, and on a crash of the harness itself.
const { spawn, spawnSync, fork } = require('node:child_process');
const { availableParallelism } = require('node:os');

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

/**
 * CPU pinning: apps on the last CPU, the load generator on the first, so that they never take turns
 * on one CPU (on a 2-CPU machine that alone moved ratios by 10-20% between rounds). The agent's
 * worker thread shares the app's CPU: what it costs is counted. Off with --no-pin, or when taskset
 * is missing or there is one CPU.
 */
const pinning = { app: null, load: null };

function usePinning(on) {
  pinning.app = pinning.load = null;
  if (!on || availableParallelism() < 2) return false;
  const probe = spawnSync('taskset', ['-c', '0', process.execPath, '-e', '0'], { stdio: 'ignore' });
  if (probe.status !== 0) return false;
  pinning.app = String(availableParallelism() - 1);
  pinning.load = '0';
  return true;
}

/** [command, args] running `node ...args`, pinned to a CPU when pinning is on. */
function nodeCommand(args, cpu) {
  return cpu === null ? [process.execPath, args] : ['taskset', ['-c', cpu, process.execPath, ...args]];
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
 * stop() which kills and waits for the exit. `wrapper`: a command that runs node (valgrind ...);
 * it is never pinned. `onLine`: called with each whole line of stdout+stderr (output() keeps only
 * the first 64 KB).
 */
function startNode(args, { env, cwd, pinned = false, wrapper, onLine }) {
  hookExit();
  const [command, argv] = wrapper ? [wrapper[0], [...wrapper.slice(1), process.execPath, ...args]] : nodeCommand(args, pinned ? pinning.app : null);
  const child = track(spawn(command, argv, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
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
  const partial = { stdout: '', stderr: '' };
  const lines = (stream, d) => {
    const text = partial[stream] + d;
    const parts = text.split('\n');
    partial[stream] = parts.pop();
    for (const line of parts) onLine(line);
  };
  const onData = (stream) => (d) => {
    // Keep only the head of long outputs: an app logging every error must not grow the harness.
    if (out.length < 64 * 1024) out += d;
    if (onLine) lines(stream, d);
    check();
  };
  child.stdout.setEncoding('utf8').on('data', onData('stdout'));
  child.stderr.setEncoding('utf8').on('data', onData('stderr'));
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

/** fork() with IPC, tracked like the others; `pinned`: on the load generator's CPU. */
function forkNode(modulePath, { env, cwd, execArgv = [], pinned = false } = {}) {
  hookExit();
  // taskset execs node in place, so the IPC channel fork() set up is node's own.
  const cpu = pinned ? pinning.load : null;
  const options = cpu === null ? { execArgv } : { execPath: 'taskset', execArgv: ['-c', cpu, process.execPath, ...execArgv] };
  return track(fork(modulePath, [], { env, cwd, ...options, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
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

/** Runs `node ...args` to completion and resolves with its stdout; rejects when it fails or times out. */
async function outputOfNode(args, { env, cwd, timeoutMs = 30000 }) {
  hookExit();
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { if (err.length < 4096) err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`node ${args.join(' ')} exited with ${code ?? signal}: ${err}`));
    });
  });
}

module.exports = { startNode, forkNode, timeNode, outputOfNode, killAll, usePinning, pinning };
