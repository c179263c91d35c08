import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The preload flag added to NODE_OPTIONS: an absolute path, so it works from any directory. */
export function preloadOption(): string {
  const registerPath = resolve(__dirname, '..', '..', 'register.js');
  return `--require ${JSON.stringify(registerPath).slice(1, -1).includes(' ') ? JSON.stringify(registerPath) : registerPath}`;
}

/** Runs `command...` with the preload added, forwarding signals and returning its exit code. */
export function runCommand(args: string[]): Promise<number> {
  const dash = args.indexOf('--');
  const cmd = dash >= 0 ? args.slice(dash + 1) : args;
  if (cmd.length === 0) {
    process.stderr.write('aivory-monitor run: no command given (usage: aivory-monitor run -- node server.js)\n');
    return Promise.resolve(2);
  }
  const existing = process.env.NODE_OPTIONS ?? '';
  const preload = preloadOption();
  const env = { ...process.env, NODE_OPTIONS: existing.includes(preload) ? existing : `${existing} ${preload}`.trim() };
  return new Promise((done) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env });
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    const forward = (sig: NodeJS.Signals) => () => {
      try {
        child.kill(sig);
      } catch {
        // child already gone
      }
    };
    const handlers = signals.map((sig) => [sig, forward(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);
    child.on('error', (err) => {
      process.stderr.write(`aivory-monitor run: cannot start ${JSON.stringify(cmd[0])}: ${err.message}\n`);
      done(127);
    });
    child.on('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
      if (signal) {
        // Die of the same signal so that the caller sees what the child did.
        process.kill(process.pid, signal);
        done(128);
      } else done(code ?? 1);
    });
  });
}
