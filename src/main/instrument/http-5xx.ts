import diagnosticsChannel from 'node:diagnostics_channel';
import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { requestStorage, type RequestScope } from '../context/store';
import { runSoon } from '../run-soon';
import type { ChannelInstrumentation } from './types';

/**
 * Errors behind 5xx answers that nothing reported. A framework the agent has no instrumentation
 * for or the app's own try/catch can turn an error into a 5xx answer, and
 * then neither a framework hook nor the process sees it. But the agent already pauses where app
 * code throws, to capture its locals: the serializer tells this module the thrown object during
 * that pause, and the request being served (the store) remembers the last error your code threw
 * itself, and apart from it the last one Node or a dependency threw while your code called it.
 * When that request's response finishes with a 5xx and no event was reported for the request (by
 * a framework instrumentation, `captureException` or anything else), the first of the two is
 * reported, with the request and the status. A framework whose answer to an error depends on
 * the app's error handler (Hono's `onError`) hands the error over instead, before it answers
 * (`noteAnswering`): it is reported the same way, if the answer is a 5xx, whether or not a pause
 * happened.
 *
 * Nothing runs on a request's normal path: the `http.server.response.finish` channel (and, for
 * HTTP/2 streams, `http2.server.stream.finish`) is subscribed to only while some request has such
 * an error, and unsubscribed once none has.
 * What it cannot see: errors thrown where no pause happened (inside dependencies, or past the
 * pause budget), and a different error behind the 5xx than the last one your code threw.
 */

const FINISH = 'http.server.response.finish';
/** HTTP/2 (Node 22 and later): a server stream's response headers went out (`respond`), with its `:status`. */
const FINISH_HTTP2 = 'http2.server.stream.finish';
/** Requests waiting for their answer with an error noted; past this, the oldest (never finished) goes. */
const MAX_PENDING = 256;

let active = false;
let subscribed = false;
const pending = new Set<RequestScope>();

/**
 * Called by the serializer during an exception pause, with the object being thrown and whether
 * your code threw it itself (its `throw`), rather than Node or a dependency your code called.
 */
export function noteThrownInRequest(thrown: object, thrownInApp: boolean): void {
  if (!active) return;
  const scope = requestStorage.getStore();
  if (scope === undefined || scope.res === undefined) return;
  if (thrownInApp) scope.thrown = thrown;
  else scope.thrownThrough = thrown;
  awaitAnswer(scope);
}

/**
 * Called by a framework's instrumentation when the framework is about to answer an error of the
 * request being served (Hono's error handler): reported under `mechanism` if the answer is a 5xx
 * and nothing else reported it; it goes before what the exception pauses noted.
 */
export function noteAnswering(error: unknown, mechanism: string): void {
  if (!active) return;
  const scope = requestStorage.getStore();
  if (scope === undefined || scope.res === undefined) return;
  scope.answering = { error, mechanism };
  awaitAnswer(scope);
}

function awaitAnswer(scope: RequestScope): void {
  if (!pending.has(scope)) {
    if (pending.size >= MAX_PENDING) pending.delete(pending.values().next().value as RequestScope);
    pending.add(scope);
  }
  if (!subscribed) {
    subscribed = true;
    diagnosticsChannel.subscribe(FINISH, onResponseFinish);
    diagnosticsChannel.subscribe(FINISH_HTTP2, onResponseFinish);
  }
}

function unsubscribe(): void {
  if (!subscribed) return;
  subscribed = false;
  diagnosticsChannel.unsubscribe(FINISH, onResponseFinish);
  diagnosticsChannel.unsubscribe(FINISH_HTTP2, onResponseFinish);
}

/** An HTTP/2 request's response is a view over its stream (http2.ts): the stream, else undefined. */
function streamOf(res: unknown): object | undefined {
  const stream = ownData(res, 'stream');
  return stream !== null && typeof stream === 'object' ? stream : undefined;
}

/** A response that will never finish: destroyed before (the client went away). */
function gone(res: unknown): boolean {
  const stream = streamOf(res);
  return stream !== undefined ? (stream as { destroyed?: unknown }).destroyed === true : ownData(res, 'destroyed') === true;
}

function onResponseFinish(message: unknown): void {
  try {
    const res = ownData(message, 'response');
    const stream = res === undefined ? ownData(message, 'stream') : undefined;
    for (const scope of pending) {
      if (res !== undefined ? scope.res !== res : stream === undefined || streamOf(scope.res) !== stream) {
        // a response destroyed before it finished (the client went away) never finishes
        if (gone(scope.res)) pending.delete(scope);
        continue;
      }
      pending.delete(scope);
      const status = res !== undefined ? ownData(res, 'statusCode') : Number((ownData(message, 'headers') as Record<string, unknown> | undefined)?.[':status']);
      // Deferred: some frameworks report an error once the answer is out (hapi, after 'finish').
      if (typeof status === 'number' && status >= 500 && status < 600 && !scope.errorReported) runSoon(() => reportUnreported(scope, status));
      break;
    }
  } catch {
    // never disturb Node's response handling
  }
  if (pending.size === 0) unsubscribe();
}

function reportUnreported(scope: RequestScope, status: number): void {
  // What the framework said it answered; else what your code threw itself first: a framework
  // bundled with the app (Next.js's server build) may probe with `new URL` and the like while it
  // answers the error.
  const answering = scope.answering;
  const thrown = answering !== undefined ? answering.error : (scope.thrown ?? scope.thrownThrough);
  scope.thrown = scope.thrownThrough = scope.answering = undefined;
  if (!active || scope.errorReported || (answering === undefined && thrown === undefined)) return;
  // In the request's scope: its user, context and request go with the event.
  requestStorage.run(scope, () => reportError(thrown, answering?.mechanism ?? 'http_5xx', undefined, { status_code: status }));
}

export const http5xxInstrumentation: ChannelInstrumentation = {
  name: 'http 5xx',
  versions: '*',
  patch() {
    active = true;
  },
  unpatch() {
    active = false;
    pending.clear();
    unsubscribe();
  },
};
