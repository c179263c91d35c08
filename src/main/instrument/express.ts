import type { IncomingMessage, ServerResponse } from 'node:http';
import { reportError } from '../capture/report';
import { answeredRequest, ownData } from '../context/request-info';
import { addRouteReader, scopeOf, type RequestScope } from '../context/store';
import { errorStatus, isObject } from './error-status';
import type { ModuleInstrumentation } from './types';
import { markWrapper, unwrapMethod, wrapMethod } from './wrap';

/**
 * express 4 and 5. Only functions that run after an error exists are wrapped, never a request's
 * normal path: a wrapper on the normal path adds stack frames to errors thrown in handlers, and
 * express's development error page prints those stacks.
 *  - finalhandler's `done(err)`: errors nothing handled (sync throws, next(err), express 5 rejected
 *    promises). Client errors (status < 500, e.g. body-parser's 400s) are not reported.
 *  - the Layer error path (express 4 `handle_error`, router `handleError`): errors an error
 *    middleware is about to handle.
 *  - the `route` assignment on express's request prototype: remembers the mount path (baseUrl)
 *    at dispatch, because express restores baseUrl before the error reaches finalhandler.
 * What they remember lives on the request's scope (no WeakMap entry per request).
 */

// Errors already reported, for requests without a scope (a handled error passed on with next(err)
// reaches finalhandler too). Within a request the scope remembers its last reported error.
const reportedOutsideScope = new WeakSet<object>();

/** `/users/:id` from the route that was dispatched (mount path + route path), read without getters. */
export function expressRoute(req: unknown, scope: RequestScope | undefined = isObject(req) ? scopeOf(req) : undefined): string | undefined {
  const route = ownData(req, 'route');
  const path = ownData(route, 'path');
  if (typeof path !== 'string') return undefined;
  const base = scope !== undefined && scope.dispatchedRoute === route ? scope.dispatchedBase : ownData(req, 'baseUrl');
  return (typeof base === 'string' ? base : '') + path;
}

/** True the first time an error is seen for this request (or at all, outside a request). */
function firstReport(error: unknown, req: IncomingMessage): boolean {
  if (!isObject(error)) return true;
  const scope = scopeOf(req);
  if (scope) {
    if (scope.reported === error) return false;
    scope.reported = error;
    return true;
  }
  if (reportedOutsideScope.has(error)) return false;
  reportedOutsideScope.add(error);
  return true;
}

function report(error: unknown, req: IncomingMessage, res: ServerResponse | undefined, status: number | undefined): void {
  try {
    if (!firstReport(error, req)) return;
    // Described only when the event is sent (not for repeats over the rate limit).
    reportError(error, 'express', undefined, () => answeredRequest(req, res, expressRoute(req), status));
  } catch {
    // never throw into express
  }
}

/** The status finalhandler answers with: the error's own, else the response's if it is an error status, else 500. */
function finalStatus(error: unknown, res: ServerResponse): number {
  const own = errorStatus(error);
  if (own !== undefined) return own;
  const current = ownData(res, 'statusCode');
  return typeof current === 'number' && current >= 400 && current <= 599 ? current : 500;
}

/**
 * Called once per request (express creates its `done` per request), so it stays cheap: one closure,
 * no descriptor work. finalhandler's `done` is an anonymous `function (err)`, and so is this one:
 * same name ('') and length (1) without defining them.
 */
function wrapDone(done: (err?: unknown) => unknown, req: IncomingMessage, res: ServerResponse): (err?: unknown) => unknown {
  return function (this: unknown, err?: unknown) {
    if (err) {
      const status = finalStatus(err, res);
      if (status >= 500) report(err, req, res, status);
    }
    return arguments.length === 1 ? done.call(this, err) : Reflect.apply(done, this, arguments);
  };
}

export const finalhandlerInstrumentation: ModuleInstrumentation = {
  name: 'finalhandler',
  module: 'finalhandler',
  versions: '>=1.0.0 <3.0.0',
  patch(exports) {
    if (typeof exports !== 'function') return exports;
    const original = exports;
    const wrapped = markWrapper(function finalhandler(this: unknown, req: IncomingMessage, res: ServerResponse) {
      const done: unknown = Reflect.apply(original, this, arguments);
      return typeof done === 'function' && done.length === 1 && done.name === '' && isObject(req) && isObject(res)
        ? wrapDone(done as (err?: unknown) => unknown, req, res)
        : done;
    }, original);
    // finalhandler exports nothing but the function; copy anything else a future version adds.
    for (const key of Reflect.ownKeys(original)) {
      if (key === 'name' || key === 'length' || key === 'prototype') continue;
      const d = Object.getOwnPropertyDescriptor(original, key);
      if (d) Object.defineProperty(wrapped, key, d);
    }
    return wrapped;
  },
  unpatch() {
    // express holds the wrapper; it reports nothing once the agent is stopped (reportError checks).
  },
};

