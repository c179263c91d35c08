import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { DEV_API_KEY } from '../shared/defaults';
import { AGENT_VERSION } from '../shared/version';
import { createAgentHub } from './agent-hub';
import { handleApi } from './http/api';
import { sendError } from './http/respond';
import { EventStream } from './http/sse';
import { serveStatic } from './http/static';
import { AgentStore } from './store/agents';
import { BreakpointStore } from './store/breakpoints';
import { ExceptionStore } from './store/exceptions';
import { SourceFiles } from './store/sources';

export interface ServerOptions {
  /** 0 picks a free port. */
  port: number;
  host: string;
  /** Folder of the append-only data files; created when missing. */
  dataDir: string;
  /** API keys accepted besides (unless `devKey` is false) the development key. */
  keys?: readonly string[];
  /** Accept `ilscipio-dev-2024`. Default true. */
  devKey?: boolean;
  /** Folder of the web UI. Default: the package's ui/. */
  uiDir?: string;
  /** Where warnings go (one line each). Default: stderr. */
  log?: (line: string) => void;
}

export interface RunningServer {
  readonly port: number;
  readonly host: string;
  /** http://host:port */
  readonly url: string;
  close(): Promise<void>;
}

/** Agent WebSocket endpoints: the seed's local path and the production path. */
export const AGENT_PATHS: ReadonlySet<string> = new Set(['/ws/monitor/agent', '/ws/agent']);

const defaultLog = (line: string): void => {
  process.stderr.write(`[aivory-monitor server] ${line}\n`);
};

/**
 * Starts the local development backend: agents' WebSocket endpoints, the JSON API, live updates
 * and the web UI. Rejects (EADDRINUSE, EACCES...) when it cannot listen.
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? defaultLog;
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const uiDir = resolve(opts.uiDir ?? join(__dirname, '..', '..', 'ui'));
  const keys = new Set(opts.keys ?? []);
  if (opts.devKey !== false) keys.add(DEV_API_KEY);

  const sources = new SourceFiles();
  const learn = (frames: unknown): void => sources.learn(frames);
  const agents = new AgentStore(dataDir, log);
  const exceptions = new ExceptionStore(dataDir, log, learn);
  const breakpoints = new BreakpointStore(dataDir, log, learn);
  const stream = new EventStream();
  const hub = createAgentHub({ keys, agents, exceptions, breakpoints, stream, log });
  const loopbackOnly = /^(localhost|127(?:\.\d{1,3}){3}|::1)$/i.test(opts.host);
  const deps = { version: AGENT_VERSION, agents, exceptions, breakpoints, sources, stream, hub, loopbackOnly };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendError(res, 400, 'bad url');
      return;
    }
    handleApi(req, res, url, deps)
      .then((handled) => {
        if (handled) return;
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          sendError(res, 405, 'method not allowed');
          return;
        }
        return serveStatic(uiDir, url.pathname, res, req.method === 'HEAD');
      })
      .catch((err: unknown) => {
        log(`request ${req.method} ${url.pathname} failed: ${(err as Error)?.message ?? String(err)}`);
        if (!res.headersSent) sendError(res, 500, 'internal error');
        else res.destroy();
      });
  };

  const server = createServer(onRequest);
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => undefined);
    const path = (req.url ?? '').split('?')[0] ?? '';
    // Agents send no Origin; a browser page does: it must not inject events or read breakpoints.
    if (!AGENT_PATHS.has(path) || req.headers.origin !== undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    hub.handleUpgrade(req, socket, head);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const closeStores = (): void => {
    agents.close();
    exceptions.close();
    breakpoints.close();
  };

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (err) => {
      closeStores();
      reject(err);
    });
    server.listen(opts.port, opts.host, () => resolvePromise());
  });

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | undefined;
  return {
    port,
    host: opts.host,
    url: `http://${hostForUrl}:${port}`,
    close() {
      closing ??= new Promise<void>((done) => {
        hub.close();
        stream.close();
        server.close(() => {
          closeStores();
          done();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
