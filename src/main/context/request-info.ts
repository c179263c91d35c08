import { createEventId } from '../../shared/ids';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { types } from 'node:util';
import type { RequestInfo } from '../../shared/protocol';
import { getAgentState } from '../state';
import { REDACTED, redactTarget, requestRedactor } from './redact';

const MAX_HEADERS = 100;
const MAX_VALUE = 1000;
const REQUEST_ID_HEADERS = ['x-request-id', 'x-correlation-id', 'request-id', 'x-amzn-trace-id'];

// One id per request, whoever describes it first (the scope, express, fastify...).
const requestIds = new WeakMap<object, string>();

/**
 * Node's own request and response classes, looked up when first needed: loading node:http at the
 * agent's start would add several milliseconds to every process, and whoever asks has a server.
 * (Frameworks' wrappers, fastify's request and reply, have `method`, `headers`... as getters.)
 */
let httpClasses: { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse } | undefined;
function nodeHttp(): NonNullable<typeof httpClasses> {
  httpClasses ??= require('node:http') as typeof import('node:http');
  return httpClasses;
}

export function isNodeRequest(value: unknown): value is IncomingMessage {
  return value instanceof nodeHttp().IncomingMessage;
}

export function isNodeResponse(value: unknown): value is ServerResponse {
  return value instanceof nodeHttp().ServerResponse;
}

/** An own data property, read without running getters or Proxy traps. */
export function ownData(obj: unknown, key: PropertyKey): unknown {
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function') || types.isProxy(obj)) return undefined;
  try {
    const d = Object.getOwnPropertyDescriptor(obj, key);
    return d && 'value' in d ? d.value : undefined;
  } catch {
    return undefined;
  }
}

function cut(value: string): string {
  return value.length > MAX_VALUE ? value.slice(0, MAX_VALUE) + '...' : value;
}

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.filter((v) => typeof v === 'string').join(', ');
  return undefined;
}

/**
 * The request of a framework's error event: `req` described (nothing when there is none), the
 * route the framework matched, and the status it answered with. Without a known status none is
 * sent, also not one read from `res`: that may be an answer the framework had not chosen yet.
 */
export function answeredRequest(req: IncomingMessage | undefined, res: ServerResponse | undefined, route: string | undefined, status: number | undefined, requestId?: string): RequestInfo {
  const info: RequestInfo = req ? describeRequest(req, res, requestId) : {};
  if (route !== undefined) info.route = route;
  if (status !== undefined) info.status_code = status;
  else delete info.status_code;
  return info;
}

/**
 * Describes a Node request for an event: method, absolute URL with secret query values redacted,
 * redacted headers, client IP, user agent and a request id. Runs only when an error is reported,
 * never per request. `requestId` (e.g. fastify's request.id) wins over headers and generated ids.
 */
export function describeRequest(req: IncomingMessage, res?: ServerResponse, requestId?: string): RequestInfo {
  const info: RequestInfo = {};
  try {
    const config = getAgentState()?.config;
    const redactor = requestRedactor(config?.redactNames ?? [], config?.apiKey ?? '');
    const method = req.method;
    if (typeof method === 'string') info.method = method;
    const headers = (req.headers ?? {}) as Record<string, unknown>;
    // express rewrites req.url inside mounted routers; originalUrl is what the client asked for.
    const original = ownData(req, 'originalUrl');
    const target = typeof original === 'string' ? original : req.url;
    if (typeof target === 'string') {
      const redacted = cut(redactTarget(target, redactor));
      // HTTP/2 (a compatibility request: fastify's `http2: true`, http2.createServer) names the host `:authority`.
      const host = headerText(headers.host) ?? headerText(headers[':authority']);
      const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
      info.url = host && redacted.startsWith('/') ? `${encrypted ? 'https' : 'http'}://${host}${redacted}` : redacted;
    }
    const out: Record<string, string> = {};
    let n = 0;
    for (const name of Object.keys(headers)) {
      if (n++ >= MAX_HEADERS) break;
      const text = headerText(headers[name]);
      if (text === undefined) continue;
      out[name] = redactor.isSecretHeader(name) || redactor.isSecretValue(text) ? REDACTED : cut(text);
    }
    info.headers = out;
    const ip = clientIp(headers, req);
    if (ip) info.client_ip = ip;
    const ua = headerText(headers['user-agent']);
    if (ua) info.user_agent = cut(ua);
    info.request_id = requestId ?? requestIdOf(req, headers);
    if (res?.headersSent === true && typeof res.statusCode === 'number') info.status_code = res.statusCode;
  } catch {
    // a strange request object: keep what was read
  }
  return info;
}

/** The first X-Forwarded-For hop (what proxies report as the client), else the socket peer. */
function clientIp(headers: Record<string, unknown>, req: IncomingMessage): string | undefined {
  const forwarded = headerText(headers['x-forwarded-for']);
  if (forwarded) {
    const first = forwarded.split(',')[0].trim();
    if (first) return cut(first);
  }
  const real = headerText(headers['x-real-ip']);
  if (real) return cut(real.trim());
  const peer = req.socket?.remoteAddress;
  return typeof peer === 'string' ? peer : undefined;
}

function requestIdOf(req: object, headers: Record<string, unknown>): string {
  let id = requestIds.get(req);
  if (id) return id;
  for (const name of REQUEST_ID_HEADERS) {
    const v = headerText(headers[name]);
    if (v) {
      id = cut(v);
      break;
    }
  }
  id ??= createEventId();
  requestIds.set(req, id);
  return id;
}
