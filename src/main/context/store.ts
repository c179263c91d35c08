import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GLOBAL_KEYS } from '../../shared/defaults';
import { toPlainData } from '../../shared/plain-data';
import type { EventContext, RequestInfo, UserInfo } from '../../shared/protocol';
import { describeRequest } from './request-info';
import { publishGlobal } from '../globals';

/**
 * What one request carries: the request itself (described only when an error is reported, so that
 * a request costs one small object) plus context/user set while it runs.
 */
export interface RequestScope {
  req?: IncomingMessage;
  res?: ServerResponse;
  /** The description of `req`, built on first use; or given directly by whoever entered the scope. */
  request?: RequestInfo;
  context?: Record<string, unknown>;
  user?: UserInfo;
  /** The route a framework dispatched `req` to, and the mount path at that moment. */
  dispatchedRoute?: unknown;
  dispatchedBase?: string;
  /** The framework's own object for this request (koa's context, hapi's request), for route readers that need it. */
  frameworkContext?: object;
  /** Whose object `frameworkContext` is, where a route reader must tell (hapi). */
  frameworkName?: string;
  /** The error last reported for this request (a handled error may be passed on and seen again). */
  reported?: unknown;
  /** Whether any event was reported while this request was being served (reportError sets it). */
  errorReported?: boolean;
  /** The last object your code threw while serving this request, noted at its exception pause (http-5xx.ts). */
  thrown?: object;
  /** The same for what Node or a dependency threw while your code called it (`new URL`, fs). */
  thrownThrough?: object;
  /** An error the framework is answering, handed over by its instrumentation before the answer (hono.ts), and the mechanism to report it under. */
  answering?: { error: unknown; mechanism: string };
}

/** The per-request store. Instrumentations enter it when a request starts. */
export const requestStorage = new AsyncLocalStorage<RequestScope>();

/** The scope of `req` when the code running now belongs to that request. */
export function scopeOf(req: object): RequestScope | undefined {
  const scope = requestStorage.getStore();
  return scope !== undefined && scope.req === req ? scope : undefined;
}

/** Reads the route template (`/users/:id`) a framework dispatched a request to, if it knows. */
export type RouteReader = (req: IncomingMessage, scope?: RequestScope) => string | undefined;
const routeReaders: RouteReader[] = [];

/** Frameworks whose route can be read from the Node request register a reader here. */
export function addRouteReader(reader: RouteReader): void {
  if (!routeReaders.includes(reader)) routeReaders.push(reader);
}

/** The scope's request description, built on first use, with the route where a framework knows it. */
function scopeRequest(scope: RequestScope): RequestInfo | undefined {
  if (scope.request || !scope.req) return scope.request;
  const info = describeRequest(scope.req, scope.res);
  for (const read of routeReaders) {
    const route = read(scope.req, scope);
    if (route !== undefined) {
      info.route = route;
      break;
    }
  }
  // cached only once the route is known: earlier (a middleware) the route may not be dispatched yet
  if (info.route !== undefined) scope.request = info;
  return info;
}

let globalContext: Record<string, unknown> = {};
let globalUser: UserInfo | undefined;

function asRecord(value: unknown): Record<string, unknown> | undefined {
  const plain = toPlainData(value);
  return plain !== null && typeof plain === 'object' && !Array.isArray(plain) ? (plain as Record<string, unknown>) : undefined;
}

/** Merges keys into the current request's context, or the global one outside a request. */
export function setContext(value: unknown): void {
  const add = asRecord(value);
  if (!add) return;
  const scope = requestStorage.getStore();
  if (scope) scope.context = { ...scope.context, ...add };
  else globalContext = { ...globalContext, ...add };
}

/** Sets the user of the current request, or the global user outside a request. `null` clears it. */
export function setUser(value: unknown): void {
  let user: UserInfo | undefined;
  if (value !== null && value !== undefined) {
    const plain = asRecord(value);
    if (!plain) return;
    user = {};
    for (const key of ['id', 'email', 'username'] as const) {
      const v = plain[key];
      if (typeof v === 'string' || typeof v === 'number') user[key] = String(v);
    }
  }
  const scope = requestStorage.getStore();
  if (scope) scope.user = user;
  else globalUser = user;
}

/** The context of an event raised now: global, then request-scoped, then per-call keys. */
export function currentContext(extra?: unknown): EventContext {
  const scope = requestStorage.getStore();
  const ctx: EventContext = { ...globalContext };
  if (scope) {
    Object.assign(ctx, scope.context);
    const request = scopeRequest(scope);
    if (request) ctx.request = request;
  }
  const user = scope?.user ?? globalUser;
  if (user) ctx.user = user;
  if (extra !== undefined) {
    const add = asRecord(extra);
    if (add) Object.assign(ctx, add);
  }
  return ctx;
}

/**
 * The context of code running now, as a function to call later: the references are taken now
 * (setContext/setUser replace their objects, never change them), the request is described when
 * called. A breakpoint hit keeps the line's context without describing a request while it runs.
 */
export function contextAtLine(): () => EventContext {
  const scope = requestStorage.getStore();
  const global = globalContext;
  const own = scope?.context;
  const user = scope?.user ?? globalUser;
  return () => {
    const ctx: EventContext = { ...global, ...own };
    const request = scope ? scopeRequest(scope) : undefined;
    if (request) ctx.request = request;
    if (user) ctx.user = user;
    return ctx;
  };
}

/** Test and shutdown helper: forget global context and user. */
export function resetGlobalContext(): void {
  globalContext = {};
  globalUser = undefined;
}

/**
 * Publishes `currentContext` on a global Symbol.for key, non-enumerable, so that a breakpoint hit
 * (code the worker runs on this thread during the pause) can attach the request context.
 */
export function installContextReader(): void {
  const g = globalThis as unknown as Record<symbol, unknown>;
  if (typeof g[GLOBAL_KEYS.context] === 'function') return;
  publishGlobal(GLOBAL_KEYS.context, () => currentContext());
}
