import type { IncomingMessage, ServerResponse } from 'node:http';
import { reportError } from '../capture/report';
import { answeredRequest, ownData } from '../context/request-info';
import { addRouteReader, requestStorage, scopeOf, type RequestScope } from '../context/store';
import { errorStatus, firstSightings, isObject } from './error-status';
import type { ModuleInstrumentation } from './types';
import { isWrapper, markWrapper, unwrapMethod, wrapMethod } from './wrap';

const APP = 'app';

/**
 * koa 2 and 3. Two methods are wrapped, both run only after an error exists, never on a request's
 * normal path:
 *  - `ctx.onerror(err)`, on the context prototype `koa/lib/context` exports (every app's contexts
 *    inherit it): koa's own answer to what its middleware throws or rejects with. The original
 *    answers first; then the status it sent decides: client errors (ctx.throw(404), 4xx from body
 *    parsers) are answers, not failures, and are not reported. The value reported is the one
 *    thrown: koa wraps a non-Error in a new Error, whose stack would point at koa.
 *  - `app.emit('error', err, ctx)` outside onerror: the app's own error middleware telling the app,
 *    as koa's documentation shows. That middleware decides the answer: no status is claimed. koa's
 *    application prototype gets an own `emit` that calls the inherited one. It is found through
 *    the first context koa makes (an `app` setter on the context prototype, removed at once): an
 *    ESM app's `import Koa` loads koa's application file without a `require` we could see, while
 *    the context file always comes through `require`.
 * And one on a request's normal path, which adds no stack frame to what the middleware throws:
 *  - `app.createContext(req, res)` returns before any middleware runs; its context is kept on the
 *    request's scope, so that breakpoint hits and `captureException` inside a koa request name the
 *    route the router matched (a property write per request).
 */

interface KoaContextLike {
  req?: unknown;
  res?: unknown;
  _matchedRoute?: unknown;
}

// A handled error may reach koa's onerror too.
const firstReport = firstSightings();
/** > 0 while koa's onerror runs: its own app.emit('error') is reported by the onerror wrapper. */
let insideOnerror = 0;

/** The route pattern @koa/router (and koa-router) leave on the context: `/users/:id`, with the router's prefix. */
function routeOf(ctx: KoaContextLike): string | undefined {
  const route = ownData(ctx, '_matchedRoute');
  return typeof route === 'string' ? route : undefined;
}

/** Route reader for events raised inside a koa request: the router's match on the scope's context. */
function koaRoute(_req: IncomingMessage, scope?: RequestScope): string | undefined {
  const ctx = scope?.frameworkContext;
  return ctx === undefined ? undefined : routeOf(ctx);
}

function isResponse(res: unknown): res is ServerResponse {
  return isObject(res) && typeof (res as { headersSent?: unknown }).headersSent === 'boolean';
}

/** After koa's onerror answered: the status it sent, unless a response had already begun. */
function reportAnswered(error: unknown, ctx: KoaContextLike, sentBefore: boolean): void {
  try {
    const res = ownData(ctx, 'res');
    // After a response had begun, koa only tells the app: the client got that response's status.
    const status = !sentBefore && isResponse(res) ? ownData(res, 'statusCode') : undefined;
    if (typeof status === 'number' && status < 500) return;
    if (firstReport(error)) send(error, ctx, typeof status === 'number' ? status : undefined);
  } catch {
    // never throw into koa's error path
  }
}

/** An error the app's own middleware handled and announced with app.emit('error', err, ctx). */
function reportHandled(error: unknown, ctx: unknown): void {
  try {
    const own = errorStatus(error);
    if (own !== undefined && own < 500) return;
    if (firstReport(error)) send(error, isObject(ctx) ? (ctx as KoaContextLike) : undefined, undefined);
  } catch {
    // never throw into the app's emit
  }
}

function send(error: unknown, ctx: KoaContextLike | undefined, status: number | undefined): void {
  const req = ownData(ctx, 'req');
  const res = ownData(ctx, 'res');
  reportError(error, 'koa', undefined, () =>
    answeredRequest(isObject(req) ? (req as IncomingMessage) : undefined, isResponse(res) ? res : undefined, ctx === undefined ? undefined : routeOf(ctx), status),
  );
}

