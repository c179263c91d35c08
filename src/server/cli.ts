/**
 * `aivory-monitor server [--port 19999] [--host 127.0.0.1] [--data ./.aivory] [--key K ...] [--no-dev-key]`:
 * the local development backend. Prints one line with its address on stdout, then runs until
 * SIGINT/SIGTERM.
 */
import { DEV_SERVER_PORT } from '../shared/defaults';
import { startServer, type RunningServer, type ServerOptions } from './server';

const USAGE = 'usage: aivory-monitor server [--port 19999] [--host 127.0.0.1] [--data ./.aivory] [--key KEY ...] [--no-dev-key]';

/** Parses the command's arguments; a string is the error to print. */
export function parseServerArgs(args: readonly string[]): ServerOptions | string {
  const opts: ServerOptions & { keys: string[] } = { port: DEV_SERVER_PORT, host: '127.0.0.1', dataDir: './.aivory', keys: [], devKey: true };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string | undefined => (eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : args[++i]);
    switch (name) {
      case '--port': {
        const v = takeValue();
        const n = Number(v);
        if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) return `--port expects a number from 0 to 65535, got ${JSON.stringify(v ?? '')}`;
        opts.port = n;
        break;
      }
      case '--host': {
        const v = takeValue();
        if (!v) return '--host expects a host name or address';
        opts.host = v;
        break;
      }
      case '--data': {
        const v = takeValue();
        if (!v) return '--data expects a folder';
        opts.dataDir = v;
        break;
      }
      case '--key': {
        const v = takeValue();
        if (!v) return '--key expects an API key';
        opts.keys.push(v);
        break;
      }
      case '--no-dev-key':
        opts.devKey = false;
        break;
      default:
        return `unknown option ${JSON.stringify(arg)}`;
    }
  }
  if (opts.devKey === false && opts.keys.length === 0) return '--no-dev-key needs at least one --key';
  return opts;
}

export async function serverCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const opts = parseServerArgs(args);
  if (typeof opts === 'string') {
    process.stderr.write(`aivory-monitor server: ${opts}\n${USAGE}\n`);
    return 2;
  }
  let server: RunningServer;
  try {
    server = await startServer(opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') process.stderr.write(`aivory-monitor server: port ${opts.port} on ${opts.host} is already in use (try --port 0 or another port)\n`);
    else process.stderr.write(`aivory-monitor server: cannot start: ${e.message}\n`);
    return 1;
  }
  const wsBase = server.url.replace(/^http/, 'ws');
  process.stdout.write(`aivory-monitor server listening on ${server.url} (agents: ${wsBase}/ws/monitor/agent)\n`);
  return new Promise<number>((done) => {
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      void server.close().then(() => done(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
