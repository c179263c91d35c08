import type { Logger } from '../../shared/log';
import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { requestStorage, type RequestScope } from '../context/store';
import { publishGlobal } from '../globals';
import { isObject } from './error-status';
import type { SourceInstrumentation } from './source-hook';
import type { ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * BullMQ 5 and 6 workers. BullMQ catches what a job's processor throws or rejects with, records it
 * on the job (failed, or retried later) and tells only the worker's `failed` listeners: the error
 * is not a crash, and no request answers it. Node always loads BullMQ's CommonJS build (its
 * package has no `exports` map), also for ES module apps, so:
 *  - every failed attempt ends in `Job.prototype.moveToFailed(err, ...)` (the require hook wraps it;
 *    nothing of the app's runs below it): the error is reported as mechanism `bullmq` with the
 *    job (queue, name, id, attempt), in the job's own scope when it has one. This needs no
 *    exception pause, so failures past the pause budget are reported too (without locals).
 *  - each job runs in its own scope, as an HTTP request does: `setUser`/`setContext` in a
 *    processor stay in that job, and its events and breakpoint hits carry `context.bullmq`. The
 *    scope is entered and left inside `Worker.prototype.callProcessJob`, around its one call of
 *    the processor, by statements the in-thread load hook (source-hook.ts) adds at the end of its
 *    two lines: wrapping the method would add a frame to every processor's stack, which BullMQ
 *    stores with each failed job. Where Node cannot run that hook, processors run in whatever
 *    scope the worker was started in (usually none).
 */

const ENTER_KEY = Symbol.for('aivory-monitor.bullmq-enter');
const LEAVE_KEY = Symbol.for('aivory-monitor.bullmq-leave');
const MAX_TEXT = 200;

interface JobContext {
  queue?: string;
  job_name?: string;
  job_id?: string;
  attempt?: number;
  attempts?: number;
}

/** Job -> the scope its processor ran in, for the failure reported after the processor settled. */
const jobScopes = new WeakMap<object, RequestScope>();

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.slice(0, MAX_TEXT);
  return typeof v === 'number' ? String(v) : undefined;
}

/** What events say about a job: own data properties only (a job's `queueName` is a getter). */
export function describeJob(job: unknown): JobContext {
  const out: JobContext = {};
  const queue = text(ownData(ownData(job, 'queue'), 'name'));
  if (queue !== undefined) out.queue = queue;
  const name = text(ownData(job, 'name'));
  if (name !== undefined) out.job_name = name;
  const id = text(ownData(job, 'id'));
  if (id !== undefined) out.job_id = id;
  // attemptsMade counts the attempts that ended before this one.
  const made = ownData(job, 'attemptsMade');
  if (typeof made === 'number' && made >= 0) out.attempt = made + 1;
  const attempts = ownData(ownData(job, 'opts'), 'attempts');
  if (typeof attempts === 'number' && attempts > 0) out.attempts = attempts;
  return out;
}

/** Entered before the processor runs; returns what to restore after it returned. */
function enterJob(job: unknown): { previous: RequestScope | undefined } | undefined {
  if (!isObject(job)) return undefined;
  const previous = requestStorage.getStore();
  const scope: RequestScope = { context: { bullmq: describeJob(job) } };
  jobScopes.set(job, scope);
  requestStorage.enterWith(scope);
  return { previous };
}

/**
 * The processor has returned (its promise, for an async one): the worker's own code goes on in the
 * scope it had. What the processor started keeps the job's scope.
 */
function leaveJob(entered: unknown): void {
  // `previous` may be undefined (no scope), which enterWith takes.
  if (isObject(entered) && 'previous' in entered) requestStorage.enterWith((entered as { previous: RequestScope }).previous);
}

