import type { IncomingMessage, ServerResponse } from 'node:http';
import { reportError } from '../capture/report';
import { answeredRequest, isNodeRequest, isNodeResponse, ownData } from '../context/request-info';
import { errorStatus, firstSightings, isObject } from './error-status';
import { expressRoute } from './express';
import { fastifyRoute } from './fastify';
import { patchTransportExceptionsHandler, unpatchTransportExceptionsHandler } from './nestjs-transports';
import type { ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * NestJS 8-11 (CommonJS builds). Nest catches what controllers, guards, pipes, interceptors and
 * its middleware throw, and answers itself, so neither express nor fastify ever sees the error.
 * Every HTTP route gets an `ExceptionsHandler` (`@nestjs/core/exceptions/exceptions-handler`)
 * whose `next(exception, host)` runs the app's exception filters, else Nest's base filter. That
 * method is wrapped: it runs only once an error exists, never on a request's normal path.
 * The original answers first; then, as with koa, the answer decides: a client error (an
 * HttpException 4xx, or a filter that answered < 500 at once) is not reported. A filter that answers
 * later (async) leaves the status unknown: the error is reported without one.
 * Nest 12 and later ship ES modules only, which never pass through `require`: see nestjs-esm.ts.
 */

const firstReport = firstSightings();

/** The request and response of Nest's ArgumentsHost for HTTP (`args` is its own array). */
function httpArgs(host: unknown): [unknown, unknown] {
  const args = ownData(host, 'args');
  return Array.isArray(args) ? [args[0], args[1]] : [undefined, undefined];
}

/** Node's own object behind the platform's: express's are Node's, fastify's keep it on `raw`. */
function nodeObject<T>(value: unknown, is: (v: unknown) => v is T): T | undefined {
  if (is(value)) return value;
  const raw = ownData(value, 'raw');
  return is(raw) ? raw : undefined;
}

function routeOf(req: unknown, raw: IncomingMessage | undefined): string | undefined {
  if (raw !== undefined && req === raw) return expressRoute(req);
  return isObject(req) ? fastifyRoute(req) : undefined;
}

/** After Nest answered: skip client errors, report the rest once, with the status sent if known. */
function reportAnswered(error: unknown, req: unknown, rawRes: ServerResponse | undefined, sentBefore: boolean): void {
  try {
    const own = errorStatus(error);
    if (own !== undefined && own < 500) return;
    const sent = !sentBefore && rawRes !== undefined && rawRes.headersSent ? ownData(rawRes, 'statusCode') : undefined;
    const status = own ?? (typeof sent === 'number' ? sent : undefined);
    if (status !== undefined && status < 500) return;
    if (!firstReport(error)) return;
    const rawReq = nodeObject(req, isNodeRequest);
    reportError(error, 'nestjs', undefined, () => answeredRequest(rawReq, rawRes, routeOf(req, rawReq), status));
  } catch {
    // never throw into Nest's error path
  }
}

/** Wraps `next` on the prototype of Nest's ExceptionsHandler class (any Nest version that has it). */
export function patchExceptionsHandler(cls: unknown): boolean {
  const proto = ownData(cls, 'prototype');
  if (!isObject(proto)) return false;
  // A method, as Nest's class method is: no `prototype` property.
  return wrapMethod(proto, 'next', (original) => ({
    next(this: unknown, exception: unknown, host: unknown): unknown {
      const [req, res] = httpArgs(host);
      let rawRes: ServerResponse | undefined;
      let sentBefore = false;
      try {
        rawRes = nodeObject(res, isNodeResponse);
        sentBefore = rawRes?.headersSent === true;
      } catch {
        // an unreadable response: taken as none
      }
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        reportAnswered(exception, req, rawRes, sentBefore);
      }
    },
  }).next);
}

export function unpatchExceptionsHandler(cls: unknown): void {
  const proto = ownData(cls, 'prototype');
  if (isObject(proto)) unwrapMethod(proto, 'next');
}

/**
 * Nest's exceptions handler classes, one per kind of handler: the module that declares each and
 * how to patch it. The require hook (Nest 8-11, below) and the ES module load hook (Nest 12+,
 * nestjs-esm.ts) both work from this one list.
 */
export interface NestHandlerClass {
  /** The module, as the require hook names it; its ES module file is this path plus `.js`. */
  module: string;
  className: string;
  patch(cls: unknown): boolean;
  unpatch(cls: unknown): void;
}

export const NEST_HANDLER_CLASSES: readonly NestHandlerClass[] = [
  { module: '@nestjs/core/exceptions/exceptions-handler', className: 'ExceptionsHandler', patch: patchExceptionsHandler, unpatch: unpatchExceptionsHandler },
  {
    module: '@nestjs/microservices/exceptions/rpc-exceptions-handler',
    className: 'RpcExceptionsHandler',
    patch: (cls) => patchTransportExceptionsHandler(cls, 'rpc'),
    unpatch: unpatchTransportExceptionsHandler,
  },
  {
    module: '@nestjs/websockets/exceptions/ws-exceptions-handler',
    className: 'WsExceptionsHandler',
    patch: (cls) => patchTransportExceptionsHandler(cls, 'ws'),
    unpatch: unpatchTransportExceptionsHandler,
  },
];

export const nestInstrumentations: readonly ModuleInstrumentation[] = NEST_HANDLER_CLASSES.map((handler) => ({
  name: 'nestjs',
  module: handler.module,
  // 12 and later are ES modules only: src/main/instrument/nestjs-esm.ts
  versions: '>=8.0.0 <12.0.0',
  patch(exports: unknown) {
    handler.patch(ownData(exports, handler.className));
    return exports;
  },
  unpatch(exports: unknown) {
    handler.unpatch(ownData(exports, handler.className));
  },
}));
