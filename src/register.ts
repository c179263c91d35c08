/**
 * The preload: `node --require aivory-monitor/register` or `--import aivory-monitor/register`.
 * Starts the agent from AIVORY_* once per process, on the main thread only (never in the app's
 * worker threads, nor on the loader-hooks thread).
 */
import workerThreads from 'node:worker_threads';
import { GLOBAL_KEYS } from './shared/defaults';
import { init } from './index';

const started = globalThis as unknown as Record<symbol, boolean | undefined>;
const internal = (workerThreads as unknown as { isInternalThread?: boolean }).isInternalThread === true;

if (workerThreads.isMainThread && !internal && !started[GLOBAL_KEYS.started]) {
  started[GLOBAL_KEYS.started] = true;
  init();
}
