/**
 * An uncaught exception that something will catch after Node's crash monitor has seen it: a
 * framework's domain (restify's `handleUncaughtExceptions`). Node runs 'uncaughtExceptionMonitor'
 * before a domain's handler, so the monitor alone would report an error the app survives, and
 * answers, as a crash. A framework's instrumentation registers a taker here; when it takes the
 * error (returns true), it reports it itself, as the framework answers it.
 */
export type UncaughtTaker = (error: unknown) => boolean;

let taker: UncaughtTaker | undefined;

export function setUncaughtTaker(next: UncaughtTaker | undefined): void {
  taker = next;
}

/** Whether a framework's instrumentation took `error` over from the crash monitor. */
export function takenOver(error: unknown): boolean {
  if (taker === undefined) return false;
  try {
    return taker(error);
  } catch {
    return false;
  }
}
