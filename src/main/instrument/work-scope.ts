import { reportError } from '../capture/report';
import { requestStorage, type RequestScope } from '../context/store';
import { isObject } from './error-status';

/**
 * Scopes of background work: a job's attempt (BullMQ, Bull), a scheduled task's run (node-cron,
 * cron). Such work runs from a library's timers, in whatever scope scheduled it (usually none),
 * so `setUser` in it would set the user of every later event. The source hook appends a statement
 * that enters a fresh scope right before the library calls the app's function, and one that
 * restores the library's own scope right after it returns: what the function started keeps the
 * work's scope, the library's own code does not.
 */

/** What `enterWork` returns, held by the library's code between the two statements. */
export interface WorkEntry {
  scope: RequestScope;
  previous: RequestScope | undefined;
  open: boolean;
}

/** Work (a job, an execution) -> the scope its function ran in, for its failure, reported after. */
const scopes = new WeakMap<object, RequestScope>();

/** Enters a new scope carrying `context`, for the work `key` when its failure is reported by key. */
export function enterWork(context: Record<string, unknown>, key?: object): WorkEntry {
  const entry: WorkEntry = { scope: { context }, previous: requestStorage.getStore(), open: true };
  if (key !== undefined) scopes.set(key, entry.scope);
  requestStorage.enterWith(entry.scope);
  return entry;
}

export function isWorkEntry(v: unknown): v is WorkEntry {
  return isObject(v) && typeof (v as { open?: unknown }).open === 'boolean' && isObject((v as { scope?: unknown }).scope);
}

/** The work's function has returned (or thrown): back to the scope the library had. Once only. */
export function leaveWork(entry: unknown): void {
  if (!isWorkEntry(entry) || !entry.open) return;
  entry.open = false;
  // `previous` may be undefined (no scope), which enterWith takes.
  requestStorage.enterWith(entry.previous as RequestScope);
}

/** The scope the work `key`'s function ran in, if it had one. */
export function scopeOfWork(key: unknown): RequestScope | undefined {
  return isObject(key) ? scopes.get(key) : undefined;
}

/** Reports `error` in the scope of the work it came from (none: in the current one). */
export function reportInScope(scope: RequestScope | undefined, error: unknown, mechanism: string, extra: Record<string, unknown>): void {
  if (scope === undefined) reportError(error, mechanism, extra);
  else requestStorage.run(scope, reportError, error, mechanism, extra);
}

const globalRef = (key: symbol): string => `globalThis[Symbol.for(${JSON.stringify(key.description)})]`;

/** The statements one library's rewrite adds, and the functions they call (published on global keys of its own). */
export interface WorkStatements {
  /**
   * Declares `variable` (`let`, or `var` where a catch outside the block must see it) and enters
   * the work's scope: the published `enter` is called with `args`.
   */
  enter(variable: string, args: string, declare?: 'let' | 'var'): string;
  /** Leaves the scope entered into `variable`. */
  leave(variable: string): string;
  /** What to publish (publishGlobals) while the rewritten files may run. */
  globals(enter: (...args: never[]) => WorkEntry | undefined): Array<[symbol, unknown]>;
}

export function workStatements(name: string): WorkStatements {
  const enterKey = Symbol.for(`aivory-monitor.${name}-enter`);
  const leaveKey = Symbol.for(`aivory-monitor.${name}-leave`);
  return {
    enter: (variable, args, declare = 'let') => `${declare} ${variable};try{${variable}=${globalRef(enterKey)}?.(${args})}catch{}`,
    leave: (variable) => `try{${globalRef(leaveKey)}?.(${variable})}catch{}`,
    globals: (enter) => [
      [enterKey, enter],
      [leaveKey, leaveWork],
    ],
  };
}
