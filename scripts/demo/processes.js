'use strict';
// Child processes of the demo: the dev backend and the sample app. Every child is tracked and
// killed when the demo ends, however it ends.
const { spawn } = require('node:child_process');

const children = new Set();

/** Environment for children: ours without NODE_OPTIONS or AIVORY_* (the demo sets those itself). */
function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('AIVORY_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts `node ...args` and resolves with { child, match, output } once a stdout line matches `re`;
 * rejects with the child's output when it exits first or `timeoutMs` passes.
 * `onLine(stream, line)` sees every output line afterwards.
 */
function startChild(args, { env, cwd, re, timeoutMs, onLine }) {
  const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  let err = '';
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (ready) return;
      reject(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { stdout: out, stderr: err }));
    }, timeoutMs);
    const lines = (stream, text) => {
      if (!ready || !onLine) return;
      for (const line of text.split('\n')) if (line.trim()) onLine(stream, line);
    };
    child.stdout.setEncoding('utf8').on('data', (d) => {
      if (ready) return lines('stdout', d);
      out += d;
      const m = re.exec(out);
      if (m) {
        ready = true;
        clearTimeout(timer);
        resolve({ child, match: m, output: () => ({ stdout: out, stderr: err }) });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      if (!ready && err.length < 20000) err += d;
      lines('stderr', d);
    });
    child.on('exit', (code, signal) => {
      if (ready) return;
      clearTimeout(timer);
      reject(Object.assign(new Error(`exited with ${code ?? signal} before it was ready`), { code, stdout: out, stderr: err }));
    });
  });
}

/** Stops every child: SIGTERM, then SIGKILL for any still there after `graceMs`. */
async function stopAll(graceMs = 2000) {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(running.map((c) => new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      resolve();
    }, graceMs);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill('SIGTERM');
  })));
}

/** Last resort at process exit: synchronous SIGKILL of anything left. */
function killAllNow() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

module.exports = { childEnv, startChild, stopAll, killAllNow };
