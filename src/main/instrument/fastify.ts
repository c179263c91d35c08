import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../shared/log';
import { reportError } from '../capture/report';
import { answeredRequest, ownData } from '../context/request-info';
import { addRouteReader } from '../context/store';
import { errorStatus } from './error-status';
import type { ChannelInstrumentation } from './types';
import { satisfies } from './versions';

/**
 * fastify 4 and 5 announce every new instance on `fastify.initialization`; we add one `onError`
 * hook to it. No module is patched. onError runs for errors from handlers, hooks, reply.send(err)
 * and body parsing, before the error handler answers, and the hook changes nothing in the reply.
 * (fastify 5's `tracing:fastify.request.handler:error` channel misses most of those.)
 *
 * Breakpoint hits and `captureException` have only Node's request, which leads nowhere back to
 * fastify's. So the instance also gets an `onRoute` hook (run when a route is added, never per
 * request) that lists each route's path pattern by method, and the route of an event is worked
 * out from Node's request only when an event needs it: fastify's own `findRoute` says which
 * parameters the URL matched, and the one listed pattern that gives back the URL with those
 * parameters is the route.
 */

const CHANNEL = 'fastify.initialization';
const VERSIONS = '>=4.0.0 <6.0.0';

interface FastifyLike {
  version?: unknown;
  errorHandler?: unknown;
  addHook(name: string, fn: Function): unknown;
  findRoute?: (options: { method: string; url: string; constraints?: Record<string, unknown> }) => unknown;
}

/** The routes of one root instance (its plugins' included), and the instance to ask. */
interface KnownRoutes {
  fastify: FastifyLike;
  byMethod: Map<string, Set<string>>;
}

interface FastifyRequestLike {
  raw?: IncomingMessage;
  id?: unknown;
  routeOptions?: { url?: unknown };
  routerPath?: unknown;
}

interface FastifyReplyLike {
  statusCode?: unknown;
  server?: { errorHandler?: unknown };
}

let logger: Logger | undefined;
let active = false;
// Node's server -> the fastify instance serving it (one entry per instance, none per request).
const routesByServer = new WeakMap<object, KnownRoutes>();
const MAX_ROUTES_PER_METHOD = 10_000;
const reported = new WeakSet<object>();
// The error handler each root instance had at creation: fastify's default one.
const defaultHandlers = new WeakSet<Function>();

/** The route pattern of a fastify request (`/users/:id`), also for frameworks built on fastify. */
export function fastifyRoute(request: FastifyRequestLike): string | undefined {
  // routeOptions (4.10+, 5) first: reading routerPath on later 4.x prints a deprecation warning.
  const options = request.routeOptions;
  if (options && typeof options === 'object') return typeof options.url === 'string' ? options.url : undefined;
  return typeof request.routerPath === 'string' ? request.routerPath : undefined;
}

/** The status fastify's default error handler sends; unknown when the route has its own error handler. */
function statusOf(error: unknown, reply: FastifyReplyLike): number | undefined {
  const own = errorStatus(error);
  const handler = reply.server?.errorHandler;
  if (typeof handler === 'function' && !defaultHandlers.has(handler)) return own;
  if (own !== undefined) return own;
  const current = reply.statusCode;
  return typeof current === 'number' && current >= 400 && current < 600 ? current : 500;
}

// A plain 4-parameter function: fastify calls it with a callback (both 4 and 5).
function aivoryMonitorOnError(request: FastifyRequestLike, reply: FastifyReplyLike, error: unknown, done: () => void): void {
  try {
    if (active && !(error !== null && typeof error === 'object' && reported.has(error))) {
      const own = errorStatus(error);
      // Client errors (validation 400s, 404s, 415s) are answers, not failures.
      if (own === undefined || own >= 500) {
        if (error !== null && typeof error === 'object') reported.add(error);
        // The status is read now (the reply changes later); the rest only when the event is sent.
        const status = statusOf(error, reply);
        reportError(error, 'fastify', undefined, () => answeredRequest(request.raw || undefined, undefined, fastifyRoute(request), status, typeof request.id === 'string' ? request.id : undefined));
      }
    }
  } catch {
    // never disturb fastify's error path
  }
  done();
}

/** The `onRoute` hook of one instance: lists the pattern under each of the route's methods. */
function routeLister(known: KnownRoutes): (options: unknown) => void {
  return function aivoryMonitorOnRoute(options: unknown): void {
    try {
      const url = ownData(options, 'url');
      const method = ownData(options, 'method');
      if (typeof url !== 'string') return;
      for (const m of Array.isArray(method) ? method : [method]) {
        if (typeof m !== 'string') continue;
        const key = m.toUpperCase();
        let patterns = known.byMethod.get(key);
        if (patterns === undefined) known.byMethod.set(key, (patterns = new Set()));
        if (patterns.size < MAX_ROUTES_PER_METHOD) patterns.add(url);
      }
    } catch {
      // a route we cannot list: events inside it carry no route
    }
  };
}

