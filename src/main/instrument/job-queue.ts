import type { Logger } from '../../shared/log';
import { ownData } from '../context/request-info';
import { publishGlobals } from '../globals';
import { isObject } from './error-status';
import type { SourceInstrumentation } from './source-hook';
import type { ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';
import { enterWork, reportInScope, scopeOfWork, workStatements, type WorkEntry } from './work-scope';

/**
 * What BullMQ and Bull (bullmq.ts, bull.ts) share: both keep a failed attempt's error in
 * `Job.prototype.moveToFailed(err, ...)`, and both call the app's processor at one place, where
 * the source hook adds statements that give each job its own scope. Their jobs have the same shape.
 */

export type JobQueue = 'bullmq' | 'bull';

export interface JobContext {
  queue?: string;
  job_name?: string;
  job_id?: string;
  attempt?: number;
  attempts?: number;
}

const JOB_SCOPE = workStatements('job');
const MAX_TEXT = 200;

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.slice(0, MAX_TEXT);
  return typeof v === 'number' ? String(v) : undefined;
}

/** What events say about a job: own data properties only (a BullMQ job's `queueName` is a getter). */
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

function isJobQueue(v: unknown): v is JobQueue {
  return v === 'bullmq' || v === 'bull';
}

/** Entered just before the processor is called; LEAVE_STATEMENT restores the worker's scope once it has returned. */
function enterJob(job: unknown, queue: unknown): WorkEntry | undefined {
  if (!isObject(job) || !isJobQueue(queue)) return undefined;
  return enterWork({ [queue]: describeJob(job) }, job);
}

/** The statement appended to the line before the processor is called: `$aivoryJobScope` holds what LEAVE_STATEMENT restores. */
export function enterStatement(job: string, queue: JobQueue): string {
  return JOB_SCOPE.enter('$aivoryJobScope', `${job},${JSON.stringify(queue)}`);
}

export const LEAVE_STATEMENT = JOB_SCOPE.leave('$aivoryJobScope');

/**
 * The load hook's part (source-hook.ts): `rewrite` adds enterStatement and LEAVE_STATEMENT around
 * the processor's call in the one file `file` names (its first group is the file's key).
 */
export function jobScopeInstrumentation(spec: {
  name: string;
  package: string;
  versions: string;
  formats: readonly string[];
  file: RegExp;
  key: string;
  rewrite(source: string): string | undefined;
}): SourceInstrumentation {
  let log: Logger | undefined;
  let version = '';
  return {
    name: spec.name,
    package: spec.package,
    versions: spec.versions,
    formats: new Set(spec.formats),
    withoutHook:
      'failed jobs are reported, but processors run without a scope of their own: setUser/setContext in a processor are global (Node 22.22.3+, 24.11.1+ and 26+ give each job its scope)',
    fileOf: (url) => spec.file.exec(url)?.[1],
    expected: () => new Set([spec.key]),
    rewrite(_file, url, source) {
      const out = spec.rewrite(source);
      if (out === undefined) log?.debug(`${spec.name} ${version}: ${url} is not laid out as expected; left as it is (its processors run without a scope of their own)`);
      else log?.debug(`instrumented ${spec.name} ${version} (${url})`);
      return out;
    },
    install(installed: string, logger: Logger) {
      log = logger;
      version = installed;
      return publishGlobals(JOB_SCOPE.globals(enterJob));
    },
  };
}

function reportFailure(queue: JobQueue, job: unknown, error: unknown): void {
  try {
    reportInScope(scopeOfWork(job), error, queue, { [queue]: describeJob(job) });
  } catch {
    // never disturb the queue's bookkeeping
  }
}

/**
 * The require hook's patch of a job module: `moveToFailed(err, ...)` on the prototype of the
 * `Job` class `jobClassOf(exports)` finds reports `err` first. Nothing of the app's runs below it,
 * so the wrapper adds no frame to any stack the app sees.
 */
export function moveToFailedInstrumentation(queue: JobQueue, spec: { name: string; module: string; versions: string; jobClassOf(exports: unknown): unknown }): ModuleInstrumentation {
  const prototypeOf = (exports: unknown): object | undefined => {
    const Job = spec.jobClassOf(exports);
    const proto = typeof Job === 'function' ? ownData(Job, 'prototype') : undefined;
    return isObject(proto) ? proto : undefined;
  };
  return {
    name: spec.name,
    module: spec.module,
    versions: spec.versions,
    patch(exports) {
      const proto = prototypeOf(exports);
      if (proto === undefined) return exports;
      wrapMethod(proto, 'moveToFailed', (original) => {
        // Shaped as the original: a class method (or async function) has no `prototype`, an older Bull's plain function has one.
        if (Object.getOwnPropertyDescriptor(original, 'prototype') === undefined) {
          return {
            moveToFailed(this: unknown, err: unknown): unknown {
              reportFailure(queue, this, err);
              return Reflect.apply(original, this, arguments);
            },
          }.moveToFailed;
        }
        return function moveToFailed(this: unknown, err: unknown): unknown {
          reportFailure(queue, this, err);
          return Reflect.apply(original, this, arguments);
        };
      });
      return exports;
    },
    unpatch(exports) {
      const proto = prototypeOf(exports);
      if (proto !== undefined) unwrapMethod(proto, 'moveToFailed');
    },
  };
}
