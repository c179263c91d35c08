import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestStorage, type RequestScope } from '../context/store';
import { requestScopeChannel } from './scope-slot';

const CHANNEL = 'http.server.request.start';

interface RequestStart {
  request: IncomingMessage;
  response: ServerResponse;
}

/**
 * With AsyncContextFrame (Node 24 and later; Node 22 with a flag) Node runs a request's body
 * events ('data', 'end') in the context of the connection, which was made before the request: an
 * app reading the body with `req.on('data'|'end')` would lose the request's scope from there on
 * (its setUser would set the global user). Node 20/22's AsyncLocalStorage (async_hooks, with its
 * `_propagate`) keeps it, as do body parsers that bind their callbacks (raw-body, co-body, fastify).
 * So, on AsyncContextFrame only, a request that may have a body keeps its scope (ScopeSlot), and
 * the request's `push`, which Node's parser calls with every chunk and at the end, re-enters that
 * scope first: 'data' listeners then run in it, and 'end' is scheduled from it.
 */
const FRAME_BASED = typeof (AsyncLocalStorage.prototype as { _propagate?: unknown })._propagate !== 'function';
const requestPrototype = (): object => (require('node:http') as typeof import('node:http')).IncomingMessage.prototype;

/**
 * Node publishes this right before `server.emit('request')` (http and https). Entering the store
 * here gives the handler and everything it starts the request's scope, without wrapping `emit`:
 * a wrapper would add stack frames to every error a handler throws, and express prints those.
 */
export const httpInstrumentation = requestScopeChannel('http', CHANNEL, (keepScope) => (message) => {
  const { request, response } = message as RequestStart;
  const scope: RequestScope = { req: request, res: response };
  requestStorage.enterWith(scope);
  // GET and HEAD requests carry no body: they cost nothing more.
  if (FRAME_BASED && request.method !== 'GET' && request.method !== 'HEAD') {
    keepScope(request, scope, requestPrototype);
  }
});
