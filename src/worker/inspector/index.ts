/**
 * The worker's inspector: one session on the app's main thread, exception capture armed on it.
 * Breakpoints add their pause handler to the same session (`ready` resolves to it).
 */
import type { AgentConfig } from '../../shared/config';
import type { Logger } from '../../shared/log';
import { ATTACH, SHARED, type CaptureLimits, type LocalsSnapshot } from '../../shared/messages';
import { captureLimits, startExceptionCapture, type ExceptionCapture } from './exception-pauses';
import { openSession, type InspectorSession, type PauseHandler } from './session';
import { startThreadSessions, type ErrorIdentity, type ThreadSessions } from './thread-sessions';

/** The session lent for one short job (its debugger on, or undefined), and how to give it back. */
export interface SessionLease {
  session: InspectorSession | undefined;
  release(): void;
}

export interface AgentInspector {
  /**
   * Resolves when the agent may register: once exception locals are armed (the session, or
   * undefined when it could not be opened or stop() came first), at once when locals are off.
   */
  readonly ready: Promise<InspectorSession | undefined>;
  /**
   * The session for breakpoints, its debugger on: the armed one, or (deferred modes) one opened or
   * switched on for them. Breakpoints call it before each change that needs the debugger.
   */
  session(): Promise<InspectorSession | undefined>;
  /** No breakpoint is left: in the deferred modes the debugger goes off again unless locals are armed. */
  breakpointsIdle(): void;
  /**
   * The session with its debugger on for one short job (a blocked-loop capture): in the deferred
   * modes it is switched on for it and may go off again after `release`, as after breakpoints.
   */
  borrow(forWhat: string): Promise<SessionLease>;
  /** An error was reported: with AIVORY_LOCALS_AFTER_FIRST_ERROR, the first one attaches the debugger. */
  errorReported(): void;
  /** The session if one is open now. */
  current(): InspectorSession | undefined;
  /** The app's main thread started a worker thread (exception locals there too, when armed). */
  threadStarted(): void;
  /** The app's worker threads armed now, with their sessions (those `onThread` was told of). */
  armedThreads(): Array<[threadId: number, session: InspectorSession]>;
  /** Why a worker thread's event came without locals, when the agent knows (thread-sessions.ts). */
  threadMissingLocals(threadId: number): 'budget' | 'not_ready' | undefined;
  /** Locals a worker thread captured for a recent error like this one (thread-sessions.ts). */
  threadLocalsOf(error: ErrorIdentity): Promise<{ snapshot: LocalsSnapshot; threadId: number } | undefined>;
  /** Stops exception pauses and detaches, synchronously. Must run before the app's process exits. */
  stop(): void;
}

/** How long nothing must need a deferred debugger (breakpoints, a borrowed session) before it goes off. */
const DEBUGGER_IDLE_MS = 2000;

export interface AgentInspectorOptions {
  config: AgentConfig;
  logger: Logger;
  /** Int32Array over WorkerData.shared. */
  flags: Int32Array;
  /** WorkerData.userInspector: the app runs its own inspector. */
  userInspector: boolean;
  /** Shared, mutable capture limits (changed live by the backend's `configure`). */
  limits?: CaptureLimits;
  /** Called with the session once it is open (to add pause handlers of other kinds). */
  onSession?: (s: InspectorSession) => void;
  /** A worker thread's session was armed (its debugger on), or the thread ended (undefined). */
  onThread?: (threadId: number, s: InspectorSession | undefined) => void;
  /** The pause handler that reports a worker thread's heap at its limit. */
  threadHeapLimit?: (s: InspectorSession, threadId: number) => PauseHandler;
  /** Whether some breakpoint is set (installed or pending): threads that start meanwhile are armed at once. */
  breakpointsLive?: () => boolean;
}

