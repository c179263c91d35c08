import { ownData } from '../context/request-info';
import { enterStatement, jobScopeInstrumentation, LEAVE_STATEMENT, moveToFailedInstrumentation } from './job-queue';
import { replaceOnce } from './source-hook';

/**
 * BullMQ 5 and 6 workers. BullMQ catches what a job's processor throws or rejects with, records it
 * on the job (failed, or retried later) and tells only the worker's `failed` listeners: the error
 * is not a crash, and no request answers it. Node always loads BullMQ's CommonJS build (its
 * package has no `exports` map), also for ES module apps, so:
 *  - every failed attempt ends in `Job.prototype.moveToFailed(err, ...)` (the require hook wraps it,
 *    job-queue.ts): the error is reported as mechanism `bullmq` with the job (queue, name, id,
 *    attempt), in the job's own scope when it has one. This needs no exception pause, so failures
 *    past the pause budget are reported too (without locals).
 *  - each job runs in its own scope, as an HTTP request does: `setUser`/`setContext` in a
 *    processor stay in that job, and its events and breakpoint hits carry `context.bullmq`. The
 *    scope is entered and left inside `Worker.prototype.callProcessJob`, around its one call of
 *    the processor, by statements the in-thread load hook (source-hook.ts) adds at the end of its
 *    two lines: wrapping the method would add a frame to every processor's stack, which BullMQ
 *    stores with each failed job. Where Node cannot run that hook, processors run in whatever
 *    scope the worker was started in (usually none).
 */

const VERSIONS = '>=5.0.0 <7.0.0';

export const bullmqJobInstrumentation = moveToFailedInstrumentation('bullmq', {
  name: 'BullMQ',
  module: 'bullmq/dist/cjs/classes/job',
  versions: VERSIONS,
  jobClassOf: (exports) => ownData(exports, 'Job'),
});

/**
 * `callProcessJob(job, token[, signal]) {` + `return this.processFn(job, token[, signal]);`, as
 * BullMQ 5.0 to 6.x builds spell them (CommonJS and ES module).
 */
const CALL_PROCESS_JOB = /(\bcallProcessJob\(([\w$]+), ?[\w$]+(?:, ?[\w$]+)?\) ?\{)(\s*return this\.processFn\(\2\b[^;\n]*\);)/g;

/**
 * Two statements, each appended to the end of a line of BullMQ's, so that no line or column of its
 * code moves; the `return` goes into a try whose finally leaves the job's scope.
 */
export function rewriteWorker(source: string): string | undefined {
  return replaceOnce(source, CALL_PROCESS_JOB, (m) => `${m[1]}${enterStatement(m[2], 'bullmq')}try{${m[3]}}finally{${LEAVE_STATEMENT}}`);
}

export const bullmqScopeInstrumentation = jobScopeInstrumentation({
  name: 'BullMQ',
  package: 'bullmq',
  versions: VERSIONS,
  formats: ['commonjs', 'module'],
  file: /\/node_modules\/bullmq\/dist\/(?:cjs|esm)\/classes\/(worker)\.js$/,
  key: 'worker',
  rewrite: rewriteWorker,
});
