/**
 * What the preload does in one of the app's worker threads: only the process hooks (crashes,
 * unhandled rejections), with a reporter that starts the thread's agent (threads/thread-agent.ts,
 * from AIVORY_*) when the first error comes, and what the agent's worker calls to prepare the
 * thread for exception locals once it attached to it. Starting a thread loads one small file more,
 * not the agent: pools start their threads at the app's start-up, some apps one per task.
 */
import { GLOBAL_KEYS } from '../../shared/defaults';
import { installProcessHooks } from '../capture/process-hooks';
import { publishGlobal } from '../globals';
import { activeAgent, getAgentState } from '../state';

const REMOVE = GLOBAL_KEYS.threadHooks;
const registry = globalThis as unknown as Record<symbol, (() => void) | undefined>;

// The package's entry and the thread's part of the runtime: the same files the app's own
// require('aivory-monitor') loads, so they share one agent state.
function startAgent(): void {
  if (getAgentState() === undefined) (require('../../index') as typeof import('../../index')).init();
}

function reportFromHook(error: unknown, mechanism: string): void {
  startAgent();
  (require('../thread') as typeof import('../thread')).reportError(error, mechanism);
}

let prepared: 'pending' | 'ready' | 'off' = 'pending';
let preparing = false;

/**
 * Called by the agent's worker, through the inspector, once it attached to this thread: the
 * thread's agent and its serializer, so that the thread's errors get their locals. The work runs
 * as a microtask, not inside the inspector's call, which may come in the middle of the thread's
 * own code; the worker asks again until the answer is 'ready' (or 'off': no key, or a failure).
 * Never throws.
 */
function prepareLocals(): 'pending' | 'ready' | 'off' {
  if (!preparing) {
    preparing = true;
    queueMicrotask(() => {
      try {
        startAgent();
        const agent = activeAgent();
        if (agent === undefined) prepared = 'off';
        else {
          (require('../thread') as typeof import('../thread')).installThreadSerializer(agent.config);
          prepared = 'ready';
        }
      } catch {
        prepared = 'off';
      }
    });
  }
  return prepared;
}

/** Installs the hooks once per thread (the preload, and init() in a thread where it did not run). */
export function installThreadHooks(): void {
  if (registry[REMOVE] !== undefined) return;
  registry[REMOVE] = installProcessHooks(reportFromHook);
  publishGlobal(GLOBAL_KEYS.threadLocals, prepareLocals);
  sayInstalled();
}

export function removeThreadHooks(): void {
  const remove = registry[REMOVE];
  registry[REMOVE] = undefined;
  remove?.();
  delete (globalThis as unknown as Record<symbol, unknown>)[GLOBAL_KEYS.threadLocals];
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
