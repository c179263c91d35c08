/**
 * The preload: `node --require aivory-monitor/register` or `--import aivory-monitor/register`.
 * Starts the agent from AIVORY_* once per process, on the main thread; in the app's worker threads
 * (where Node runs preloads too) the hooks that report the thread's crashes through it; nothing on
 * Node's loader-hooks thread. Child processes that inherit NODE_OPTIONS run
 * it too and get their own agent, except package managers' own processes and this package's CLI
 * (see `toolName`).
 */
import { GLOBAL_KEYS } from './shared/defaults';
import { threadKind } from './shared/thread-kind';

const started = globalThis as unknown as Record<symbol, boolean | undefined>;

/**
 * Tools that run the app in a child process, which inherits NODE_OPTIONS and gets its agent: their
 * own process is not the app (`npm start` under `aivory-monitor run` would otherwise register two
 * agents per container, PM2 one more for its daemon). Package managers (npm, npx, yarn, pnpm,
 * corepack), process managers (PM2's CLI, daemon and pm2-runtime; nodemon), tsx's CLI and Next.js's
 * CLI but for `next start` (which serves in its own process; `next dev` forks the server), matched
 * on the real path of the main script where each installs it and, for Next.js, its command. PM2's
 * process containers, tsx as a loader (`--import tsx`) and the scripts these tools start are the app.
 */
const TOOL_SCRIPTS: ReadonlyArray<readonly [tool: string, script: RegExp, isTool?: (args: readonly string[]) => boolean]> = [
  ['npm', /[\\/]node_modules[\\/]npm[\\/]bin[\\/]np[mx]-cli\.js$/],
  ['yarn', /[\\/]node_modules[\\/]yarn[\\/](?:bin[\\/]yarn|lib[\\/]cli)\.c?js$|[\\/]\.yarn[\\/]releases[\\/]yarn-[^\\/]+\.c?js$/],
  ['pnpm', /[\\/]node_modules[\\/]pnpm[\\/]bin[\\/]pnp[mx]\.[cm]?js$/],
  ['corepack', /[\\/]node_modules[\\/]corepack[\\/]dist[\\/]\w+\.js$/],
  ['pm2', /[\\/]node_modules[\\/]pm2[\\/](?:bin[\\/]pm2(?:-runtime|-dev|-docker)?|lib[\\/]Daemon\.js)$/],
  ['nodemon', /[\\/]node_modules[\\/]nodemon[\\/]bin[\\/]nodemon\.js$/],
  ['tsx', /[\\/]node_modules[\\/]tsx[\\/]dist[\\/]cli\.m?js$/],
  ['next', /[\\/]node_modules[\\/]next[\\/]dist[\\/]bin[\\/]next$/, (args) => args[0] !== 'start'],
];

/** The tool whose own process this is, or undefined for anything else (the app). */
function toolName(mainScript: string | undefined, args: readonly string[]): string | undefined {
  if (!mainScript) return undefined; // node -e, the REPL, stdin
  let real: string;
  try {
    // bin entries are symlinks (/usr/local/bin/npm, node_modules/.bin/aivory-monitor).
    real = (require('node:fs') as typeof import('node:fs')).realpathSync.native(mainScript);
  } catch {
    return undefined;
  }
  // dist/register.js -> this package's bin: `aivory-monitor run` and `server` are not the app either.
  if (real === (require('node:path') as typeof import('node:path')).join(__dirname, '..', 'bin', 'aivory-monitor.js')) return 'aivory-monitor';
  for (const [tool, script, isTool] of TOOL_SCRIPTS) if (script.test(real) && (isTool === undefined || isTool(args))) return tool;
  return undefined;
}

/** The debug line of a skipped process (AIVORY_DEBUG from the environment; .env is not read here). */
function sayNotStarted(tool: string): void {
  try {
    const { parseBooleanSetting } = require('./shared/config') as typeof import('./shared/config');
    if (parseBooleanSetting(process.env.AIVORY_DEBUG) !== true) return;
    const { createLogger } = require('./shared/log') as typeof import('./shared/log');
    createLogger(true).debug(`not started in ${tool}'s own process (the node processes it starts get their agent)`);
  } catch {
    // nothing to say then
  }
}

const thread = threadKind();
if (thread !== 'internal' && !started[GLOBAL_KEYS.started]) {
  started[GLOBAL_KEYS.started] = true;
  // Required here, not imported at the top: threads and processes that skip the agent load nothing else.
  if (thread === 'app') (require('./main/threads/thread-hooks') as typeof import('./main/threads/thread-hooks')).installThreadHooks();
  else {
    const tool = toolName(process.argv[1], process.argv.slice(2));
    if (tool === undefined) (require('./index') as typeof import('./index')).init();
    else sayNotStarted(tool);
  }
}
