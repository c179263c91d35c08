import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { requestStorage, type RequestScope } from '../context/store';
import { isObject } from './error-status';
import type { ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * @grpc/grpc-js 1.10+ servers. grpc-js catches what a handler throws synchronously and answers
 * the call with status UNKNOWN itself, logging nothing: the error is gone. The agent already
 * pauses where app code throws, to capture its locals; the serializer hands the thrown object to
 * `noteThrownThisTurn`, which keeps it until the current job's microtasks run. grpc-js answers in
 * the same synchronous run as the throw, and every call ends in
 * `BaseServerInterceptingCall.prototype.sendStatus` (also behind interceptors), which is wrapped:
 * a server-fault status (UNKNOWN, INTERNAL, DATA_LOSS) sent while an error your code threw in this
 * run is kept reports that error, with the call's method. A handler that catches its own error and
 * answers such a status itself is reported the same way; statuses it chose without a throw are not.
 *
 * Per call: one wrapper call and a comparison. Nothing is wrapped on a handler's own path, so
 * handler stacks are unchanged.
 *
 * Each call also gets its own scope (`setUser`/`setContext` in a handler or interceptor stay in
 * that call; breakpoint hits and `captureException` carry `context.grpc.method`). HTTP/2 runs all
 * calls of a connection in the connection's context, so the scope is entered where grpc-js makes
 * the call (`getServerInterceptingCall`, through its exports), and again by a listener put first
 * on the call's HTTP/2 stream for each event grpc-js handles ('data', 'end', 'close'): grpc-js's
 * own listeners, the interceptors' and handler's callbacks and everything they start run in it.
 * No frame is added to a handler's stack.
 */

const SERVER_FAULTS = new Set([2, 13, 15]); // UNKNOWN, INTERNAL, DATA_LOSS
let active = false;
let thrownThisTurn: object | undefined;
let clearQueued = false;

function clearThrown(): void {
  clearQueued = false;
  thrownThisTurn = undefined;
}

/** Called by the serializer during an exception pause, with the object being thrown. */
export function noteThrownThisTurn(thrown: object): void {
  if (!active) return;
  thrownThisTurn = thrown;
  if (!clearQueued) {
    clearQueued = true;
    queueMicrotask(clearThrown);
  }
}

function reportFault(call: unknown, status: unknown): void {
  try {
    const thrown = thrownThisTurn;
    if (thrown === undefined) return;
    const code = ownData(status, 'code');
    if (typeof code !== 'number' || !SERVER_FAULTS.has(code)) return;
    thrownThisTurn = undefined;
    const method = ownData(ownData(call, 'handler'), 'path');
    const grpc: Record<string, unknown> = { status_code: code };
    if (typeof method === 'string') grpc.method = method.slice(0, 200);
    reportError(thrown, 'grpc', { grpc });
  } catch {
    // never disturb the call's answer
  }
}

/** The scope of one call: its method, as context. */
function callScope(handler: unknown): RequestScope {
  const path = ownData(handler, 'path');
  return { context: { grpc: typeof path === 'string' ? { method: path.slice(0, 200) } : {} } };
}

const STREAM_EVENTS = ['data', 'end', 'close'] as const;

/** Re-enters `scope` first thing in each event of the call's HTTP/2 stream (prependListener: no flow change). */
function keepScopeOnEvents(stream: unknown, scope: RequestScope): void {
  const prepend = (stream as { prependListener?: unknown } | null)?.prependListener;
  if (typeof prepend !== 'function') return;
  const enter = (): void => {
    if (active && requestStorage.getStore() !== scope) requestStorage.enterWith(scope);
  };
  for (const event of STREAM_EVENTS) Reflect.apply(prepend, stream, [event, enter]);
}

export const grpcInstrumentation: ModuleInstrumentation = {
  name: '@grpc/grpc-js',
  module: '@grpc/grpc-js/build/src/server-interceptors',
  versions: '>=1.10.0 <2.0.0',
  patch(exports) {
    const proto = ownData(ownData(exports, 'BaseServerInterceptingCall'), 'prototype');
    if (!isObject(proto)) return exports;
    active = true;
    wrapMethod(proto, 'sendStatus', (original) => ({
      sendStatus(this: unknown, status: unknown): unknown {
        try {
          return Reflect.apply(original, this, arguments);
        } finally {
          if (thrownThisTurn !== undefined) reportFault(this, status);
        }
      },
    }).sendStatus);
    // A plain function, as grpc-js's: name and length are copied, and it keeps a `prototype`.
    if (isObject(exports)) wrapMethod(exports, 'getServerInterceptingCall', (original) => function getServerInterceptingCall(this: unknown, _interceptors: unknown, stream: unknown): unknown {
      let scope: RequestScope | undefined;
      if (active) {
        try {
          scope = callScope(arguments[4]);
          requestStorage.enterWith(scope);
        } catch {
          scope = undefined;
        }
      }
      const call = Reflect.apply(original, this, arguments) as unknown;
      if (scope !== undefined) {
        try {
          keepScopeOnEvents(stream, scope);
        } catch {
          // the call goes on without its scope on later events
        }
      }
      return call;
    });
    return exports;
  },
  unpatch(exports) {
    active = false;
    thrownThisTurn = undefined;
    const proto = ownData(ownData(exports, 'BaseServerInterceptingCall'), 'prototype');
    if (isObject(proto)) unwrapMethod(proto, 'sendStatus');
    if (isObject(exports)) unwrapMethod(exports, 'getServerInterceptingCall');
  },
};
