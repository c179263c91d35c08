import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../shared/package-root';
import { hasPreload } from './worker-env';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/**
 * `--require <our register.js>` for NODE_OPTIONS. The path is absolute so that the command can run
 * from any directory (npx, Docker WORKDIR); it is quoted when it holds spaces, quotes or
 * backslashes, the way NODE_OPTIONS parses quoted values.
 */
export function preloadOption(registerPath = resolve(PACKAGE_ROOT, 'register.js')): string {
  return `--require ${/[\s"'\\]/.test(registerPath) ? JSON.stringify(registerPath) : registerPath}`;
}

/** NODE_OPTIONS with our preload appended, unless it already holds one (ours, in any form). */
export function withPreload(nodeOptions: string | undefined, option = preloadOption()): string {
  const existing = (nodeOptions ?? '').trim();
  if (hasPreload(existing)) return existing;
  return existing ? `${existing} ${option}` : option;
}

/**
 * `aivory-monitor run -- <command...>`: runs the command with the preload in NODE_OPTIONS, so that
 * every node process it starts has an agent. Signals are forwarded; resolves with the command's
 * exit code. When the command dies of a signal, this process dies of the same signal (exit code
 * 128 + n where that is not possible, e.g. as PID 1 in a container).
 */
export function runCommand(args: string[]): Promise<number> {
  const dash = args.indexOf('--');
  const cmd = dash >= 0 ? args.slice(dash + 1) : args;
  if (cmd.length === 0) {
    process.stderr.write('aivory-monitor run: no command given (usage: aivory-monitor run -- node server.js)\n');
    return Promise.resolve(2);
  }
  const env = { ...process.env, NODE_OPTIONS: withPreload(process.env.NODE_OPTIONS) };
  return new Promise((done) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env });
    const handlers = FORWARDED.map((sig) => {
      const forward = (): void => {
        try {
          child.kill(sig);
        } catch {
          // the child is already gone
        }
      };
      process.on(sig, forward);
      return () => process.removeListener(sig, forward);
    });
    const stopForwarding = (): void => {
      for (const remove of handlers.splice(0)) remove();
    };
    child.on('error', (err) => {
      stopForwarding();
      process.stderr.write(`aivory-monitor run: cannot start ${JSON.stringify(cmd[0])}: ${err.message}\n`);
      done(127);
    });
    child.on('exit', (code, signal) => {
      stopForwarding();
      if (signal) {
        try {
          process.kill(process.pid, signal);
        } catch {
          // fall through to the exit code
        }
      }
      done(code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0));
    });
  });
}