export function startAgentInspector(opts: AgentInspectorOptions): AgentInspector {
  const { config, logger, flags } = opts;
  if (opts.userInspector) Atomics.store(flags, SHARED.userInspector, 1);
  const userInspector = (): boolean => Atomics.load(flags, SHARED.userInspector) === 1;
  let stopped = false;
  const abort = new AbortController();
  let session: InspectorSession | undefined;
  let capture: ExceptionCapture | undefined;
  let threads: ThreadSessions | undefined;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    Atomics.store(flags, SHARED.inspectorReady, 0);
    capture?.stop();
    threads?.stop();
    // Also detaches a session still being opened (exit during start-up).
    abort.abort();
    session?.disconnect();
  };

  // A pause nobody claimed: a `debugger;` statement, or the app's own debugger at work. Without the
  // app's inspector we resume it (nobody else would). With it, we detach instead: V8 then resumes
  // only if no other session holds the pause, so the app's debugger keeps its pauses and a
  // `debugger;` with no client attached does not freeze the app.
  const resumeUnclaimed = (): boolean => {
    if (!userInspector()) return true;
    logger.debug('the app runs its own inspector: detaching the agent session');
    stop();
    return false;
  };

  const threadLimits = opts.limits ?? captureLimits(config);
  const threadOptions = { onArmed: opts.onThread, heapLimit: opts.threadHeapLimit, armAtOnce: opts.breakpointsLive };
  const threadStarted = (): void => threads?.threadStarted();
  const armedThreads = (): Array<[number, InspectorSession]> => threads?.armed() ?? [];
  const threadMissingLocals = (threadId: number): 'budget' | 'not_ready' | undefined => threads?.missingLocals(threadId);
  const threadLocalsOf = (error: ErrorIdentity): Promise<{ snapshot: LocalsSnapshot; threadId: number } | undefined> => threads?.localsOf(error) ?? Promise.resolve(undefined);

  /** Opens the session (debugger on). Undefined when it cannot be, or stop() came first. */
  const connect = async (): Promise<InspectorSession | undefined> => {
    // The app's own inspector (--inspect): the debugger is the app's; no locals, no breakpoints.
    if (userInspector()) {
      logger.debug('the app runs its own inspector: exception locals and breakpoints are off');
      stopped = true;
      return undefined;
    }
    if (stopped) return undefined;
    try {
      const mayConnect = (): boolean => Atomics.compareExchange(flags, SHARED.attach, ATTACH.undecided, ATTACH.worker) === ATTACH.undecided;
      const s = await openSession(logger, { resumeUnclaimed, signal: abort.signal, mayConnect });
      session = s;
      if (stopped) {
        s.disconnect();
        return undefined;
      }
      opts.onSession?.(s);
      return s;
    } catch (err) {
      logger.debug(`inspector unavailable: ${(err as Error)?.message}`);
      session?.disconnect();
      return undefined;
    }
  };

  /** Arms exception locals on an open session. False when that failed or stop() came first. */
  const arm = async (s: InspectorSession): Promise<boolean> => {
    try {
      const c = await startExceptionCapture({ session: s, config, logger, flags, limits: opts.limits });
      capture = c;
      if (stopped) {
        c.stop();
        return false;
      }
      Atomics.store(flags, SHARED.inspectorReady, 1);
      return true;
    } catch (err) {
      logger.debug(`exception locals unavailable: ${(err as Error)?.message}`);
      return false;
    }
  };

  // While a debugger is attached V8 runs every `await` and promise reaction on slower paths (an
  // express route awaiting 20 times per request keeps ~0.7 of its throughput). So with exception
  // locals off (AIVORY_MAX_PAUSES_PER_SECOND=0) no debugger attaches until a breakpoint needs one,
  // and with AIVORY_LOCALS_AFTER_FIRST_ERROR none until an error is reported or a breakpoint set:
  // an app that never throws pays nothing, and locals come from the next errors on.
  const localsOff = config.maxPausesPerSecond <= 0;
  if ((localsOff || config.localsAfterFirstError) && !opts.userInspector) {
    if (localsOff) {
      Atomics.store(flags, SHARED.budgetSpent, 1);
      Atomics.store(flags, SHARED.inspectorReady, 1);
    }
    logger.debug(localsOff ? 'exception locals are off: the debugger attaches only for a breakpoint' : 'the debugger attaches when the first error is reported (or a breakpoint is set)');
    return deferredInspector(localsOff);
  }
  const startedAt = performance.now();
  const ready = connect().then(async (s) => {
    if (!s) return undefined;
    const openedAt = performance.now();
    if (!(await arm(s))) {
      s.disconnect();
      return undefined;
    }
    logger.debug(`inspector attached in ${Math.round(performance.now() - startedAt)} ms (session and Debugger.enable ${Math.round(openedAt - startedAt)} ms); exception locals armed`);
    // The app's worker threads get exception locals too (in the deferred modes below, only while
    // the main thread's debugger is on for them or for breakpoints).
    if (!stopped) threads = startThreadSessions(s, config, logger, threadLimits, { exceptionLocals: true, ...threadOptions });
    return s;
  });
  const borrow = async (): Promise<SessionLease> => ({ session: await ready, release: () => undefined });
  return { ready, session: () => ready, breakpointsIdle: () => undefined, borrow, errorReported: () => undefined, current: () => session, threadStarted, armedThreads, threadMissingLocals, threadLocalsOf, stop };

  /**
   * The debugger only while something needs it: breakpoints (from the first set until none is left,
   * pending or installed) and, with AIVORY_LOCALS_AFTER_FIRST_ERROR, exception locals from the first
   * error reported on. When breakpoints were its only use, it goes off again once they are all gone
   * (after DEBUGGER_IDLE_MS, so that a breakpoint replaced by another does not switch it twice).
   */
  function deferredInspector(localsOff: boolean): AgentInspector {
    let opened: Promise<InspectorSession | undefined> | undefined;
    const open = (forWhat: string): Promise<InspectorSession | undefined> => {
      if (opened) return opened;
      const startedAt = performance.now();
      opened = connect().then((s) => {
        if (s) logger.debug(`inspector attached for ${forWhat} in ${Math.round(performance.now() - startedAt)} ms`);
        return s;
      });
      return opened;
    };
    let armed: Promise<boolean> | undefined;
    let localsArmed = false;
    let breakpointsNeedIt = false;

    /**
     * The app's worker threads, while the debugger is on for breakpoints or exception locals: the
     * same in each thread (attached to, and armed a second later, or at once while a breakpoint is set).
     */
    const threadsOn = (s: InspectorSession): void => {
      if (stopped) return;
      if (!threads) threads = startThreadSessions(s, config, logger, threadLimits, { exceptionLocals: localsArmed, ...threadOptions });
      else {
        threads.attachAgain();
        if (localsArmed) threads.armExceptionLocals();
      }
    };
    /** Short jobs (borrow) holding the debugger on. */
    let borrowed = 0;
    let idleTimer: NodeJS.Timeout | undefined;

    const switchOn = async (s: InspectorSession, forWhat: string): Promise<void> => {
      clearTimeout(idleTimer);
      const startedAt = performance.now();
      // Also waits for a change still in flight when the debugger is on already.
      if (await s.setDebuggerEnabled(true)) logger.debug(`debugger attached again for ${forWhat} in ${Math.round(performance.now() - startedAt)} ms`);
    };

    const goIdleSoon = (why: string): void => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        const s = session;
        if (breakpointsNeedIt || borrowed > 0 || armed || stopped || !s) return;
        threads?.detach();
        s.setDebuggerEnabled(false).then(
          (changed) => changed && logger.debug(`debugger detached: ${why} (code runs at full speed again)`),
          (err: unknown) => logger.debug(`Debugger.disable: ${(err as Error)?.message}`),
        );
      }, DEBUGGER_IDLE_MS);
      idleTimer.unref();
    };
    const breakpointsIdle = (): void => {
      breakpointsNeedIt = false;
      goIdleSoon('no breakpoint is left');
    };

    return {
      ready: Promise.resolve(undefined),
      async session() {
        breakpointsNeedIt = true;
        clearTimeout(idleTimer);
        const s = await open('breakpoints');
        if (s) {
          await switchOn(s, 'a breakpoint');
          threadsOn(s);
        }
        return s;
      },
      breakpointsIdle,
      async borrow(forWhat) {
        borrowed++;
        clearTimeout(idleTimer);
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          borrowed--;
          if (borrowed === 0 && !breakpointsNeedIt) goIdleSoon(`${forWhat} is captured`);
        };
        try {
          const s = await open(forWhat);
          if (s) await switchOn(s, forWhat);
          return { session: s, release };
        } catch (err) {
          release();
          throw err;
        }
      },
      errorReported() {
        if (localsOff || armed) return;
        armed = open('exception locals').then(async (s) => {
          if (!s) return false;
          await switchOn(s, 'exception locals');
          const ok = await arm(s);
          if (ok) {
            logger.debug('exception locals armed after the first error');
            localsArmed = true;
            threadsOn(s);
          }
          return ok;
        });
      },
      current: () => session,
      threadStarted,
      armedThreads,
      // Errors while locals are off say so, as the main thread's do.
      threadMissingLocals: (threadId) => (localsOff ? 'budget' : localsArmed ? threadMissingLocals(threadId) : 'not_ready'),
      threadLocalsOf,
      stop,
    };
  }
}
