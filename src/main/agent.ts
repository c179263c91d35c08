import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { AgentConfig } from '../shared/config';
import type { Logger } from '../shared/log';
import { createAgentId } from '../shared/ids';
import { ATTACH, SHARED, type CapturedError, type LoopDelayMonitor, type MainToWorker, type WorkerData, type WorkerToMain } from '../shared/messages';
import { DEFAULTS, GLOBAL_KEYS } from '../shared/defaults';
import { AGENT_VERSION } from '../shared/version';
import { PACKAGE_ROOT } from '../shared/package-root';
import { workerEnv } from './worker-env';
import { installContextReader } from './context/store';
import { noteThrownThisTurn } from './instrument/grpc';
import { noteThrownInRequest } from './instrument/http-5xx';
import { installHitPoster } from './capture/breakpoint-hits';
import { loopDelayResolution, startLoopDelayMonitor } from './loop-delay';

/** What a locals capture tells about the object being thrown (during its exception pause). */
function noteThrown(thrown: object, thrownInApp: boolean): void {
  noteThrownInRequest(thrown, thrownInApp);
  noteThrownThisTurn(thrown);
}

// True while the agent's own worker is being constructed (Node publishes it as a new thread).
let constructingAgentWorker = false;

/** Whether the thread being started now is the agent's own worker, not one of the app's. */
export function isAgentWorkerStarting(): boolean {
  return constructingAgentWorker;
}

/** The main thread's handle on the running agent worker. */
export interface AgentHandle {
  readonly agentId: string;
  readonly config: AgentConfig;
  /** Whether the worker's inspector is attached (locals can be captured). Read synchronously. */
  inspectorReady(): boolean;
  /** Whether exception pauses are off now because their budget is spent. */
  budgetSpent(): boolean;
  /** Whether the app runs its own inspector (then the agent's session stays detached). */
  userInspector(): boolean;
  /** Current sampling rate (the backend may change it live). */
  samplingRate(): number;
  /**
   * `repeatKey`: the error's rate-limit key (report.ts). The main thread's agent passes it on with
   * an event without locals once the app started worker threads (a thread may have them: see
   * worker/index.ts), a worker thread's agent with a crash (thread-agent.ts).
   */
  send(event: CapturedError, repeatKey?: string): void;
  /** The app started a worker thread (the agent's inspector attaches to it for exception locals). */
  threadStarted(): void;
  flush(timeoutMs: number): Promise<boolean>;
  shutdown(timeoutMs: number): Promise<void>;
  /**
   * The process dies now without Node's 'exit' event (a handler of an uncaught exception threw:
   * Node prints that and ends with code 7): deliver what is pending, as at exit. The main thread's
   * agent only (a worker thread's crash goes to the main thread's agent at once, thread-agent.ts).
   */
  exitNow?(): void;
}

/**
 * Starts the agent worker. The worker is unref'd: it never keeps the app alive. On process exit the
 * main thread waits (bounded by exitFlushTimeoutMs) for pending events and for the inspector to detach.
 */
