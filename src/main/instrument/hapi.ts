import type { IncomingMessage } from 'node:http';
import { reportError } from '../capture/report';
import { answeredRequest, isNodeRequest, ownData } from '../context/request-info';
import { addRouteReader, scopeOf, type RequestScope } from '../context/store';
import { firstSightings, isObject } from './error-status';
import type { ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * hapi 20 and 21. hapi answers what a handler, an extension or a failed validation throws itself,
 * and announces every request that ends in a 500 caused by an error on its own event bus:
 * `server.events`, event `request`, channel `error` (how hapi's documentation says to watch
 * errors). Each server's core subscribes once, when it is built: `Core.prototype._debug` (run
 * once by the core's constructor, after its event bus exists) is wrapped to add that listener.
 * Nothing runs on a request's normal path: hapi builds `request` events only for logs and errors,
 * and its default `debug` setting already listens to them.
 *
 * Breakpoint hits and `captureException` inside a hapi request read the route from hapi's request
 * object, which the request's scope keeps: `Request.generate` (hapi's one way to make a request
 * from Node's, before any extension or handler runs, so in no app stack) is wrapped to put it there.
 */

interface PodiumLike {
  on(criteria: object, listener: (...args: unknown[]) => void): unknown;
}

const firstReport = firstSightings();
let active = false;
let requestsActive = false;

/** The route template of a hapi request (`/users/{id}`), once hapi has routed it. */
function routePathOf(request: unknown): string | undefined {
  const path = ownData(ownData(request, 'route'), 'path');
  return typeof path === 'string' ? path : undefined;
}

/** Route reader for events raised inside a hapi request. */
function hapiRoute(_req: IncomingMessage, scope?: RequestScope): string | undefined {
  return scope?.frameworkName === 'hapi' ? routePathOf(scope.frameworkContext) : undefined;
}

/** `channels: 'error'` listener, called with hapi's (request, event, tags). */
function onRequestError(request: unknown, event: unknown): void {
  try {
    if (!active) return;
    const error = ownData(event, 'error');
    if (!isObject(error) || !firstReport(error)) return;
    const raw = ownData(request, 'raw');
    const req = ownData(raw, 'req');
    const route = routePathOf(request);
    // hapi emits this channel for 500 answers only.
    reportError(error, 'hapi', undefined, () => answeredRequest(isNodeRequest(req) ? req : undefined, undefined, route, 500));
  } catch {
    // never throw into hapi's event bus
  }
}

export const hapiCoreInstrumentation: ModuleInstrumentation = {
  name: 'hapi',
  module: '@hapi/hapi/lib/core',
  versions: '>=20.0.0 <22.0.0',
  patch(exports) {
    const proto = ownData(exports, 'prototype');
    if (!isObject(proto)) return exports;
    active = true;
    wrapMethod(proto, '_debug', (original) => ({
      _debug(this: unknown): unknown {
        try {
          return Reflect.apply(original, this, arguments);
        } finally {
          try {
            const events = ownData(this, 'events') as PodiumLike | undefined;
            if (isObject(events) && typeof events.on === 'function') events.on({ name: 'request', channels: 'error' }, onRequestError);
          } catch {
            // a core we cannot subscribe to: its errors are reported only if they crash the app
          }
        }
      },
    })._debug);
    return exports;
  },
  unpatch(exports) {
    // Listeners already added stay, and report nothing once inactive.
    active = false;
    const proto = ownData(exports, 'prototype');
    if (isObject(proto)) unwrapMethod(proto, '_debug');
  },
};

export const hapiRequestInstrumentation: ModuleInstrumentation = {
  name: 'hapi',
  module: '@hapi/hapi/lib/request',
  versions: '>=20.0.0 <22.0.0',
  patch(exports) {
    if (!isObject(exports)) return exports;
    requestsActive = true;
    addRouteReader(hapiRoute);
    wrapMethod(exports, 'generate', (original) => ({
      generate(this: unknown, _server: unknown, req: unknown): unknown {
        const request = Reflect.apply(original, this, arguments) as unknown;
        try {
          const scope = requestsActive && isObject(req) ? scopeOf(req) : undefined;
          if (scope !== undefined && scope.frameworkContext === undefined && isObject(request)) {
            scope.frameworkContext = request;
            scope.frameworkName = 'hapi';
          }
        } catch {
          // the request goes on without its route on hits
        }
        return request;
      },
    }).generate);
    return exports;
  },
  unpatch(exports) {
    requestsActive = false;
    if (isObject(exports)) unwrapMethod(exports, 'generate');
  },
};

export const hapiInstrumentations: readonly ModuleInstrumentation[] = [hapiCoreInstrumentation, hapiRequestInstrumentation];
