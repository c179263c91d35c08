import type { IncomingMessage } from 'node:http';
import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { addRouteReader } from '../context/store';
import { firstSightings, isObject } from './error-status';
import type { ModuleInstrumentation } from './types';
import { isWrapper, markWrapper, unwrapMethod, wrapMethod } from './wrap';

/**
 * Next.js 15.4 to 16 servers (`next start`, `next dev`, standalone output). Next catches what
 * route handlers, pages, server components, server actions and Pages Router API routes and data
 * functions throw, answers itself (with a 200 and an error boundary when a streamed component
 * fails) and hands every such error to one function, `instrumentationOnRequestError` of
 * `next/dist/server/lib/router-utils/instrumentation-globals.external.js`, which calls the app's
 * `instrumentation.onRequestError` if it has one. Next's prebuilt server runtimes keep that file
 * external and `require` it, so the require hook sees it once per process; the exports the app's
 * server gets have that one function wrapped. It runs only once an error exists.
 *
 * Its arguments: the project and dist dirs, the error, `{ path, method, headers }` and Next's
 * error context `{ routerKind, routePath, routeType, renderSource?, revalidateReason? }`. The
 * route is Next's own pattern (`/blog/[slug]`). An error of the proxy (middleware) does not pass
 * there; it is answered 500 and reported through that answer (http-5xx.ts).
 *
 * Next.js 15.0 to 15.3 hand the same errors, with the same error context, to a method of their
 * server class instead, `NextNodeServer.prototype.instrumentationOnRequestError(error, request,
 * errorContext)` in `next/dist/server/next-server.js` (15.4 moved its body into the file above).
 * Next 13.4 to 14 have neither: their errors are found through their 5xx answers (http-5xx.ts),
 * which, like every other event of their requests, carry Next's route once that file loads.
 */

const MODULE = 'next/dist/server/lib/router-utils/instrumentation-globals.external';
const FUNCTION = 'instrumentationOnRequestError';
/** Next's error context keys, as they go on the event (`context.nextjs`). */
const CONTEXT_KEYS: ReadonlyArray<readonly [from: string, to: string]> = [
  ['routerKind', 'router_kind'],
  ['routePath', 'route_path'],
  ['routeType', 'route_type'],
  ['renderSource', 'render_source'],
  ['revalidateReason', 'revalidate_reason'],
];

/** Where Next keeps what it knows of a Node request, among it the route it chose (`invokeOutput`). */
const NEXT_REQUEST_META = Symbol.for('NextInternalRequestMeta');

/**
 * The route pattern Next dispatched `req` to (`/api/orders/[id]`), for events that Next's hook does
 * not report (breakpoint hits, `captureException`, errors behind a 5xx answer). Read without
 * running getters; undefined before Next routed the request and for pages it did not find.
 */
export function nextRoute(req: IncomingMessage): string | undefined {
  const route = ownData(ownData(req, NEXT_REQUEST_META), 'invokeOutput');
  return typeof route === 'string' && route.startsWith('/') ? route.slice(0, 300) : undefined;
}

const firstReport = firstSightings();
let active = false;

function nextContext(errorContext: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [from, to] of CONTEXT_KEYS) {
    const v = ownData(errorContext, from);
    if (typeof v === 'string') out[to] = v.slice(0, 300);
  }
  return out;
}

function reportNextError(error: unknown, errorContext: unknown): void {
  try {
    if (!active || !firstReport(error)) return;
    const nextjs = nextContext(errorContext);
    const route = nextjs.route_path;
    reportError(error, 'nextjs', { nextjs }, route === undefined ? undefined : { route });
  } catch {
    // never disturb Next's error path
  }
}

/** A method (no `prototype`, as Next's async function has none) that returns Next's own promise. */
function wrapReporter(original: Function): Function {
  const wrapper = {
    instrumentationOnRequestError(this: unknown, _projectDir: unknown, _distDir: unknown, error: unknown, _request: unknown, errorContext: unknown): unknown {
      reportNextError(error, errorContext);
      return Reflect.apply(original, this, arguments);
    },
  }.instrumentationOnRequestError;
  return markWrapper(wrapper, original);
}

/** The same for Next 15.0-15.3's server class method: `(error, request, errorContext)`. */
function wrapServerMethod(original: Function): Function {
  return {
    instrumentationOnRequestError(this: unknown, error: unknown, _request: unknown, errorContext: unknown): unknown {
      reportNextError(error, errorContext);
      return Reflect.apply(original, this, arguments);
    },
  }.instrumentationOnRequestError;
}

/**
 * The value of an export of one of Next's own modules: its exports are getters, which are Next's
 * code and safe to run (unlike an arbitrary object's).
 */
function exportValue(exports: object, own: PropertyDescriptor | undefined): unknown {
  return own === undefined ? undefined : 'value' in own ? own.value : own.get?.call(exports);
}

/** NextNodeServer.prototype of `next/dist/server/next-server` exports, if it is there. */
function serverPrototype(exports: unknown): object | undefined {
  if (!isObject(exports)) return undefined;
  const server = exportValue(exports, Object.getOwnPropertyDescriptor(exports, 'default'));
  const proto = typeof server === 'function' ? ownData(server, 'prototype') : undefined;
  return isObject(proto) ? proto : undefined;
}

const SERVER_MODULE = 'next/dist/server/next-server';

export const nextServerInstrumentation: ModuleInstrumentation = {
  name: 'next',
  module: SERVER_MODULE,
  versions: '>=13.4.0 <15.4.0',
  coveredElsewhere: { versions: '>=15.4.0 <17.0.0', by: MODULE },
  patch(exports) {
    const proto = serverPrototype(exports);
    if (proto === undefined) return exports;
    // Next 13.4-14 have no such method (their errors are found through 5xx answers), but do keep
    // the route on the request: other events of a request carry it.
    addRouteReader(nextRoute);
    if (wrapMethod(proto, FUNCTION, wrapServerMethod)) active = true;
    return exports;
  },
  unpatch(exports) {
    const proto = serverPrototype(exports);
    if (proto !== undefined) unwrapMethod(proto, FUNCTION);
    active = false;
  },
};

export const nextjsInstrumentation: ModuleInstrumentation = {
  name: 'next',
  module: MODULE,
  versions: '>=15.4.0 <17.0.0',
  patch(exports) {
    if (!isObject(exports)) return exports;
    // Next's exports are getters that cannot be redefined (its own module's, safe to run): the
    // app's server gets a copy of the exports object, every property as it was (`__esModule`
    // included), with this one replaced.
    const descriptors = Object.getOwnPropertyDescriptors(exports);
    const own = descriptors[FUNCTION];
    const original = exportValue(exports, own);
    if (own === undefined || typeof original !== 'function' || isWrapper(original)) return exports;
    active = true;
    addRouteReader(nextRoute);
    const wrapped = wrapReporter(original);
    descriptors[FUNCTION] = { enumerable: own.enumerable ?? true, configurable: own.configurable ?? false, get: () => wrapped };
    return Object.defineProperties(Object.create(Object.getPrototypeOf(exports) as object | null) as object, descriptors);
  },
  unpatch() {
    // The copy stays with the modules that hold it; its wrapper turns into a pass-through.
    active = false;
  },
};