function reportFailure(job: unknown, error: unknown): void {
  try {
    const extra = { bullmq: describeJob(job) };
    const scope = isObject(job) ? jobScopes.get(job) : undefined;
    if (scope === undefined) reportError(error, 'bullmq', extra);
    else requestStorage.run(scope, reportError, error, 'bullmq', extra);
  } catch {
    // never disturb BullMQ's bookkeeping
  }
}

export const bullmqJobInstrumentation: ModuleInstrumentation = {
  name: 'BullMQ',
  module: 'bullmq/dist/cjs/classes/job',
  versions: '>=5.0.0 <7.0.0',
  patch(exports) {
    const Job = ownData(exports, 'Job');
    const proto = typeof Job === 'function' ? ownData(Job, 'prototype') : undefined;
    if (!isObject(proto)) return exports;
    // A method, as BullMQ's class method is: no `prototype` property.
    wrapMethod(proto, 'moveToFailed', (original) => ({
      moveToFailed(this: unknown, err: unknown): unknown {
        reportFailure(this, err);
        return Reflect.apply(original, this, arguments);
      },
    }).moveToFailed);
    return exports;
  },
  unpatch(exports) {
    const Job = ownData(exports, 'Job');
    const proto = typeof Job === 'function' ? ownData(Job, 'prototype') : undefined;
    if (isObject(proto)) unwrapMethod(proto, 'moveToFailed');
  },
};

/**
 * `callProcessJob(job, token[, signal]) {` + `return this.processFn(job, token[, signal]);`, as
 * BullMQ 5.0 to 6.x builds spell them (CommonJS and ES module).
 */
const CALL_PROCESS_JOB = /(\bcallProcessJob\(([\w$]+), ?[\w$]+(?:, ?[\w$]+)?\) ?\{)(\s*return this\.processFn\(\2\b[^;\n]*\);)/g;
const FILE = /\/node_modules\/bullmq\/dist\/(?:cjs|esm)\/classes\/(worker)\.js$/;

let log: Logger | undefined;
let version = '';

/** The two statements, each appended to the end of a line of BullMQ's, so that no line or column of its code moves. */
export function rewriteWorker(source: string): string | undefined {
  const matches = [...source.matchAll(CALL_PROCESS_JOB)];
  if (matches.length !== 1) return undefined;
  const m = matches[0] as RegExpExecArray;
  const enter = `let $aivoryJobScope;try{$aivoryJobScope=globalThis[Symbol.for(${JSON.stringify(ENTER_KEY.description)})]?.(${m[2]})}catch{}try{`;
  const leave = `}finally{try{globalThis[Symbol.for(${JSON.stringify(LEAVE_KEY.description)})]?.($aivoryJobScope)}catch{}}`;
  return source.slice(0, m.index) + m[1] + enter + m[3] + leave + source.slice(m.index + m[0].length);
}

export const bullmqScopeInstrumentation: SourceInstrumentation = {
  name: 'BullMQ',
  package: 'bullmq',
  versions: '>=5.0.0 <7.0.0',
  formats: new Set(['commonjs', 'module']),
  withoutHook:
    'failed jobs are reported, but processors run without a scope of their own: setUser/setContext in a processor are global (Node 22.22.3+, 24.11.1+ and 26+ give each job its scope)',
  fileOf: (url) => FILE.exec(url)?.[1],
  expected: () => new Set(['worker']),
  rewrite(_file, url, source) {
    const out = rewriteWorker(source);
    if (out === undefined) log?.debug(`BullMQ ${version}: ${url} is not laid out as expected; left as it is (its processors run without a scope of their own)`);
    else log?.debug(`instrumented BullMQ ${version} (${url})`);
    return out;
  },
  install(installed: string, logger: Logger) {
    log = logger;
    version = installed;
    publishGlobal(ENTER_KEY, enterJob);
    publishGlobal(LEAVE_KEY, leaveJob);
    return () => {
      const g = globalThis as Record<symbol, unknown>;
      delete g[ENTER_KEY];
      delete g[LEAVE_KEY];
    };
  },
};
