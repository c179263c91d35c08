/**
 * aivory-monitor public API. Every function is safe to call with anything and never throws.
 * Without an API key the agent is off and every call is a cheap no-op.
 */
import { activeAgent, getAgentState, setAgentState, type AgentState } from './main/state';
import { copyOptions, resolveConfig, sameOptions, type InitOptions } from './shared/config';
import { createLogger } from './shared/log';
import { threadKind } from './shared/thread-kind';
import type { UserInfo } from './shared/protocol';

export type { InitOptions } from './shared/config';
export type { UserInfo } from './shared/protocol';

type Runtime = typeof import('./main/start');
type ThreadRuntime = typeof import('./main/thread');
let runtime: Runtime | ThreadRuntime | undefined;

/**
 * The enabled agent's code, loaded on first need: without a key the preload costs only the config.
 * Also reached when another copy of this package started the shared agent. In the app's worker
 * threads, the thread's part only.
 */
function loadRuntime(): Runtime | ThreadRuntime {
  return (runtime ??= threadKind() === 'app' ? (require('./main/thread') as ThreadRuntime) : (require('./main/start') as Runtime));
}

let checkedThread = false;

/**
 * The running agent for an API call. In one of the app's worker threads where the preload did not
 * run (a Worker given its own `execArgv`, or code passed as a string under `--import`), the first
 * call starts the thread's agent from AIVORY_*, as the preload would have; elsewhere nothing starts
 * without init() or the preload.
 */
function apiAgent(): ReturnType<typeof activeAgent> {
  const agent = activeAgent();
  if (agent !== undefined || checkedThread) return agent;
  checkedThread = true;
  if (getAgentState() === undefined && threadKind() === 'app') init();
  return activeAgent();
}

/**
 * Starts the agent. Options override AIVORY_* variables, which override `.env`, which override
 * defaults. Idempotent: a second call with different options warns once and keeps the first agent.
 */
export function init(options?: InitOptions): void {
  try {
    const opts = copyOptions(options);
    const existing = getAgentState();
    if (existing && !existing.stopped) {
      if (!existing.warnedReinit && !sameOptions(existing.options, opts)) {
        existing.warnedReinit = true;
        existing.logger.warn('init() was called again with different options; keeping the first configuration');
      }
      return;
    }
    const { config, warnings } = resolveConfig(opts);
    const logger = createLogger(config.debug);
    // In one of the app's worker threads: the thread's agent, which reports through the main
    // thread's. The main thread already said what is wrong with the settings: threads say it only
    // when debugging, rather than once more per thread.
    const inThread = threadKind() === 'app';
    const warn = inThread ? (w: string) => logger.debug(w) : (w: string) => logger.warn(w);
    for (const w of warnings) warn(w);
    const s: AgentState = { options: opts, config, logger, stopped: false };
    setAgentState(s);
    if (!config.enabled) {
      if (!warnings.some((w) => w.includes('monitoring is off'))) warn('AIVORY_API_KEY is not set; monitoring is off');
      return;
    }
    const loaded = loadRuntime();
    if ('startThreadAgent' in loaded) {
      s.handle = loaded.startThreadAgent(config, logger);
      // Installed by the preload already, unless the thread started without it.
      const hooks = require('./main/threads/thread-hooks') as typeof import('./main/threads/thread-hooks');
      hooks.installThreadHooks();
      s.removeHooks = hooks.removeThreadHooks;
    } else {
      const started = loaded.startMonitoring(config, logger);
      s.handle = started.handle;
      s.removeHooks = started.removeHooks;
    }
    if (!inThread) logger.debug(`agent ${s.handle.agentId} started (environment ${config.environment})`);
  } catch (err) {
    try {
      createLogger(false).warn(`could not start: ${(err as Error)?.message ?? String(err)}`);
    } catch {
      // nothing left to do
    }
  }
}

/**
 * Reports an error (or any thrown value) with optional context. Returns the event id, or '' when
 * the agent is off, the event was sampled out, or it repeats an error over its rate limit (counted).
 */
export function captureException(error: unknown, context?: Record<string, unknown>): string {
  try {
    return apiAgent() ? loadRuntime().reportError(error, 'manual', context) : '';
  } catch {
    return '';
  }
}

/** Adds keys to the context of events: the current request's when inside one, else global. */
export function setContext(context: Record<string, unknown>): void {
  try {
    if (apiAgent()) loadRuntime().setContext(context);
  } catch {
    // never throw into the app
  }
}

/** Sets the user of events: the current request's when inside one, else global. `null` clears it. */
export function setUser(user: UserInfo | null): void {
  try {
    if (apiAgent()) loadRuntime().setUser(user);
  } catch {
    // never throw into the app
  }
}

/** Waits until queued events are sent. Resolves true when everything went out within the timeout (default 2000 ms). */
export async function flush(timeoutMs = 2000): Promise<boolean> {
  try {
    const handle = activeAgent();
    if (!handle) return true;
    return await handle.flush(validTimeout(timeoutMs));
  } catch {
    return false;
  }
}

/** Flushes (default timeout 2000 ms), then stops the agent. Safe to call more than once. */
export async function shutdown(timeoutMs = 2000): Promise<void> {
  try {
    const s = getAgentState();
    if (!s || s.stopped) return;
    s.stopped = true;
    s.removeHooks?.();
    await s.handle?.shutdown(validTimeout(timeoutMs));
  } catch {
    // never throw into the app
  }
}

function validTimeout(ms: unknown): number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 60_000) : 2000;
}
