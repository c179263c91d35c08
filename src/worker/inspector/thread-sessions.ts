/**
 * Exception locals and breakpoints in the app's worker threads. The agent's session on the main
 * thread can attach to the threads the app starts, those of its threads too (the inspector's
 * NodeWorker domain): each attached thread gets a session of its own over it (worker-channels.ts), with the same
 * exception capture as the main thread (pause on throws, the app frames' locals put on the thrown
 * object by the serializer, resume; its own pause budget), and the armed session is handed on for
 * breakpoints (`onArmed`). The thread's agent then finds the locals on the error it reports, as on
 * the main thread. In the deferred modes the threads are armed for breakpoints only until
 * exception locals are wanted, and detached again when nothing needs their debuggers.
 *
 * The serializer must be in the thread first: the preload left an installer on the thread's
 * global (threads/thread-hooks.ts), which this calls once the thread's debugger is on; a thread
 * without it (the preload did not run there) is detached again. Node tells an attached session
 * about a thread the main thread started later only when the session next sends something, so the
 * main thread reports each new thread (`threadStarted`) and the session asks again; of a thread
 * that another thread started, it tells at once.
 */
import { threadId } from 'node:worker_threads';
import type { Runtime } from 'node:inspector';
import type { AgentConfig } from '../../shared/config';
import { GLOBAL_KEYS } from '../../shared/defaults';
import type { Logger } from '../../shared/log';
import { SHARED, type CaptureLimits, type LocalsSnapshot } from '../../shared/messages';
import { startExceptionCapture, type ExceptionCapture } from './exception-pauses';
import { sessionOver, type InspectorSession, type PauseHandler, type PausedEvent } from './session';
import { workerChannels, type WorkerChannel } from './worker-channels';

export interface ThreadSessions {
  /** The main thread started a worker thread: attach to it. */
  threadStarted(): void;
  /**
   * The locals a thread captured for a recent error with this rate-limit key, and the thread's id;
   * undefined when no thread has them (asked of every armed thread, at most LOOKUP_TIMEOUT_MS).
   */
  localsOf(error: ErrorIdentity): Promise<{ snapshot: LocalsSnapshot; threadId: number } | undefined>;
  /**
   * Why an event of this thread that came without locals has none: its pause budget was spent
   * ('budget'), or it is attached but not armed yet, or ended before it was ('not_ready': threads
   * that start in the next minute are then armed at once); undefined when neither is known.
   */
  missingLocals(threadId: number): 'budget' | 'not_ready' | undefined;
  /** The threads armed now, with their sessions (what `onArmed` was told and not yet told is gone). */
  armed(): Array<[threadId: number, session: InspectorSession]>;
  /** From now on, also exception locals in the threads (the deferred modes' first error). */
  armExceptionLocals(): void;
  /** Detaches from every thread (before the main session disconnects). */
  stop(): void;
  /**
   * Detaches from every thread while the agent goes on (the deferred modes: nothing needs the
   * threads' debuggers any longer); `onArmed` hears that each armed thread is gone.
   */
  detach(): void;
  /** Attaches to the threads again after detach(). */
  attachAgain(): void;
}

export interface ThreadSessionsOptions {
  /** Exception locals in each thread; without, the threads are armed for breakpoints only. */
  exceptionLocals: boolean;
  /** A thread's session was armed (its debugger on, its serializer there), or it is gone (undefined). */
  onArmed?: (threadId: number, session: InspectorSession | undefined) => void;
  /** What reports a thread's heap at its limit (its pause handler, made once the thread is armed). */
  heapLimit?: (session: InspectorSession, threadId: number) => PauseHandler;
  /**
   * Whether a thread that starts now is armed at once instead of after ARM_AFTER_MS: while some
   * breakpoint is set, so that a thread that lives less than that (one per task) runs into it too.
   */
  armAtOnce?: () => boolean;
}

/** How a thread recognises an error it captured: its type, message and rate-limit key (report.ts). */
export interface ErrorIdentity {
  type: string;
  message: string;
  key: string;
}

interface AttachedToWorker {
  sessionId: string;
  workerInfo: { workerId: string; title?: string; url?: string };
}