function layerInstrumentation(name: string, module: string, versions: string): ModuleInstrumentation {
  const methods = ['handle_error', 'handleError'];
  return {
    name,
    module,
    versions,
    patch(exports) {
      const proto = isObject(exports) ? ownData(exports, 'prototype') : undefined;
      if (!isObject(proto)) return exports;
      for (const method of methods) {
        wrapMethod(proto, method, (original) =>
          function (this: unknown, error: unknown, req: IncomingMessage, res: ServerResponse) {
            // Only layers that are error middleware (arity 4) handle the error; the others pass it on.
            const fn = ownData(this, 'handle');
            if (error && typeof fn === 'function' && fn.length === 4) {
              const status = errorStatus(error);
              if (status === undefined || status >= 500) report(error, req, res, undefined);
            }
            return Reflect.apply(original, this, arguments);
          },
        );
      }
      return exports;
    },
    unpatch(exports) {
      const proto = ownData(exports, 'prototype');
      if (isObject(proto)) for (const method of methods) unwrapMethod(proto, method);
    },
  };
}

/** express 4's own router. */
export const express4LayerInstrumentation = layerInstrumentation('express', 'express/lib/router/layer', '>=4.0.0 <5.0.0');
/** The `router` package: express 5 (router 2, `handleError`), standalone router 1 (`handle_error`). */
export const routerLayerInstrumentation = layerInstrumentation('router', 'router/lib/layer', '>=1.0.0 <3.0.0');

const ROUTE = 'route';

/**
 * express's request prototype gets a `route` setter: when express dispatches a route
 * (`req.route = route`) it records the baseUrl of that moment and then defines `route` as the
 * plain own data property it would have been, so the request object looks exactly as before.
 * Only once the app mounts something at a path (`app.use('/api', router)`): before that, baseUrl
 * is '' whenever a route runs and nothing can be lost, and the setter's defineProperty would cost
 * every routed request about a microsecond.
 */
let requestPrototype: object | undefined;
let mountSeen = false;

function installRouteAccessor(): void {
  if (!requestPrototype || !mountSeen || Object.getOwnPropertyDescriptor(requestPrototype, ROUTE)) return;
  Object.defineProperty(requestPrototype, ROUTE, { configurable: true, enumerable: false, get: routeGetter, set: routeSetter });
}

export const expressRequestInstrumentation: ModuleInstrumentation = {
  name: 'express',
  module: 'express/lib/request',
  versions: '>=4.0.0 <6.0.0',
  patch(exports) {
    if (!isObject(exports) || Object.getOwnPropertyDescriptor(exports, ROUTE)) return exports;
    // events raised inside a request (breakpoint hits, captureException) name its route too
    addRouteReader(expressRoute);
    requestPrototype = exports;
    installRouteAccessor();
    return exports;
  },
  unpatch(exports) {
    if (!isObject(exports)) return;
    if (requestPrototype === exports) requestPrototype = undefined;
    const d = Object.getOwnPropertyDescriptor(exports, ROUTE);
    if (d && d.set === routeSetter) delete (exports as Record<string, unknown>)[ROUTE];
  },
};

/** `use` with a mount path: a string other than '/', an array or a RegExp (not a bare function). */
function isMountPath(first: unknown): boolean {
  return typeof first === 'string' ? first !== '/' && first !== '' : Array.isArray(first) || first instanceof RegExp;
}

/** A router's `use` (set-up time only, never on a request's path) tells when the app mounts at a path. */
function mountInstrumentation(name: string, module: string, versions: string, holder: (exports: unknown) => unknown): ModuleInstrumentation {
  return {
    name,
    module,
    versions,
    patch(exports) {
      const target = holder(exports);
      if (!isObject(target)) return exports;
      wrapMethod(target, 'use', (original) =>
        function (this: unknown, first: unknown) {
          if (!mountSeen && isMountPath(first)) {
            mountSeen = true;
            installRouteAccessor();
          }
          return Reflect.apply(original, this, arguments);
        },
      );
      return exports;
    },
    unpatch(exports) {
      const target = holder(exports);
      if (isObject(target)) unwrapMethod(target, 'use');
    },
  };
}

/** express 4's own router: `use` is on the router prototype the module exports. */
export const express4RouterInstrumentation = mountInstrumentation('express', 'express/lib/router', '>=4.0.0 <5.0.0', (exports) => exports);
/** The `router` package (express 5): `Router.prototype.use`. */
export const routerInstrumentation = mountInstrumentation('router', 'router', '>=1.0.0 <3.0.0', (exports) => (isObject(exports) ? ownData(exports, 'prototype') : undefined));

function routeGetter(): undefined {
  return undefined;
}

function routeSetter(this: object, value: unknown): void {
  // Runs for every routed request: no allocation but the property itself.
  const scope = scopeOf(this);
  if (scope !== undefined) {
    const base = (this as { baseUrl?: unknown }).baseUrl; // express's own data property
    scope.dispatchedRoute = value;
    scope.dispatchedBase = typeof base === 'string' ? base : '';
  }
  Object.defineProperty(this, ROUTE, { value, writable: true, enumerable: true, configurable: true });
}

export const expressInstrumentations: readonly ModuleInstrumentation[] = [
  finalhandlerInstrumentation,
  express4LayerInstrumentation,
  routerLayerInstrumentation,
  expressRequestInstrumentation,
  express4RouterInstrumentation,
  routerInstrumentation,
];
