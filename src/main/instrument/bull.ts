import { enterStatement, jobScopeInstrumentation, LEAVE_STATEMENT, moveToFailedInstrumentation } from './job-queue';
import { replaceOnce } from './source-hook';

/**
 * Bull 3 and 4 (BullMQ's predecessor), as bullmq.ts does BullMQ: every failed attempt ends in
 * `Job.prototype.moveToFailed(err)` (`bull/lib/job`, wrapped by the require hook) and is reported
 * as mechanism `bull` with the job; on Node with in-thread module hooks, each job runs in its own
 * scope, entered at the end of the line before `Queue.prototype.processJob` calls the processor
 * (`let jobPromise = handler(job);`) and left at the end of that line. Bull wraps every processor
 * so that it returns a promise and never throws (setHandler), so that line always completes.
 */

const VERSIONS = '>=3.12.0 <5.0.0';

export const bullJobInstrumentation = moveToFailedInstrumentation('bull', {
  name: 'Bull',
  module: 'bull/lib/job',
  versions: VERSIONS,
  jobClassOf: (exports) => exports,
});

/** `} else {` + `let jobPromise = handler(job);` in processJob, as Bull 3.12 to 4.x spell them. */
const CALL_HANDLER = /(\} else \{)(\s*let [\w$]+ = handler\(([\w$]+)\);)/g;

/** Two statements, each appended to the end of a line of Bull's: no line or column of its code moves. */
export function rewriteQueue(source: string): string | undefined {
  return replaceOnce(source, CALL_HANDLER, (m) => `${m[1]}${enterStatement(m[3], 'bull')}${m[2]}${LEAVE_STATEMENT}`);
}

export const bullScopeInstrumentation = jobScopeInstrumentation({
  name: 'Bull',
  package: 'bull',
  versions: VERSIONS,
  formats: ['commonjs'],
  file: /\/node_modules\/bull\/lib\/(queue)\.js$/,
  key: 'queue',
  rewrite: rewriteQueue,
});