export const koaContextInstrumentation: ModuleInstrumentation = {
  name: 'koa',
  module: 'koa/lib/context',
  versions: '>=2.0.0 <4.0.0',
  patch(exports) {
    if (!isObject(exports)) return exports;
    addRouteReader(koaRoute);
    watchForApplication(exports);
    // A method, as koa's own onerror is: no `prototype` property.
    wrapMethod(exports, 'onerror', (original) => ({
      onerror(this: KoaContextLike, err: unknown): unknown {
        // `ctx.onerror` doubles as a node-style callback: called without an error it does nothing.
        if (err === null || err === undefined || !isObject(this)) return Reflect.apply(original, this, arguments);
        const res = ownData(this, 'res');
        const sentBefore = isResponse(res) && res.headersSent;
        insideOnerror++;
        try {
          return Reflect.apply(original, this, arguments);
        } finally {
          insideOnerror--;
          reportAnswered(err, this, sentBefore);
        }
      },
    }).onerror);
    return exports;
  },
  unpatch(exports) {
    if (!isObject(exports)) return;
    unwrapMethod(exports, 'onerror');
    const d = Object.getOwnPropertyDescriptor(exports, APP);
    if (d && d.set !== undefined && isWrapper(d.set)) delete (exports as Record<string, unknown>)[APP];
    for (const proto of patchedApplications) {
      const e = Object.getOwnPropertyDescriptor(proto, 'emit');
      if (e && isWrapper(e.value)) delete (proto as Record<string, unknown>).emit;
      unwrapMethod(proto, 'createContext');
    }
    patchedApplications.clear();
  },
};

const patchedApplications = new Set<object>();

/**
 * koa's createContext does `context.app = this` on a new object that inherits from the context
 * prototype: a setter there sees the application once, makes `app` the plain own property the
 * assignment would have made, patches the application's prototype and goes away.
 */
function watchForApplication(contextProto: object): void {
  if (Object.getOwnPropertyDescriptor(contextProto, APP)) return;
  const setApp = markWrapper(function (this: object, value: unknown) {
    Object.defineProperty(this, APP, { value, writable: true, enumerable: true, configurable: true });
    const d = Object.getOwnPropertyDescriptor(contextProto, APP);
    if (d && d.set === setApp) delete (contextProto as Record<string, unknown>)[APP];
    patchApplication(value);
    // This first context was made by the unpatched createContext, inside its request's scope
    // (koa sets `app` before `req`, so the scope is the one entered for the request now running).
    const scope = requestStorage.getStore();
    if (scope !== undefined && scope.frameworkContext === undefined) scope.frameworkContext = this;
  }, function app(): void {});
  Object.defineProperty(contextProto, APP, { configurable: true, enumerable: false, get: noApp, set: setApp });
}

function noApp(): undefined {
  return undefined;
}

/** Gives koa's application prototype (the one that extends EventEmitter) its own `emit`. */
function patchApplication(app: unknown): void {
  try {
    let proto: unknown = isObject(app) ? Object.getPrototypeOf(app) : undefined;
    for (let i = 0; isObject(proto) && i < 8; i++) {
      const parent: unknown = Object.getPrototypeOf(proto);
      if (!isObject(parent)) return;
      if (Object.getOwnPropertyDescriptor(parent, 'emit')) {
        definedEmit(proto, parent);
        keepContexts(proto);
        return;
      }
      proto = parent;
    }
  } catch {
    // an app object we cannot read: its handled errors are not seen, nothing else changes
  }
}

function definedEmit(proto: object, parent: object): void {
  if (Object.getOwnPropertyDescriptor(proto, 'emit')) return; // ours already, or the app's own
  const inherited = (parent as { emit?: unknown }).emit;
  if (typeof inherited !== 'function') return;
  const emit = markWrapper(function emit(this: unknown, type: unknown) {
    if (type === 'error' && insideOnerror === 0) reportHandled(arguments[1], arguments[2]);
    // Looked up on each call: whatever the app (or another tool) put on EventEmitter since runs too.
    const current: unknown = Reflect.get(parent, 'emit', this);
    return Reflect.apply(typeof current === 'function' ? current : inherited, this, arguments);
  }, inherited);
  Object.defineProperty(proto, 'emit', { value: emit, writable: true, enumerable: false, configurable: true });
  patchedApplications.add(proto);
}

/** Wraps the application prototype's createContext: each request's scope keeps its koa context. */
function keepContexts(proto: object): void {
  // A method, as koa's class method is: no `prototype` property.
  wrapMethod(proto, 'createContext', (original) => ({
    createContext(this: unknown, req: unknown): unknown {
      const ctx: unknown = Reflect.apply(original, this, arguments);
      if (isObject(req) && isObject(ctx)) {
        const scope = scopeOf(req);
        if (scope !== undefined) scope.frameworkContext = ctx;
      }
      return ctx;
    },
  }).createContext);
  patchedApplications.add(proto);
}

export const koaInstrumentations: readonly ModuleInstrumentation[] = [koaContextInstrumentation];

