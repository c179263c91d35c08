import type { Logger } from '../../shared/log';
import { ownData } from '../context/request-info';
import { publishGlobals } from '../globals';
import { handOffStatement, replaceOnce, type SourceInstrumentation } from './source-hook';
import { enterWork, isWorkEntry, leaveWork, reportInScope, workStatements, type WorkEntry } from './work-scope';

/**
 * The `cron` package (CronJob) 3 and 4. What a job's `onTick` throws or rejects with is caught in
 * `CronJob.prototype.fireOnTick` and handed to the job's `errorHandler`, or printed with
 * `console.error`: nothing crashes, no hook sees it. `fireOnTick` calls the app's `onTick` itself,
 * so wrapping it would add a frame to every tick's stack; the in-thread load hook (source-hook.ts,
 * Node 22.22.3+, 24.11.1+, 26) instead appends one statement to each line where `fireOnTick`
 * catches (`catch (error) {`, and `result.catch(error => {` for a rejected promise), before the
 * `errorHandler` test that follows it. The error is reported as `cron`, with the job's name and
 * its cron expression. Older Node: not reported.
 *
 * Each call of a callback also gets its own scope (work-scope.ts): entered at the end of the line
 * `for (const callback of this._callbacks) {`, left at the end of the next, which calls it. A
 * callback that throws skips that: the catch's statement reports in the scope and then leaves it.
 * The scope is kept in a `var` (the catch is outside the loop's block) and in a `const` (each
 * rejection handler must see its own callback's scope).
 */

const ERROR_KEY = Symbol.for('aivory-monitor.cron-error');
const TICK_SCOPE = workStatements('cron-tick');
const MAX_TEXT = 200;

/** A catch in fireOnTick: the line that opens it, then the errorHandler test that follows. */
const CATCH = /((?:\.catch\(|\bcatch \()([\w$]+)\)?(?: =>)? \{)(\s*if \(this\.errorHandler != null\))/g;

/** The loop over the job's callbacks and its next line, the call. */
const CALL = /(\n[ \t]*for \(const ([\w$]+) of this\._callbacks\) \{)(\n[ \t]*const [\w$]+ = \2\.call\(this\.context, this\.onComplete\);)/g;

/** cron's job.js with its callbacks' errors reported and, where its layout allows, each call scoped (`scoped`). */
export function rewriteJob(source: string): { source: string; scoped: boolean } | undefined {
  const scoped = replaceOnce(source, CALL, (m) => `${m[1]}${TICK_SCOPE.enter('$aivoryCronTick', 'this', 'var')}const $aivoryCronThisTick=$aivoryCronTick;${m[3]}${TICK_SCOPE.leave('$aivoryCronTick')}`);
  // A rejection handler runs later: it takes its own callback's scope; the catch after the loop, the latest.
  const tickOf = (open: string): string => (scoped === undefined ? 'undefined' : open.startsWith('.catch') ? '$aivoryCronThisTick' : '$aivoryCronTick');
  let count = 0;
  const out = (scoped ?? source).replace(CATCH, (_all: string, open: string, error: string, next: string) => {
    count++;
    return open + handOffStatement(ERROR_KEY, `${error}, this, ${tickOf(open)}`) + next;
  });
  return count > 0 ? { source: out, scoped: scoped !== undefined } : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v.slice(0, MAX_TEXT) : undefined;
}

function describeJob(job: unknown): Record<string, string> {
  const cron: Record<string, string> = {};
  const name = text(ownData(job, 'name'));
  if (name !== undefined) cron.task = name;
  const expression = text(ownData(ownData(job, 'cronTime'), 'source'));
  if (expression !== undefined) cron.expression = expression;
  return cron;
}

/** Entered right before cron calls one of the job's callbacks (the statements hold the entry). */
function enterTick(job: unknown): WorkEntry {
  return enterWork({ cron: describeJob(job) });
}

/** A callback threw or rejected: reported in its call's scope; a throw left that scope open, which is closed now. */
function onTickError(error: unknown, job: unknown, tick: unknown): void {
  try {
    reportInScope(isWorkEntry(tick) ? tick.scope : undefined, error, 'cron', { cron: describeJob(job) });
  } catch {
    // never disturb the job
  }
  leaveWork(tick);
}

let log: Logger | undefined;
let version = '';

export const cronJobInstrumentation: SourceInstrumentation = {
  name: 'cron',
  package: 'cron',
  versions: '>=3.0.0 <5.0.0',
  formats: new Set(['commonjs']),
  withoutHook: "errors of CronJob ticks are not reported and ticks run without a scope of their own (Node 22.22.3+, 24.11.1+ and 26+ report them and scope each tick)",
  fileOf: (url) => /\/node_modules\/cron\/dist\/(job)\.js$/.exec(url)?.[1],
  expected: () => new Set(['job']),
  rewrite(_file, url, source) {
    const out = rewriteJob(source);
    if (out === undefined) log?.debug(`cron ${version}: ${url} is not laid out as expected; left as it is (errors of its ticks are not reported)`);
    else log?.debug(`instrumented cron ${version} (${url})${out.scoped ? '' : '; its ticks run without a scope of their own (the line that calls them is not laid out as expected)'}`);
    return out?.source;
  },
  install(installed: string, logger: Logger) {
    log = logger;
    version = installed;
    return publishGlobals([[ERROR_KEY, onTickError], ...TICK_SCOPE.globals(enterTick)]);
  },
};
