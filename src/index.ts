/**
 * aivory-monitor public API. Every function is safe to call with anything and never throws.
 * Without an API key the agent is off and every call is a cheap no-op.
 */
import { activeAgent, getAgentState, setAgentState, type AgentState } from './main/state';
import { copyOptions, resolveConfig, sameOptions, type InitOptions } from './shared/config';
import { createLogger } from './shared/log';
import type { UserInfo } from './shared/protocol';

export type { InitOptions } from './shared/config';
export type { UserInfo } from './shared/protocol';

type Runtime = typeof import('./main/start');
let runtime: Runtime | undefined;

/**
 * The enabled agent's code, loaded on first need: without a key the preload costs only the config.
 * Also reached when another copy of this package started the shared agent.
 */
function loadRuntime(): Runtime {
  return (runtime ??= require('./main/start') as Runtime);
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
    for (const w of warnings) logger.warn(w);
    const s: AgentState = { options: opts, config, logger, stopped: false };
    setAgentState(s);
    if (!config.enabled) {
      if (!warnings.some((w) => w.includes('monitoring is off'))) logger.warn('AIVORY_API_KEY is not set; monitoring is off');
      return;
    }
    const started = loadRuntime().startMonitoring(config, logger);
    s.handle = started.handle;
    s.removeHooks = started.removeHooks;
    logger.debug(`agent ${s.handle.agentId} started (environment ${config.environment})`);
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
    return activeAgent() ? loadRuntime().reportError(error, 'manual', context) : '';
  } catch {
    return '';
  }
}

/** Adds keys to the context of events: the current request's when inside one, else global. */
export function setContext(context: Record<string, unknown>): void {
  try {
    if (activeAgent()) loadRuntime().setContext(context);
  } catch {
    // never throw into the app
  }
}

/** Sets the user of events: the current request's when inside one, else global. `null` clears it. */
export function setUser(user: UserInfo | null): void {
  try {
    if (activeAgent()) loadRuntime().setUser(user);
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