/** One attached thread: its channel, session and capture. */
interface ThreadState {
  channel: WorkerChannel;
  session?: InspectorSession;
  capture?: ExceptionCapture;
  /** The thread's id (from its title). */
  threadId: number;
  /** Its session was handed to `onArmed`. */
  armed: boolean;
  /** Reports the thread's heap at its limit, once armed. */
  heapLimit?: PauseHandler;
  /** Its exception capture's flags (the pause budget's), once armed for exception locals. */
  flags?: Int32Array;
  /** The thread cannot have locals (the preload did not run there, or its agent is off). */
  withoutLocals?: boolean;
}

/**
 * Threads with exception locals at once. Each costs the agent's worker a session (its scripts, its
 * pause budget) and the thread a debugger; an app that starts threads without end (one per task)
 * gets locals in the first ones alive at a time.
 */
const MAX_THREADS = 32;

/**
 * How long after attaching (which happens as a thread starts) its debugger is switched on. A
 * debugger on while a thread boots and loads its modules adds about 40 ms to each thread's start
 * (`npm run bench -- --only thread-start-bp`); attached but without it, nothing measurable
 * (`--only thread-start`). A thread that ends sooner (one per short task) never pays for it, unless
 * a breakpoint is set when it starts (`armAtOnce`): the breakpoint is what the user asked for, and
 * worth that then (switching the debugger on costs a thread about as much whenever it happens:
 * armed a second later, it stops the thread for 30-50 ms); or a thread failed before its locals
 * were armed (below).
 */
const ARM_AFTER_MS = 1000;

/**
 * Once a thread's error came before its exception locals were armed (it failed in its first
 * second, as a thread started per task does), threads that start in the next minute are armed at
 * once, one a second at most: the next such failure gets its locals, for a thread start's cost
 * (~40 ms, ~30 ms of CPU) a second at most. Each such error extends the minute.
 */
const EARLY_ERRORS_WINDOW_MS = 60_000;
const EARLY_ARM_EVERY_MS = 1000;
/** Threads that ended before they were armed, remembered this long (their events come a little later). */
const ENDED_UNARMED_MS = 10_000;
const MAX_ENDED_UNARMED = 64;

/** Waits before asking a thread again whether its preload installed what locals need. */
const PREPARE_RETRIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2000];

/** Longest an event waits for the threads' answer to whether they captured its locals. */
const LOOKUP_TIMEOUT_MS = 250;

