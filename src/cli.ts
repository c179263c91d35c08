/**
 * `aivory-monitor run -- <command...>`: runs a command with the preload added to NODE_OPTIONS.
 * `aivory-monitor server [--port 19999]`: the local development backend with its web UI.
 * `aivory-monitor check`: the settings here, and whether the backend accepts the key.
 */
import { AGENT_VERSION } from './shared/version';

const USAGE = `Usage:
  aivory-monitor run -- <command> [args...]   run a command with the agent preloaded (NODE_OPTIONS)
  aivory-monitor server [--port 19999] [--host 127.0.0.1] [--data ./.aivory] [--key KEY ...]
                                              start the local development backend and web UI
  aivory-monitor check [--timeout 15]         show the settings here and check that the backend
                                              accepts the key (connects and registers once)
  aivory-monitor --version`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      // Loaded lazily: `run` must not pay for the server, nor the server for `run`.
      const { runCommand } = require('./main/run-command') as typeof import('./main/run-command');
      return runCommand(rest);
    }
    case 'check': {
      const { checkCommand } = require('./main/check-command') as typeof import('./main/check-command');
      return checkCommand(rest);
    }
    case 'server': {
      const { serverCommand } = require('./server/cli') as typeof import('./server/cli');
      return serverCommand(rest);
    }
    case '--version':
    case '-v':
      process.stdout.write(AGENT_VERSION + '\n');
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`aivory-monitor: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return 1;
  }
}
