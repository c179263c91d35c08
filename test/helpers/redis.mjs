// A real Redis server for tests of job queues: its own process, on a Unix socket in a temporary
// folder (no port to pick), nothing saved to disk. Stopped when the test ends.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why Redis tests cannot run here, or undefined when redis-server is installed. */
export function redisMissing() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'redis-server is not installed (.ci/run installs it)';
}

/** Starts redis-server; resolves to { socket } once it accepts connections. */
export function startRedis(t, timeoutMs = 15000) {
  const dir = mkdtempSync(join(tmpdir(), 'aivory-redis-'));
  const socket = join(dir, 'redis.sock');
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  t.after(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within ${timeoutMs} ms:\n${log}`)), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}):\n${log}`));
    });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      log += d;
      if (/ready to accept connections/i.test(log)) {
        clearTimeout(timer);
        resolve({ socket });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (log += d));
  });
}
