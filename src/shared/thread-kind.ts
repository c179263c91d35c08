/**
 * Which thread of the process this code runs on: the main thread (where the agent starts), one of
 * the app's worker threads (which report through it), or one of Node's own (the loader-hooks
 * thread of `module.register`), where the agent has no business.
 */
export type ThreadKind = 'main' | 'app' | 'internal';

type WorkerThreads = typeof import('node:worker_threads') & { isInternalThread?: boolean };

/**
 * Node 20 has no `isInternalThread`: its loader-hooks thread is the one whose `workerData` is null
 * and which runs under Node's ESM worker module (read from a stack, only then; an app's worker
 * given `workerData: null` pays that once).
 */
function onNode20HooksThread(workerThreads: WorkerThreads): boolean {
  if (workerThreads.isInternalThread !== undefined || workerThreads.workerData !== null) return false;
  const errorClass = Error as { stackTraceLimit: number; prepareStackTrace?: unknown };
  const limit = errorClass.stackTraceLimit;
  const prepare = errorClass.prepareStackTrace;
  try {
    errorClass.stackTraceLimit = 100;
    errorClass.prepareStackTrace = undefined;
    return /node:internal\/modules\/esm\/(?:worker|hooks)\b/.test(String(new Error().stack));
  } catch {
    return false;
  } finally {
    errorClass.stackTraceLimit = limit;
    errorClass.prepareStackTrace = prepare;
  }
}

/**
 * Every worker thread has node:worker_threads loaded before any preload runs; the main thread
 * usually has not, and then is known without loading it (with the streams it pulls in, ~4 ms of
 * every process that inherits the preload, most of which never start the agent's worker).
 */
export function threadKind(): ThreadKind {
  const loaded = (process as unknown as { moduleLoadList?: unknown }).moduleLoadList;
  if (Array.isArray(loaded) && !loaded.includes('NativeModule worker_threads')) return 'main';
  const workerThreads = require('node:worker_threads') as WorkerThreads;
  if (workerThreads.isInternalThread === true) return 'internal';
  if (workerThreads.isMainThread) return 'main';
  return onNode20HooksThread(workerThreads) ? 'internal' : 'app';
}
