import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../shared/log';
import type { RequestInfo } from '../../shared/protocol';
import { reportError } from '../capture/report';
import { describeRequest } from '../context/request-info';
import { errorStatus } from './error-status';
import type { ChannelInstrumentation } from './types';
import { satisfies } from './versions';

/**
 * fastify 4 and 5 announce every new instance on `fastify.initialization`; we add one `onError`
 * hook to it. No module is patched. onError runs for errors from handlers, hooks, reply.send(err)
 * and body parsing, before the error handler answers, and the hook changes nothing in the reply.
 * (fastify 5's `tracing:fastify.request.handler:error` channel misses most of those.)
 */

const CHANNEL = 'fastify.initialization';
const VERSIONS = '>=4.0.0 <6.0.0';

interface FastifyLike {
  version?: unknown;
  errorHandler?: unknown;
  addHook(name: string, fn: Function): unknown;
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
        reportError(error, 'fastify', undefined, () => {
          const info: RequestInfo = request.raw ? describeRequest(request.raw, undefined, typeof request.id === 'string' ? request.id : undefined) : {};
          const route = fastifyRoute(request);
          if (route !== undefined) info.route = route;
          if (status !== undefined) info.status_code = status;
          return info;
        });
      }
    }
  } catch {
    // never disturb fastify's error path
  }
  done();
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
    diagnosticsChannel.subscribe(CHANNEL, onInitialization);
  },
  unpatch() {
    // Hooks cannot be removed from a fastify instance; they do nothing once inactive.
    active = false;
    diagnosticsChannel.unsubscribe(CHANNEL, onInitialization);
  },
};