export function startThreadSessions(main: InspectorSession, config: AgentConfig, logger: Logger, limits: CaptureLimits, options: ThreadSessionsOptions): ThreadSessions {
  const threads = new Map<string, ThreadState>();
  const onArmed = options.onArmed ?? (() => undefined);
  let exceptionLocals = options.exceptionLocals;
  /** The agent stops: its threads did not end, nothing is told. */
  let stopped = false;
  /** Between detach() and attachAgain(): nothing needs the threads' debuggers. */
  let detached = false;
  const off = (): boolean => stopped || detached;

  const enable = (): void => {
    if (off()) return;
    main.post('NodeWorker.enable', { waitForDebuggerOnStart: false }).catch((err: Error) => logger.debug(`NodeWorker.enable: ${err?.message}`));
  };

  const channels = workerChannels(main, logger);

  /**
   * Whether the thread's serializer is installed: the thread's preload code installs it when asked
   * ('pending' until then); 'missing' when the thread has no such code (no preload there), 'off'
   * when its agent is off.
   */
  const prepareThread = async (session: InspectorSession): Promise<'ready' | 'pending' | 'off' | 'missing'> => {
    const key = GLOBAL_KEYS.threadLocals.description ?? '';
    const r = await session.post<Runtime.EvaluateReturnType>('Runtime.evaluate', {
      expression: `(() => { const prepare = globalThis[Symbol.for(${JSON.stringify(key)})]; return typeof prepare === 'function' ? prepare() : 'missing'; })()`,
      silent: true,
      returnByValue: true,
    });
    const answer: unknown = r.result.value;
    return answer === 'ready' || answer === 'pending' || answer === 'off' ? answer : 'missing';
  };

  // Early errors (EARLY_ERRORS_WINDOW_MS): until when threads are armed at once, and when one last was.
  let earlyUntil = 0;
  let lastEarlyArm = -Infinity;
  const endedUnarmed = new Map<number, number>();

  const earlyArm = (): boolean => {
    const now = Date.now();
    if (!exceptionLocals || now >= earlyUntil || now - lastEarlyArm < EARLY_ARM_EVERY_MS) return false;
    lastEarlyArm = now;
    return true;
  };

  const attach = async (t: ThreadState, title: string): Promise<void> => {
    // Attached, the thread pays nothing yet; its debugger is switched on once it is past its start.
    const atOnce = options.armAtOnce?.() === true ? 'a breakpoint is set' : earlyArm() ? 'a thread failed before its locals were armed' : undefined;
    if (atOnce === undefined) await new Promise((resolve) => setTimeout(resolve, ARM_AFTER_MS).unref());
    if (t.channel.closed || off()) return;
    if (atOnce !== undefined) logger.debug(`${title}: armed at once, as ${atOnce}`);
    const session = sessionOver(t.channel, logger);
    t.session = session;
    session.addPauseHandler((ev) => (ev.reason === 'OOM' ? handOverHeapLimit(t, session, ev, title) : false));
    await session.setDebuggerEnabled(true);
    // A thread is attached as soon as it exists, usually before its preload ran: asked again a few
    // times, for about 4 s.
    let state = await prepareThread(session);
    for (let i = 0; (state === 'pending' || state === 'missing') && i < PREPARE_RETRIES_MS.length && !t.channel.closed && !off(); i++) {
      await new Promise((resolve) => setTimeout(resolve, PREPARE_RETRIES_MS[i]).unref());
      if (!t.channel.closed && !off()) state = await prepareThread(session);
    }
    if (t.channel.closed || off()) return;
    if (state !== 'ready') {
      t.withoutLocals = true;
      logger.debug(`${title}: ${state === 'off' ? "the thread's agent is off" : "the agent's preload did not run in this thread"}; its errors are reported without locals`);
      session.disconnect();
      return;
    }
    if (exceptionLocals) await armCapture(t, title);
    else logger.debug(`${title}: armed for breakpoints`);
    if (t.channel.closed || off()) return;
    t.heapLimit = options.heapLimit?.(session, t.threadId);
    // Breakpoints are set there too (the thread's hit taker came with its serializer).
    t.armed = true;
    onArmed(t.threadId, session);
  };

  /**
   * The thread's heap at its limit. Node ends a thread whose heap is full (ERR_WORKER_OUT_OF_MEMORY
   * on its Worker, the process goes on) from a callback V8 calls near the limit; while a debugger
   * is on in the thread, V8 calls the inspector's instead, which pauses the thread (this pause) and
   * then lets the heap run out: the whole process would die of it. So, once the heap is reported,
   * the thread's debugger goes off, which gives the limit back to Node, and the thread is detached.
   */
  const handOverHeapLimit = async (t: ThreadState, session: InspectorSession, ev: PausedEvent, title: string): Promise<boolean> => {
    try {
      if (t.heapLimit) await t.heapLimit(ev);
    } catch (err) {
      logger.debug(`${title}: heap-limit report failed: ${(err as Error)?.message}`);
    }
    logger.debug(`${title}: its heap is at its limit: detached, so that Node ends the thread as without the agent`);
    await session.setDebuggerEnabled(false).catch(() => false);
    t.channel.disconnect();
    return true;
  };

  const armCapture = async (t: ThreadState, title: string): Promise<void> => {
    const session = t.session;
    if (!session || t.capture) return;
    // Flags of the thread's own (the pause budget's state is not the main thread's).
    const flags = new Int32Array(new SharedArrayBuffer(SHARED.length * 4));
    const capture = await startExceptionCapture({ session, config, logger, flags, limits });
    if (t.channel.closed || off()) {
      capture.stop();
      return;
    }
    t.capture = capture;
    t.flags = flags;
    logger.debug(`${title}: exception locals armed`);
  };

  main.onNotification('NodeWorker.attachedToWorker', (params) => {
    const { sessionId, workerInfo } = params as AttachedToWorker;
    if (threads.has(sessionId)) return;
    // The thread's id is in its title (`workerId` is the inspector's own numbering). The agent's
    // own thread is a worker of the main thread too: never paused, never attached.
    const id = /^\[worker (\d+)\]/.exec(workerInfo.title ?? '')?.[1];
    if (stopped) return;
    if (detached || id === undefined || id === String(threadId) || threads.size >= MAX_THREADS) {
      if (threads.size >= MAX_THREADS && id !== undefined) logger.debug(`worker thread ${id}: ${MAX_THREADS} threads have exception locals already; its errors are reported without them`);
      main.post('NodeWorker.detach', { sessionId }).catch(() => undefined);
      return;
    }
    const t: ThreadState = { channel: channels.open(sessionId), threadId: Number(id), armed: false };
    threads.set(sessionId, t);
    t.channel.onClose(() => {
      threads.delete(sessionId);
      // A thread that ended before it was armed (not one detached on purpose, nor one that cannot be).
      if (t.capture === undefined && exceptionLocals && !stopped && !detached && !t.withoutLocals) {
        if (endedUnarmed.size >= MAX_ENDED_UNARMED) endedUnarmed.delete(endedUnarmed.keys().next().value as number);
        endedUnarmed.set(t.threadId, Date.now());
      }
      t.capture?.stop();
      if (t.armed && !stopped) onArmed(t.threadId, undefined);
    });
    const title = `worker thread ${id}`;
    attach(t, title).catch((err: Error) => {
      logger.debug(`${title}: exception locals unavailable: ${err?.message}`);
      t.session?.disconnect();
    });
  });

  const localsIn = async (t: ThreadState, error: ErrorIdentity): Promise<LocalsSnapshot | undefined> => {
    const session = t.session;
    if (!session || !t.capture || t.channel.closed) return undefined;
    const lookupKey = GLOBAL_KEYS.threadLocalsOf.description ?? '';
    const r = await session.post<Runtime.EvaluateReturnType>('Runtime.evaluate', {
      expression: `(() => { const of = globalThis[Symbol.for(${JSON.stringify(lookupKey)})]; return typeof of === 'function' ? of(${JSON.stringify(error.type)}, ${JSON.stringify(error.message)}, ${JSON.stringify(error.key)}) : undefined; })()`,
      silent: true,
      returnByValue: true,
    });
    const value = r.result.value as Partial<LocalsSnapshot> | undefined;
    return value && Array.isArray(value.frames) ? (value as LocalsSnapshot) : undefined;
  };

  const localsOf = (error: ErrorIdentity): Promise<{ snapshot: LocalsSnapshot; threadId: number } | undefined> => {
    const armed = [...threads.values()].filter((t) => t.capture && !t.channel.closed);
    if (armed.length === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let left = armed.length;
      const timer = setTimeout(() => resolve(undefined), LOOKUP_TIMEOUT_MS);
      timer.unref();
      const done = (found: { snapshot: LocalsSnapshot; threadId: number } | undefined): void => {
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else if (--left === 0) {
          clearTimeout(timer);
          resolve(undefined);
        }
      };
      for (const t of armed) {
        localsIn(t, error).then(
          (snapshot) => done(snapshot ? { snapshot, threadId: t.threadId } : undefined),
          () => done(undefined),
        );
      }
    });
  };

  enable();
  return {
    threadStarted: enable,
    localsOf,
    armed() {
      const out: Array<[number, InspectorSession]> = [];
      for (const t of threads.values()) if (t.armed && t.session && !t.channel.closed) out.push([t.threadId, t.session]);
      return out;
    },
    missingLocals(id) {
      if (off() || !exceptionLocals) return undefined;
      for (const t of threads.values()) {
        if (t.threadId !== id || t.channel.closed) continue;
        if (t.capture) return t.flags && Atomics.load(t.flags, SHARED.budgetSpent) === 1 ? 'budget' : undefined;
        earlyUntil = Date.now() + EARLY_ERRORS_WINDOW_MS;
        return 'not_ready';
      }
      const ended = endedUnarmed.get(id);
      if (ended === undefined || Date.now() - ended > ENDED_UNARMED_MS) return undefined;
      earlyUntil = Date.now() + EARLY_ERRORS_WINDOW_MS;
      return 'not_ready';
    },
    armExceptionLocals() {
      if (exceptionLocals) return;
      exceptionLocals = true;
      for (const t of threads.values()) {
        if (t.armed) armCapture(t, `worker thread ${t.threadId}`).catch((err: Error) => logger.debug(`worker thread ${t.threadId}: exception locals unavailable: ${err?.message}`));
      }
    },
    stop() {
      stopped = true;
      channels.closeAll('stopped');
    },
    detach() {
      if (off()) return;
      detached = true;
      if (threads.size > 0) logger.debug(`detached from ${threads.size} worker thread(s): their debuggers are off`);
      for (const t of [...threads.values()]) t.channel.disconnect();
      main.post('NodeWorker.disable').catch(() => undefined);
    },
    attachAgain() {
      if (!detached || stopped) return;
      detached = false;
      enable();
    },
  };
}