/**
 * `pattern` with its parameters filled in from `params` (find-my-way's syntax: `:name`, ending at
 * `/`, `-`, `.` or a `(regex)`; `*`; `::` for a literal colon), or undefined when the pattern has
 * a parameter `params` lacks or lacks one it has.
 */
export function fillRoute(pattern: string, params: Readonly<Record<string, unknown>>): string | undefined {
  let out = '';
  let used = 0;
  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i];
    if (ch === ':' && pattern[i + 1] === ':') {
      out += ':';
      i += 2;
    } else if (ch === ':' || ch === '*') {
      let name = '*';
      let j = i + 1;
      if (ch === ':') {
        while (j < pattern.length && !'/-.('.includes(pattern[j])) j++;
        name = pattern.slice(i + 1, j);
        if (pattern[j] === '(') {
          for (let depth = 0; j < pattern.length; j++) {
            if (pattern[j] === '\\') j++;
            else if (pattern[j] === '(') depth++;
            else if (pattern[j] === ')' && --depth === 0) break;
          }
          j++;
        }
      }
      const value = Object.prototype.hasOwnProperty.call(params, name) ? params[name] : undefined;
      if (typeof value !== 'string') return undefined;
      out += value;
      used++;
      i = j;
    } else {
      out += ch;
      i++;
    }
  }
  return used === Object.keys(params).length ? out : undefined;
}

function decodedOrSelf(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The route pattern fastify matched Node's request to, worked out when an event needs it. */
function routeOfNodeRequest(req: IncomingMessage): string | undefined {
  const known = routesByServer.get(ownData(ownData(req, 'socket'), 'server') as object);
  const method = ownData(req, 'method');
  const url = ownData(req, 'url');
  if (known === undefined || typeof method !== 'string' || typeof url !== 'string' || typeof known.fastify.findRoute !== 'function') return undefined;
  const candidates = known.byMethod.get(method);
  if (candidates === undefined) return undefined;
  const path = url.split('?', 1)[0];
  // Constrained routes (a version or a host) are found only with the values fastify's router
  // derives from the request for its built-in strategies; custom strategies are not known here.
  const headers = req.headers as Record<string, unknown> | undefined;
  const constraints = { version: headers?.['accept-version'], host: headers?.host || headers?.[':authority'] };
  const found = known.fastify.findRoute({ method, url: path, constraints });
  const params = ownData(found, 'params');
  if (params === null || typeof params !== 'object') return undefined;
  const forms = new Set([path, decodedOrSelf(path)]);
  for (const form of [...forms]) if (form.length > 1 && form.endsWith('/')) forms.add(form.slice(0, -1));
  let match: string | undefined;
  for (const pattern of candidates) {
    const filled = fillRoute(pattern, params as Record<string, unknown>);
    if (filled === undefined || !(forms.has(filled) || forms.has(filled.replace(/\/$/, '')))) continue;
    // Two different patterns giving back this URL: which one fastify chose is not known.
    if (match !== undefined && match !== pattern) return undefined;
    match = pattern;
  }
  return match;
}

/** Route reader for events raised inside a request a fastify instance serves (others: no instance found). */
function fastifyNodeRoute(req: IncomingMessage): string | undefined {
  try {
    return routeOfNodeRequest(req);
  } catch {
    return undefined;
  }
}

function onInitialization(message: unknown): void {
  try {
    const fastify = (message as { fastify?: FastifyLike }).fastify;
    if (!fastify || typeof fastify.addHook !== 'function') return;
    const version = typeof fastify.version === 'string' ? fastify.version : '';
    if (!satisfies(version, VERSIONS)) {
      logger?.debug(`fastify ${version || '(unknown version)'} is not supported (${VERSIONS}); left unpatched`);
      return;
    }
    if (typeof fastify.errorHandler === 'function') defaultHandlers.add(fastify.errorHandler);
    fastify.addHook('onError', aivoryMonitorOnError);
    const server = ownData(fastify, 'server');
    if (server !== null && typeof server === 'object' && typeof fastify.findRoute === 'function') {
      const known: KnownRoutes = { fastify, byMethod: new Map() };
      routesByServer.set(server, known);
      fastify.addHook('onRoute', routeLister(known));
    }
    logger?.debug(`instrumented a fastify ${version} instance`);
  } catch (err) {
    logger?.debug(`could not instrument fastify: ${(err as Error)?.message ?? String(err)}`);
  }
}

export const fastifyInstrumentation: ChannelInstrumentation = {
  name: 'fastify',
  versions: VERSIONS,
  patch(log) {
    logger = log;
    active = true;
    addRouteReader(fastifyNodeRoute);
    diagnosticsChannel.subscribe(CHANNEL, onInitialization);
  },
  unpatch() {
    // Hooks cannot be removed from a fastify instance; they do nothing once inactive.
    active = false;
    diagnosticsChannel.unsubscribe(CHANNEL, onInitialization);
  },
};
