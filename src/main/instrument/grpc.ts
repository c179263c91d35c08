import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
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
    return exports;
  },
  unpatch(exports) {
    active = false;
    thrownThisTurn = undefined;
    const proto = ownData(ownData(exports, 'BaseServerInterceptingCall'), 'prototype');
    if (isObject(proto)) unwrapMethod(proto, 'sendStatus');
  },
};
