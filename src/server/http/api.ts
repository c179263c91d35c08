import type { IncomingMessage, ServerResponse } from 'node:http';
import { LIMITS } from '../limits';
import type { AgentHub } from '../agent-hub';
import type { AgentStore } from '../store/agents';
import type { BreakpointStore } from '../store/breakpoints';
import type { ExceptionStore } from '../store/exceptions';
import type { SourceFiles } from '../store/sources';
import { parseNewBreakpoint } from '../validate';
import { readJsonBody, sendError, sendJson } from './respond';
import type { EventStream } from './sse';

export interface ApiDeps {
  version: string;
  agents: AgentStore;
  exceptions: ExceptionStore;
  breakpoints: BreakpointStore;
  sources: SourceFiles;
  stream: EventStream;
  hub: AgentHub;
  /** Bound to a loopback address: then only loopback Host headers are served (DNS rebinding). */
  loopbackOnly: boolean;
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

const intParam = (v: string | null, fallback: number, min: number, max: number): number | undefined => {
  if (v === null || v === '') return fallback;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
};

/**
 * The JSON API under /api (and /health). Returns false when the path is not an API path.
 * Writes are refused from other origins: a web page must not be able to set breakpoints (their
 * conditions run in the monitored app).
 */
export async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, deps: ApiDeps): Promise<boolean> {
  const { pathname } = url;
  const method = req.method ?? 'GET';
  if (pathname === '/health') {
    const c = deps.hub.counters();
    sendJson(res, 200, { status: 'ok', version: deps.version, agents_connected: deps.agents.connectedCount(), connections_total: c.connections, connections_rejected: c.rejected });
    return true;
  }
  if (pathname !== '/api' && !pathname.startsWith('/api/')) return false;
  const parts = pathname.split('/').slice(2).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '\0';
    }
  });
  const [resource, id, sub] = parts;
  if (deps.loopbackOnly && !LOOPBACK_HOST.test(req.headers.host ?? '')) {
    sendError(res, 403, 'this server answers only to localhost');
    return true;
  }

  if (method !== 'GET' && method !== 'HEAD') {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
      sendError(res, 403, 'cross-origin writes are not allowed');
      return true;
    }
    if (method === 'POST' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      sendError(res, 415, 'content-type must be application/json');
      return true;
    }
  }

  if (resource === 'agents' && parts.length === 1 && method === 'GET') {
    sendJson(res, 200, deps.agents.list());
  } else if (resource === 'agents' && parts.length === 3 && sub === 'configure' && method === 'POST') {
    await configureAgent(req, res, deps, id as string);
  } else if (resource === 'exceptions' && parts.length === 1 && method === 'GET') {
    sendJson(res, 200, deps.exceptions.listGroups());
  } else if (resource === 'exceptions' && parts.length === 2 && method === 'GET') {
    const g = deps.exceptions.group(id as string);
    if (g) sendJson(res, 200, g);
    else sendError(res, 404, 'no such exception group');
  } else if (resource === 'events' && parts.length === 2 && method === 'GET') {
    const e = deps.exceptions.event(id as string);
    if (e !== undefined) sendJson(res, 200, e);
    else sendError(res, 404, 'no such event');
  } else if (resource === 'breakpoints' && parts.length === 1 && method === 'GET') {
    sendJson(res, 200, deps.breakpoints.list());
  } else if (resource === 'breakpoints' && parts.length === 1 && method === 'POST') {
    await createBreakpoint(req, res, deps);
  } else if (resource === 'breakpoints' && parts.length === 2 && method === 'DELETE') {
    const bp = deps.breakpoints.remove(id as string);
    if (!bp) {
      sendError(res, 404, 'no such breakpoint');
    } else {
      deps.hub.sendTo('remove_breakpoint', (agentId) => (bp.agent_id === null || bp.agent_id === agentId ? { id: bp.id } : undefined));
      deps.stream.emit('breakpoint', bp);
      sendJson(res, 200, bp);
    }
  } else if (resource === 'breakpoints' && parts.length === 3 && sub === 'hits' && method === 'GET') {
    const hits = deps.breakpoints.hits(id as string);
    if (hits) sendJson(res, 200, hits);
    else sendError(res, 404, 'no such breakpoint');
  } else if (resource === 'source' && parts.length === 1 && method === 'GET') {
    const file = url.searchParams.get('file');
    const line = intParam(url.searchParams.get('line'), 1, 1, 10_000_000);
    const context = intParam(url.searchParams.get('context'), 5, 0, LIMITS.maxSourceContext);
    if (!file || line === undefined || context === undefined) {
      sendError(res, 400, 'file, line (>= 1) and context (0..200) are expected');
    } else {
      const src = await deps.sources.read(file, line, context);
      if (src) sendJson(res, 200, src);
      else sendError(res, 404, 'source not available (only files of frames received from agents are shown)');
    }
  } else if (resource === 'stream' && parts.length === 1 && method === 'GET') {
    deps.stream.attach(req, res, url.searchParams.get('since'));
  } else {
    sendError(res, parts.length <= 3 && ['agents', 'exceptions', 'events', 'breakpoints', 'source', 'stream'].includes(resource ?? '') ? 405 : 404, 'not found');
  }
  return true;
}

const NO_BODY = Symbol('no body');

/** The request's JSON body, or NO_BODY once the error answer (too large, not JSON) is sent. */
async function jsonBodyOrAnswer(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  try {
    return await readJsonBody(req, LIMITS.maxBodyBytes);
  } catch (err) {
    sendError(res, (err as { status?: number }).status ?? 400, (err as Error).message);
    return NO_BODY;
  }
}

/** Forwards a `configure` frame (runtime settings) to one connected agent. */
async function configureAgent(req: IncomingMessage, res: ServerResponse, deps: ApiDeps, agentId: string): Promise<void> {
  const body = await jsonBodyOrAnswer(req, res);
  if (body === NO_BODY) return;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    sendError(res, 400, 'a JSON object of settings is expected');
    return;
  }
  const sent = deps.hub.sendTo('configure', (id) => (id === agentId ? body : undefined));
  if (sent === 0) sendError(res, 404, 'no such connected agent');
  else sendJson(res, 200, { sent: true });
}

async function createBreakpoint(req: IncomingMessage, res: ServerResponse, deps: ApiDeps): Promise<void> {
  const body = await jsonBodyOrAnswer(req, res);
  if (body === NO_BODY) return;
  const parsed = parseNewBreakpoint(body, LIMITS);
  if (!parsed.ok) {
    sendError(res, 400, parsed.error);
    return;
  }
  const bp = deps.breakpoints.create(parsed.value);
  deps.stream.emit('breakpoint', bp);
  // Sent to the agents connected now; agents that connect later get it on register.
  deps.hub.sendTo('set_breakpoint', (agentId) => deps.breakpoints.framesFor(agentId, bp)[0]);
  sendJson(res, 201, bp);
}
