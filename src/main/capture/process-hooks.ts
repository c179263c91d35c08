import { types } from 'node:util';
import { reportError } from './report';

const NOTHING = Symbol('nothing');

/**
 * Node hands the monitor an ERR_UNHANDLED_REJECTION error instead of a reason that is not
 * error-like (a primitive, an object without own `stack`), while emit gets the reason itself.
 */
function isRejectionWrapper(error: unknown): boolean {
  if (error === null || typeof error !== 'object' || types.isProxy(error)) return false;
  try {
    const d = Object.getOwnPropertyDescriptor(error, 'code');
    return d !== undefined && 'value' in d && d.value === 'ERR_UNHANDLED_REJECTION';
  } catch {
    return false;
  }
}

/** The monitor's error and emit's reason belong to one rejection (Node calls both back to back). */
function sameRejection(monitorError: unknown, reason: unknown): boolean {
  return monitorError === reason || isRejectionWrapper(monitorError);
}

/**
 * Reports crashes and unhandled rejections without changing what Node does with them.
 *
 * - Uncaught exceptions, and rejections in the `throw` (default) and `strict` modes, reach
 *   'uncaughtExceptionMonitor', which observes without handling.
 * - In the `warn`, `none` and `warn-with-error-code` modes Node never calls the monitor. It does
 *   call `process.emit('unhandledRejection', reason, promise)` in every mode, and uses the result
 *   (were there listeners?) to decide what to do next. So `process.emit` is wrapped: the wrapper
 *   reports, then calls the original with the same `this` and arguments and returns its result.
 *
 * Adding 'uncaughtException' or 'unhandledRejection' listeners is exactly what must not happen:
 * their mere presence changes whether the process dies (throw, warn-with-error-code) and whether
 * Node prints the warning.
 * A rejection seen by both (throw mode: emit, then the monitor; strict: the monitor, then emit when
 * the app survives it) is reported once.
 */
export function installProcessHooks(): () => void {
  let fromMonitor: unknown = NOTHING;
  let fromEmit: unknown = NOTHING;

  const onMonitor = (error: unknown, origin: string): void => {
    if (origin === 'unhandledRejection') {
      if (fromEmit !== NOTHING && sameRejection(error, fromEmit)) {
        fromEmit = NOTHING;
        return;
      }
      fromEmit = NOTHING;
      fromMonitor = error;
      reportError(error, 'unhandled_rejection');
      return;
    }
    reportError(error, 'uncaught');
  };
  process.on('uncaughtExceptionMonitor', onMonitor);

  const original = process.emit;
  let active = true;
  const emit = function emit(this: unknown, type: string | symbol, ...args: unknown[]): boolean {
    if (type === 'unhandledRejection' && active) {
      try {
        const reason = args[0];
        if (fromMonitor !== NOTHING && sameRejection(fromMonitor, reason)) fromMonitor = NOTHING;
        else {
          fromMonitor = NOTHING;
          fromEmit = reason;
          reportError(reason, 'unhandled_rejection');
        }
      } catch {
        // never into the app
      }
    }
    // eslint-disable-next-line prefer-rest-params
    return Reflect.apply(original, this, arguments) as boolean;
  } as typeof process.emit;
  process.emit = emit;

  return () => {
    process.removeListener('uncaughtExceptionMonitor', onMonitor);
    active = false;
    // Someone may have wrapped emit after us: then ours stays in their chain as a pass-through.
    if (process.emit === emit) process.emit = original;
  };
}
