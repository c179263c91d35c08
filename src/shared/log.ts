import { writeSync } from 'node:fs';

/** One-line diagnostics on stderr, written synchronously so they survive a crash and work from the worker. */
export interface Logger {
  /** A real problem the user should know about; always printed. */
  warn(message: string): void;
  /** Printed only with AIVORY_DEBUG. A no-op function otherwise. */
  debug(message: string): void;
  readonly debugEnabled: boolean;
  /** Turns debug lines on or off (the backend's `configure` may change it live). */
  setDebug(enabled: boolean): void;
}

const PREFIX = '[aivory-monitor] ';

/**
 * Control characters other than newlines (NUL, ESC of terminal sequences, U+2028...), escaped: lines
 * can carry text from the backend (breakpoint ids, paths, error messages), and it must not be able
 * to forge lines or drive the terminal.
 */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
const escapeControl = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

function writeLine(message: string): void {
  try {
    writeSync(2, PREFIX + message.replace(/\r?\n/g, ' ').replace(CONTROL, escapeControl) + '\n');
  } catch {
    // stderr closed: nothing sensible left to do.
  }
}

const noop = (): void => {};

const writeDebug = (m: string): void => writeLine('debug: ' + m);

export function createLogger(debugEnabled: boolean): Logger {
  const logger = {
    warn: writeLine,
    debug: debugEnabled ? writeDebug : noop,
    debugEnabled,
    setDebug(enabled: boolean) {
      logger.debugEnabled = enabled;
      logger.debug = enabled ? writeDebug : noop;
    },
  };
  return logger;
}

/** A logger whose lines begin with `prefix: ` (what they are about), writing through `logger`. */
export function prefixedLogger(logger: Logger, prefix: string): Logger {
  return {
    warn: (m) => logger.warn(`${prefix}: ${m}`),
    debug: (m) => {
      if (logger.debugEnabled) logger.debug(`${prefix}: ${m}`);
    },
    get debugEnabled() {
      return logger.debugEnabled;
    },
    setDebug: (enabled) => logger.setDebug(enabled),
  };
}

/** A URL safe to print: no credentials, no query string. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
