/**
 * What the preload does in one of the app's worker threads: only the process hooks (crashes,
 * unhandled rejections), with a reporter that starts the thread's agent (threads/thread-agent.ts,
 * from AIVORY_*) when the first error comes. A thread that never fails loads two small files, not
 * the agent: pools start their threads at the app's start-up, some apps one per task.
 */
import { installProcessHooks } from '../capture/process-hooks';
import { getAgentState } from '../state';

const REMOVE = Symbol.for('aivory-monitor.thread-hooks');
const registry = globalThis as unknown as Record<symbol, (() => void) | undefined>;

function reportFromHook(error: unknown, mechanism: string): void {
  // The package's entry and the thread's part of the runtime: the same files the app's own
  // require('aivory-monitor') loads, so they share one agent state.
  if (getAgentState() === undefined) (require('../../index') as typeof import('../../index')).init();
  (require('../thread') as typeof import('../thread')).reportError(error, mechanism);
}

/** Installs the hooks once per thread (the preload, and init() in a thread where it did not run). */
export function installThreadHooks(): void {
  if (registry[REMOVE] !== undefined) return;
  registry[REMOVE] = installProcessHooks(reportFromHook);
  sayInstalled();
}

export function removeThreadHooks(): void {
  const remove = registry[REMOVE];
  registry[REMOVE] = undefined;
  remove?.();
}

/** With AIVORY_DEBUG (from the environment; .env is read with the first error). */
function sayInstalled(): void {
  if (process.env.AIVORY_DEBUG === undefined) return;
  try {
    const { parseBooleanSetting } = require('../../shared/config') as typeof import('../../shared/config');
    if (parseBooleanSetting(process.env.AIVORY_DEBUG) !== true) return;
    const { createLogger } = require('../../shared/log') as typeof import('../../shared/log');
    createLogger(true).debug("this worker thread reports through the main thread's agent");
  } catch {
    // nothing to say then
  }
}
