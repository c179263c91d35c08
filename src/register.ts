/**
 * The preload: `node --require aivory-monitor/register` or `--import aivory-monitor/register`.
 * Starts the agent from AIVORY_* once per process, on the main thread only (never in the app's
 * worker threads, nor on the loader-hooks thread). Child processes that inherit NODE_OPTIONS run
 * it too and get their own agent.
 */
import workerThreads from 'node:worker_threads';
import { GLOBAL_KEYS } from './shared/defaults';

// Default import: the named `isInternalThread` export is a SyntaxError on Node 20 under --import.
const internal = (workerThreads as unknown as { isInternalThread?: boolean }).isInternalThread === true;
const started = globalThis as unknown as Record<symbol, boolean | undefined>;

if (workerThreads.isMainThread && !internal && !started[GLOBAL_KEYS.started]) {
  started[GLOBAL_KEYS.started] = true;
  // Required here, not imported at the top: threads that skip the agent load nothing else.
  (require('./index') as typeof import('./index')).init();
}
