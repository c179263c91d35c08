import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { LIMITS } from './limits';
import type { EventStream } from './http/sse';
import type { AgentStore } from './store/agents';
import type { BreakpointStore } from './store/breakpoints';
import type { ExceptionStore } from './store/exceptions';
import { parseAgentFrame, type AgentFrameIn } from './validate';

export interface AgentHubDeps {
  keys: ReadonlySet<string>;
  agents: AgentStore;
  exceptions: ExceptionStore;
  breakpoints: BreakpointStore;
  stream: EventStream;
  /** One line on stderr. */
  log(line: string): void;
}

/** The agents' WebSocket side of the server. */
export interface AgentHub {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Sends a `type` frame to every registered agent for which `payloadFor` gives a payload; returns how many got one. */
  sendTo(type: string, payloadFor: (agentId: string) => unknown): number;
  /** Connections accepted and rejected (wrong key, bad register) since start. */
  counters(): { connections: number; rejected: number };
  close(): void;
}

function bearerKey(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? (m[1] as string).trim() : undefined;
}

const AGENT_ID = /^[\w.:-]{1,128}$/;

function frame(type: string, payload: unknown): string {
  return JSON.stringify({ type, payload, timestamp: Date.now() });
}

export function createAgentHub(deps: AgentHubDeps): AgentHub {
  const { keys, agents, exceptions, breakpoints, stream, log } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxFrameBytes, perMessageDeflate: false });
  const byAgent = new Map<string, WebSocket>();
  let connections = 0;
  let rejected = 0;
  // Connections that did not answer the previous ping: a vanished agent (no FIN) is dropped and
  // shown as disconnected after at most two ping periods.
  const silent = new WeakSet<WebSocket>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (silent.has(ws)) {
        ws.terminate();
        continue;
      }
      silent.add(ws);
      ws.ping();
    }
  }, LIMITS.pingIntervalMs);
  pinger.unref();

  const send = (ws: WebSocket, type: string, payload: unknown): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(frame(type, payload));
  };

  const reject = (ws: WebSocket, req: IncomingMessage, code: string, message: string): void => {
    rejected++;
    log(`rejected an agent connection from ${req.socket.remoteAddress ?? '?'}: ${message}`);
    send(ws, 'error', { code, message });
    ws.close(1008, code);
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => ws.terminate(), 2000).unref();
  };

  const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
    connections++;
    const headerKey = bearerKey(req);
    if (headerKey !== undefined && !keys.has(headerKey)) {
      reject(ws, req, 'invalid_api_key', 'invalid API key');
      return;
    }
    let agentId: string | undefined;
    let tokens: number = LIMITS.frameBurst;
    let refilledAt = Date.now();
    let droppedForRate = 0;
    const registerTimer = setTimeout(() => {
      if (agentId === undefined) ws.close(1008, 'register expected');
    }, LIMITS.registerTimeoutMs);
    registerTimer.unref();

    const takeToken = (): boolean => {
      const now = Date.now();
      tokens = Math.min(LIMITS.frameBurst, tokens + ((now - refilledAt) / 1000) * LIMITS.framesPerSecond);
      refilledAt = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    };

    const onRegister = (f: Extract<AgentFrameIn, { type: 'register' }>): void => {
      const key = headerKey ?? f.payload.api_key;
      if (typeof key !== 'string' || !keys.has(key)) {
        reject(ws, req, 'invalid_api_key', headerKey === undefined && key === undefined ? 'missing API key' : 'invalid API key');
        return;
      }
      const id = f.payload.agent_id;
      if (!AGENT_ID.test(id)) {
        send(ws, 'error', { code: 'invalid_register', message: 'agent_id is missing or malformed' });
        ws.close(1008, 'invalid_register');
        return;
      }
      clearTimeout(registerTimer);
      const previous = byAgent.get(id);
      if (previous && previous !== ws) previous.terminate();
      agentId = id;
      byAgent.set(id, ws);
      const view = agents.register(id, f.payload);
      stream.emit('agent', view);
      send(ws, 'registered', { agent_id: id, capabilities: { breakpoint_status: true } });
      for (const bp of breakpoints.framesFor(id)) send(ws, 'set_breakpoint', bp);
    };

    const onRegistered = (f: AgentFrameIn, id: string): void => {
      switch (f.type) {
        case 'register':
          return; // once per connection
        case 'heartbeat': {
          const view = agents.heartbeat(id, f.payload.dropped_messages);
          if (view) stream.emit('agent', view);
          return;
        }
        case 'exception': {
          const stored = exceptions.add(id, f.payload);
          if (stored) stream.emit('exception', { ...stored.payload, group: stored.group });
          return;
        }
        case 'breakpoint_status': {
          const p = f.payload;
          const status: { status: string; message?: string; actual_line?: number; at: string } = { status: p.status, at: new Date().toISOString() };
          if (p.message !== undefined) status.message = p.message;
          if (p.actual_line !== undefined) status.actual_line = p.actual_line;
          if (breakpoints.setStatus(p.breakpoint_id, id, status)) stream.emit('breakpoint_status', { breakpoint_id: p.breakpoint_id, agent_id: id, ...status });
          return;
        }
        case 'breakpoint_hit': {
          const stored = breakpoints.addHit(id, f.payload);
          if (stored) {
            stream.emit('breakpoint_hit', stored.hit);
            stream.emit('breakpoint', stored.breakpoint);
          }
          return;
        }
      }
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!takeToken()) {
        droppedForRate++;
        if (droppedForRate === 1 || droppedForRate % 1000 === 0) log(`agent ${agentId ?? '(unregistered)'} sends too fast: ${droppedForRate} frame(s) dropped`);
        return;
      }
      if (isBinary) return;
      const f = parseAgentFrame(String(data));
      if (!f) return;
      if (agentId === undefined) {
        if (f.type === 'register') onRegister(f);
        return;
      }
      onRegistered(f, agentId);
    });
    ws.on('pong', () => silent.delete(ws));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearTimeout(registerTimer);
      if (agentId !== undefined && byAgent.get(agentId) === ws) {
        byAgent.delete(agentId);
        const view = agents.disconnect(agentId);
        if (view) stream.emit('agent', view);
      }
    });
  };

  return {
    handleUpgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
    },
    sendTo(type, payloadFor) {
      let n = 0;
      for (const [id, ws] of byAgent) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        const payload = payloadFor(id);
        if (payload === undefined) continue;
        ws.send(frame(type, payload));
        n++;
      }
      return n;
    },
    counters: () => ({ connections, rejected }),
    close() {
      clearInterval(pinger);
      // Recorded now: once the stores are closed, the sockets' 'close' events can no longer write.
      for (const id of byAgent.keys()) agents.disconnect(id);
      byAgent.clear();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
