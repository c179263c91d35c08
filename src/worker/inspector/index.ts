/**
 * The worker's inspector: one session on the app's main thread, exception capture armed on it.
 * Breakpoints add their pause handler to the same session (`ready` resolves to it).
 */
import type { AgentConfig } from '../../shared/config';
import type { Logger } from '../../shared/log';
import { ATTACH, SHARED, type CaptureLimits } from '../../shared/messages';
import { startExceptionCapture, type ExceptionCapture } from './exception-pauses';
import { openSession, type InspectorSession } from './session';

export interface AgentInspector {
  /**
   * Resolves when the agent may register: once exception locals are armed (the session, or
   * undefined when it could not be opened or stop() came first), at once when locals are off.
   */
  readonly ready: Promise<InspectorSession | undefined>;
  /** The session for breakpoints: the armed one, or (deferred) one opened on first use. */
  session(): Promise<InspectorSession | undefined>;
  /** An error was reported: with AIVORY_LOCALS_AFTER_FIRST_ERROR, the first one attaches the debugger. */
  errorReported(): void;
  /** The session if one is open now. */
  current(): InspectorSession | undefined;
  /** Stops exception pauses and detaches, synchronously. Must run before the app's process exits. */
  stop(): void;
}

export interface AgentInspectorOptions {
  config: AgentConfig;
  logger: Logger;
  /** Int32Array over WorkerData.shared. */
  flags: Int32Array;
  /** WorkerData.userInspector: the app runs its own inspector. */
  userInspector: boolean;
  /** Shared, mutable capture limits (changed live by the backend's `configure`). */
  limits?: CaptureLimits;
}

export function startAgentInspector(opts: AgentInspectorOptions): AgentInspector {
  const { config, logger, flags } = opts;
  if (opts.userInspector) Atomics.store(flags, SHARED.userInspector, 1);
  const userInspector = (): boolean => Atomics.load(flags, SHARED.userInspector) === 1;
  let stopped = false;
  const abort = new AbortController();
  let session: InspectorSession | undefined;
  let capture: ExceptionCapture | undefined;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    Atomics.store(flags, SHARED.inspectorReady, 0);
    capture?.stop();
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

  const open = async (withLocals: boolean): Promise<InspectorSession | undefined> => {
    // The app's own inspector (--inspect): the debugger is the app's; no locals, no breakpoints.
    if (userInspector()) {
      logger.debug('the app runs its own inspector: exception locals and breakpoints are off');
      stopped = true;
      return undefined;
    }
    if (stopped) return undefined;
    const startedAt = performance.now();
    try {
      const mayConnect = (): boolean => Atomics.compareExchange(flags, SHARED.attach, ATTACH.undecided, ATTACH.worker) === ATTACH.undecided;
      const s = await openSession(logger, { resumeUnclaimed, signal: abort.signal, mayConnect });
      session = s;
      const openedAt = performance.now();
      if (stopped) {
        s.disconnect();
        return undefined;
      }
      if (!withLocals) {
        logger.debug(`inspector attached for breakpoints in ${Math.round(performance.now() - startedAt)} ms`);
        return s;
      }
      const c = await startExceptionCapture({ session: s, config, logger, flags, limits: opts.limits });
      capture = c;
      if (stopped) {
        c.stop();
        s.disconnect();
        return undefined;
      }
      Atomics.store(flags, SHARED.inspectorReady, 1);
      logger.debug(`inspector attached in ${Math.round(performance.now() - startedAt)} ms (session and Debugger.enable ${Math.round(openedAt - startedAt)} ms); exception locals armed`);
      return s;
    } catch (err) {
      logger.debug(`inspector unavailable: ${(err as Error)?.message}`);
      session?.disconnect();
      return undefined;
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
    let lazy: Promise<InspectorSession | undefined> | undefined;
    const openLazily = (): Promise<InspectorSession | undefined> => (lazy ??= open(!localsOff));
    return {
      ready: Promise.resolve(undefined),
      session: openLazily,
      errorReported: () => {
        if (!localsOff) void openLazily();
      },
      current: () => session,
      stop,
    };
  }
  const ready = open(true);
  return { ready, session: () => ready, errorReported: () => undefined, current: () => session, stop };
}