export function startAgent(config: AgentConfig, logger: Logger): AgentHandle {
  const agentId = createAgentId();
  const shared = new SharedArrayBuffer(SHARED.length * 4);
  const flags = new Int32Array(shared);
  const data: WorkerData = { config, shared, agentVersion: AGENT_VERSION, agentId, entry: process.argv[1], userInspector: false };
  const pending = new Map<number, (ok: boolean) => void>();
  let nextRequest = 1;
  let alive = true;
  let samplingRate = config.samplingRate;
  let eventsPosted = false;
  let eventsSent = 0;
  /** The app started a worker thread since the agent started (threadStarted). */
  let threadsStarted = false;

  let worker: Worker | undefined;
  let loopDelay: ReturnType<typeof startLoopDelayMonitor>;

  /** Whether the app runs its own debugger (`--inspect`, or `inspector.open()` since). */
  const appDebugger = (): boolean => {
    if (Atomics.load(flags, SHARED.userInspector) === 1) return true;
    if (!hasUserInspector()) return false;
    Atomics.store(flags, SHARED.userInspector, 1);
    return true;
  };

  /**
   * (Re)starts the event-loop delay monitor for a blocked-loop threshold (0: none), the previous
   * one stopped; the app's own debugger stops the loop at its breakpoints, which is not a blocked loop.
   */
  const switchLoopDelay = (thresholdMs: number): LoopDelayMonitor | undefined => {
    loopDelay?.disable();
    loopDelay = thresholdMs > 0 && !appDebugger() ? startLoopDelayMonitor(thresholdMs) : undefined;
    return loopDelay ? { histogram: loopDelay, resolutionMs: loopDelayResolution(thresholdMs) } : undefined;
  };

  const cleanup = (reason: string): void => {
    if (!alive) return;
    alive = false;
    clearTimeout(startTimer);
    loopDelay?.disable();
    logger.debug(`agent worker stopped: ${reason}`);
    for (const resolve of pending.values()) resolve(false);
    pending.clear();
    process.removeListener('exit', onExit);
  };

  /**
   * The worker starts once the app's first synchronous run is over (an unref'd timer), or at once
   * when something must go to it first (a crash during start-up). A short-lived process (`node -e`,
   * a CLI that inherits NODE_OPTIONS) then never pays for booting it, and a service's own start-up
   * does not share the CPU with it.
   */
  const ensureWorker = (): Worker | undefined => {
    if (worker || !alive) return worker;
    clearTimeout(startTimer);
    // Before the worker starts: it looks these up once, when its inspector session is ready.
    (require('./serialize/serializer') as typeof import('./serialize/serializer')).installSerializer(config, noteThrown);
    installContextReader();
    installHitPoster((json) => {
      if (worker) post({ kind: 'breakpoint_hit', json });
    });
    // Loaded here: with the streams it needs, it is milliseconds of start-up a process that never
    // starts the worker (one that ends within its first turn) should not pay.
    const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
    // Asked now rather than at start-up for the same reason (node:inspector loads streams and
    // worker_threads); the app's flags are the same, and an inspector opened since is seen too.
    data.userInspector = appDebugger();
    data.heapSnapshotsNearLimit = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) => arg.startsWith('--heapsnapshot-near-heap-limit'));
    data.loopDelay = switchLoopDelay(config.eventLoopBlockedMs);
    let w: Worker;
    constructingAgentWorker = true;
    try {
      w = new Worker(join(PACKAGE_ROOT, 'dist', 'worker', 'index.js'), {
        workerData: data,
        execArgv: [],
        env: workerEnv(process.env),
        stdout: false,
        stderr: false,
        name: 'aivory-monitor',
      });
    } finally {
      constructingAgentWorker = false;
    }
    w.on('message', (msg: WorkerToMain) => {
      if (msg.kind === 'flushed') {
        const resolve = pending.get(msg.requestId);
        pending.delete(msg.requestId);
        resolve?.(msg.ok);
      } else if (msg.kind === 'configure') {
        if (typeof msg.samplingRate === 'number') samplingRate = msg.samplingRate;
        if (typeof msg.debug === 'boolean') logger.setDebug(msg.debug);
        if (typeof msg.eventLoopBlockedMs === 'number') {
          const thresholdMs = msg.eventLoopBlockedMs;
          post({ kind: 'loop_delay', thresholdMs, monitor: switchLoopDelay(thresholdMs), userInspector: appDebugger() });
        }
      }
    });
    w.on('error', (err) => cleanup(`error ${err instanceof Error ? err.message : String(err)}`));
    w.on('messageerror', () => logger.debug('agent worker sent a message that could not be read'));
    w.on('exit', (code) => cleanup(`exit ${code}`));
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
    worker = w;
    return w;
  };
  const esmPreload = (globalThis as unknown as Record<symbol, unknown>)[GLOBAL_KEYS.esmPreload] === true;
  const startTimer = setTimeout(ensureWorker, esmPreload ? DEFAULTS.workerStartDelayEsmMs : 0);
  startTimer.unref();

  const post = (msg: MainToWorker): boolean => {
    try {
      const w = ensureWorker();
      if (!w) return false;
      w.postMessage(msg);
      return true;
    } catch (err) {
      logger.debug(`could not post to the agent worker: ${(err as Error).message}`);
      return false;
    }
  };

  const request = (kind: 'flush' | 'shutdown', timeoutMs: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const requestId = nextRequest++;
      const timer = setTimeout(() => {
        pending.delete(requestId);
        resolve(false);
      }, timeoutMs + 100);
      // Deliberately ref'd: an app that awaits flush() at its end must live until it resolves.
      pending.set(requestId, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      if (!post({ kind, requestId, timeoutMs })) {
        pending.delete(requestId);
        clearTimeout(timer);
        resolve(false);
      }
    });

  // At exit (normal, process.exit() or a crash) the worker delivers what is pending and detaches
  // its inspector session; without the detach Node prints "Waiting for the debugger to disconnect...".
  function onExit(): void {
    if (!alive) return;
    // Nothing to deliver and no session attached (or ever to be): exit at once instead of waiting
    // for a worker that may still be booting. This keeps short-lived processes (npm scripts, CLIs
    // that inherit NODE_OPTIONS) as fast as without the agent.
    if (!eventsPosted && Atomics.compareExchange(flags, SHARED.attach, ATTACH.undecided, ATTACH.exiting) === ATTACH.undecided) return;
    Atomics.store(flags, SHARED.exitDone, 0);
    if (post({ kind: 'exit', timeoutMs: config.exitFlushTimeoutMs })) {
      Atomics.wait(flags, SHARED.exitDone, 0, config.exitFlushTimeoutMs + 250);
    }
  }
  process.on('exit', onExit);

  return {
    agentId,
    config,
    inspectorReady: () => Atomics.load(flags, SHARED.inspectorReady) === 1,
    budgetSpent: () => Atomics.load(flags, SHARED.budgetSpent) === 1,
    samplingRate: () => samplingRate,
    // The app may open its own inspector at any time (inspector.open()): noticed here, the worker
    // detaches its session at its next pause and leaves the debugger to the app.
    userInspector: appDebugger,
    send(event, repeatKey) {
      // A worker that is not keeping up (or stuck) must not grow the app's memory: bound what is in flight.
      // Int32 arithmetic on both sides, so the difference stays right when the counters wrap.
      if (((eventsSent - Atomics.load(flags, SHARED.received)) | 0) >= DEFAULTS.maxEventsInFlight) {
        Atomics.add(flags, SHARED.mainDropped, 1);
        return;
      }
      if (threadsStarted && repeatKey !== undefined && event.snapshot === undefined) event.repeatKey = repeatKey;
      if (post({ kind: 'exception', event })) {
        eventsPosted = true;
        eventsSent = (eventsSent + 1) | 0;
      }
    },
    threadStarted() {
      threadsStarted = true;
      // Only to a worker already running: one that starts later attaches to every thread there is then.
      if (worker) post({ kind: 'thread_started' });
    },
    flush: (timeoutMs) => request('flush', timeoutMs),
    exitNow() {
      process.removeListener('exit', onExit);
      onExit();
    },
    async shutdown(timeoutMs) {
      // A worker that never started has nothing to deliver: no reason to boot it now.
      if (worker) await request('shutdown', timeoutMs);
      cleanup('shutdown');
      await worker?.terminate().catch(() => undefined);
    },
  };
}

let inspectorModule: typeof import('node:inspector') | undefined;

/** The app's own inspector is open (`--inspect`, `inspector.open()`); our worker session opens no port. */
function hasUserInspector(): boolean {
  try {
    // Loaded lazily: a Node built without the inspector throws here, and the agent still runs.
    inspectorModule ??= require('node:inspector') as typeof import('node:inspector');
    return typeof inspectorModule.url() === 'string';
  } catch {
    return false;
  }
}
