/**
 * The preload: `node --require aivory-monitor/register` or `--import aivory-monitor/register`.
 * Starts the agent from AIVORY_* once per process, on the main thread only (never in the app's
 * worker threads, nor on the loader-hooks thread). Child processes that inherit NODE_OPTIONS run
 * it too and get their own agent.
 */
import { GLOBAL_KEYS } from './shared/defaults';

const started = globalThis as unknown as Record<symbol, boolean | undefined>;

if (onMainThread() && !started[GLOBAL_KEYS.started]) {
  started[GLOBAL_KEYS.started] = true;
  // Required here, not imported at the top: threads that skip the agent load nothing else.
  (require('./index') as typeof import('./index')).init();
}

/**
 * Whether this is the process's main thread. Every worker thread (the app's and Node's loader-hooks
 * thread) has node:worker_threads loaded before any preload runs; the main thread usually has not,
 * and then is known without loading it (with the streams it pulls in, ~4 ms of every process that
 * inherits the preload, most of which never start our worker).
 */
function onMainThread(): boolean {
  const loaded = (process as unknown as { moduleLoadList?: unknown }).moduleLoadList;
  if (Array.isArray(loaded) && !loaded.includes('NativeModule worker_threads')) return true;
  const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads') & { isInternalThread?: boolean };
  return workerThreads.isMainThread && workerThreads.isInternalThread !== true;
}
