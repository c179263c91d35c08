import type { Logger } from '../../shared/log';
import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { publishGlobals } from '../globals';
import { handOffStatement, type SourceInstrumentation } from './source-hook';

/**
 * The `cron` package (CronJob) 3 and 4. What a job's `onTick` throws or rejects with is caught in
 * `CronJob.prototype.fireOnTick` and handed to the job's `errorHandler`, or printed with
 * `console.error`: nothing crashes, no hook sees it. `fireOnTick` calls the app's `onTick` itself,
 * so wrapping it would add a frame to every tick's stack; the in-thread load hook (source-hook.ts,
 * Node 22.22.3+, 24.11.1+, 26) instead appends one statement to each line where `fireOnTick`
 * catches (`catch (error) {`, and `result.catch(error => {` for a rejected promise), before the
 * `errorHandler` test that follows it. The error is reported as `cron`, with the job's name and
 * its cron expression. Older Node: not reported.
 */

const ERROR_KEY = Symbol.for('aivory-monitor.cron-error');
const MAX_TEXT = 200;

/** A catch in fireOnTick: the line that opens it, then the errorHandler test that follows. */
const CATCH = /((?:\.catch\(|\bcatch \()([\w$]+)\)?(?: =>)? \{)(\s*if \(this\.errorHandler != null\))/g;

export function rewriteJob(source: string): string | undefined {
  let count = 0;
  const out = source.replace(CATCH, (_all: string, open: string, error: string, next: string) => {
    count++;
    return open + handOffStatement(ERROR_KEY, `${error}, this`) + next;
  });
  return count > 0 ? out : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v.slice(0, MAX_TEXT) : undefined;
}

function onTickError(error: unknown, job: unknown): void {
  try {
    const cron: Record<string, string> = {};
    const name = text(ownData(job, 'name'));
    if (name !== undefined) cron.task = name;
    const expression = text(ownData(ownData(job, 'cronTime'), 'source'));
    if (expression !== undefined) cron.expression = expression;
    reportError(error, 'cron', { cron });
  } catch {
    // never disturb the job
  }
}

let log: Logger | undefined;
let version = '';

export const cronJobInstrumentation: SourceInstrumentation = {
  name: 'cron',
  package: 'cron',
  versions: '>=3.0.0 <5.0.0',
  formats: new Set(['commonjs']),
  withoutHook: "errors of CronJob ticks are not reported (Node 22.22.3+, 24.11.1+ and 26+ report them)",
  fileOf: (url) => /\/node_modules\/cron\/dist\/(job)\.js$/.exec(url)?.[1],
  expected: () => new Set(['job']),
  rewrite(_file, url, source) {
    const out = rewriteJob(source);
    if (out === undefined) log?.debug(`cron ${version}: ${url} is not laid out as expected; left as it is (errors of its ticks are not reported)`);
    else log?.debug(`instrumented cron ${version} (${url})`);
    return out;
  },
  install(installed: string, logger: Logger) {
    log = logger;
    version = installed;
    return publishGlobals([[ERROR_KEY, onTickError]]);
  },
};
