import { types } from 'node:util';

const NOTHING = Symbol('nothing');

/**
 * The `--unhandled-rejections` mode of this process: NODE_OPTIONS first, then the command line
 * (which wins), the last occurrence winning. Node's default since 15 is `throw`.
 */
export function unhandledRejectionsMode(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string {
  const args = [...nodeOptions.split(/\s+/).filter(Boolean), ...execArgv];
  let mode = 'throw';
  for (let i = 0; i < args.length; i++) {
    const m = /^--unhandled-rejections(?:=(.*))?$/.exec(args[i]);
    if (!m) continue;
    const value = m[1] ?? args[i + 1];
    if (value) mode = value;
  }
  return mode;
}

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

/**
 * Reports crashes and unhandled rejections without changing what Node does with them.
 *
 * - Uncaught exceptions, and fatal rejections (`throw` mode without listeners, `strict`), reach
 *   'uncaughtExceptionMonitor', which observes without handling.
 * - Other unhandled rejections (`warn`, `none`, `warn-with-error-code`, or `throw` when the app
 *   listens for 'unhandledRejection') never reach the monitor. Node does call
 *   `process.emit('unhandledRejection', reason, promise)` in every mode and acts on its result,
 *   so `process.emit` is wrapped: the wrapper reports, then calls the original with the same `this`
 *   and arguments and returns its result unchanged.
 *
 * Adding 'uncaughtException' or 'unhandledRejection' listeners is exactly what must not happen:
 * their mere presence changes whether the process dies and whether Node prints its warning.
 * The wrapper leaves fatal `throw`-mode rejections to the monitor: reading `error.stack` before
 * Node builds its crash message would make Node print an internal source line above the error.
 * In `strict` mode an app that survives the crash (own 'uncaughtException' listener) gets both
 * calls, monitor first: the rejection is reported once. An app's 'uncaughtException' listener that
 * throws ends the process at once (Node prints that error, exit code 7) without the 'exit' event
 * at which the agent delivers what is pending: the wrapper sees that throw, for the error the
 * monitor just saw, and calls `onDying` first. `reportError` is given (report.ts's on the
 * main thread; one that loads the agent first in a worker thread, see threads/thread-hooks.ts), so
 * that this module loads nothing else.
 */
export function installProcessHooks(reportError: (error: unknown, mechanism: 'uncaught' | 'unhandled_rejection') => void, onDying?: () => void): () => void {
  const mode = unhandledRejectionsMode();
  let fromMonitor: unknown = NOTHING;
  // The uncaught exception Node is handling now: its 'uncaughtException' emit comes right after the monitor.
  let uncaught: unknown = NOTHING;

  const onMonitor = (error: unknown, origin: string): void => {
    if (origin === 'unhandledRejection') {
      fromMonitor = error;
      reportError(error, 'unhandled_rejection');
      return;
    }
    uncaught = error;
    reportError(error, 'uncaught');
  };
  process.on('uncaughtExceptionMonitor', onMonitor);

  const original = process.emit;
  let active = true;
  const emit = function emit(this: unknown, type: string | symbol) {
    if (type === 'unhandledRejection' && active) {
      try {
        const reason: unknown = arguments[1];
        if (fromMonitor !== NOTHING && (reason === fromMonitor || isRejectionWrapper(fromMonitor))) fromMonitor = NOTHING;
        else if (!(mode === 'throw' && process.listenerCount('unhandledRejection') === 0)) reportError(reason, 'unhandled_rejection');
      } catch {
        // never into the app
      }
    }
    if (type !== 'uncaughtException' || uncaught === NOTHING || onDying === undefined || arguments[1] !== uncaught) return Reflect.apply(original, this, arguments) as boolean;
    uncaught = NOTHING;
    // finally, not catch and throw: a rethrow would make Node print this line above the error.
    let returned = false;
    try {
      const result = Reflect.apply(original, this, arguments) as boolean;
      returned = true;
      return result;
    } finally {
      if (!returned) {
        try {
          onDying();
        } catch {
          // the app's error goes on as it was
        }
      }
    }
  } as typeof process.emit;
  // The bundler may rename the function: the app sees Node's name (and length). `process` has no
  // `emit` of its own (it inherits EventEmitter's): ours is not enumerable, so that
  // Object.keys(process) stays as it was.
  Object.defineProperty(emit, 'name', { value: original.name, configurable: true });
  const hadOwn = Object.prototype.hasOwnProperty.call(process, 'emit');
  if (hadOwn) process.emit = emit;
  else Object.defineProperty(process, 'emit', { value: emit, writable: true, configurable: true, enumerable: false });

  return () => {
    process.removeListener('uncaughtExceptionMonitor', onMonitor);
    active = false;
    // Someone may have wrapped emit after us: then ours stays in their chain as a pass-through.
    if (process.emit !== emit) return;
    if (hadOwn) process.emit = original;
    else delete (process as { emit?: unknown }).emit;
  };
}
