import { writeSync } from 'node:fs';

/** One-line diagnostics on stderr, written synchronously so they survive a crash and work from the worker. */
export interface Logger {
  /** A real problem the user should know about; always printed. */
  warn(message: string): void;
  /** Printed only with AIVORY_DEBUG. A no-op function otherwise. */
  debug(message: string): void;
  readonly debugEnabled: boolean;
}

const PREFIX = '[aivory-monitor] ';

function writeLine(message: string): void {
  try {
    writeSync(2, PREFIX + message.replace(/\r?\n/g, ' ') + '\n');
  } catch {
    // stderr closed: nothing sensible left to do.
  }
}

const noop = (): void => {};

export function createLogger(debugEnabled: boolean): Logger {
  return {
    warn: writeLine,
    debug: debugEnabled ? (m: string) => writeLine('debug: ' + m) : noop,
    debugEnabled,
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
