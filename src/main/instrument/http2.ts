import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { requestStorage, type RequestScope } from '../context/store';
import { requestScopeChannel } from './scope-slot';

/**
 * HTTP/2 servers (`http2.createServer`/`createSecureServer`, their compatibility `request` event,
 * fastify's `http2: true`): each stream a client opens is a request with its own scope, as
 * http.ts gives HTTP/1 requests. Node publishes a new server stream on this channel (Node 22 and
 * later) right before it schedules the session's 'stream' event, so the scope entered here is the
 * one the 'stream' and 'request' handlers, and what they start, run in. Node 20 has no such
 * channel: there HTTP/2 requests have no scope of their own.
 *
 * A stream's request is described (when an event needs it) through small views over the stream
 * and its headers, shaped as the parts of Node's request and response that request-info.ts reads.
 * gRPC calls (grpc-js serves them over HTTP/2) are grpc.ts's: not entered here.
 *
 * A request body's chunks come in the connection's context, which is that of whichever stream
 * started last: with streams interleaved on one connection, a body's 'data' and 'end' listeners
 * (and a compatibility request's) ran in another request's scope. So each stream keeps its scope
 * (ScopeSlot), and server streams' `push`, which Node calls with every chunk and at the end,
 * re-enters it first, on every Node version (measured: 40 interleaved streams, users crossed
 * without it on Node 22, 24 and 26).
 */
const CHANNEL = 'http2.server.stream.start';

interface StreamStart {
  stream: ServerHttp2Stream;
  headers: IncomingHttpHeaders;
}

/**
 * What request-info.ts and the route readers read of a request, as own data properties (readers
 * read no getters of the app's objects, and the session's `socket` is a Proxy): method, target,
 * headers, and of the connection what a socket would tell (its `server` leads the fastify reader
 * to its instance; the peer's address is read only when the request is described).
 */
function requestView(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): IncomingMessage {
  const session = stream.session;
  const socket = {
    server: (session as { server?: unknown } | undefined)?.server,
    encrypted: session?.encrypted === true,
    get remoteAddress(): string | undefined {
      return session?.socket?.remoteAddress;
    },
  };
  return { method: headers[':method'], url: headers[':path'], headers, socket } as unknown as IncomingMessage;
}

/**
 * What request-info.ts reads of a response: whether its headers went out, and with which status;
 * `stream` (own data) is how http-5xx.ts finds it again when the stream answers.
 */
class ResponseView {
  constructor(readonly stream: ServerHttp2Stream) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get statusCode(): number | undefined {
    // As the app gave it to `respond` (a number or a numeric string).
    const status = Number(this.stream.sentHeaders?.[':status']);
    return Number.isInteger(status) ? status : undefined;
  }
}

export const http2Instrumentation = requestScopeChannel('http2', CHANNEL, (keepScope) => (message) => {
  try {
    const { stream, headers } = message as StreamStart;
    const type = headers['content-type'];
    if (typeof type === 'string' && type.startsWith('application/grpc')) return;
    const scope: RequestScope = {
      req: requestView(stream, headers),
      res: new ResponseView(stream) as unknown as ServerResponse,
    };
    requestStorage.enterWith(scope);
    keepScope(stream, scope, Object.getPrototypeOf);
  } catch {
    // Node reports a subscriber's exception as uncaught: never into the app's stream handling
  }
});
