import { hostname } from 'node:os';
import WebSocket from 'ws';
import type { AgentConfig } from '../../shared/config';
import type { Logger } from '../../shared/log';
import { redactUrl } from '../../shared/log';
import type { AgentMessageMap, AgentMessageType, BackendFrame, RegisterPayload } from '../../shared/protocol';
import type { Transport, TransportHandlers } from './types';

export interface TransportOptions {
  config: AgentConfig;
  logger: Logger;
  agentId: string;
  agentVersion: string;
  handlers: TransportHandlers;
}

/** Minimal first transport: connect, register, send queued frames. Reconnect and bounds come next. */
export function createTransport(opts: TransportOptions): Transport {
  const { config, logger } = opts;
  const queue: string[] = [];
  let registered = false;
  let closed = false;

  const registerPayload: RegisterPayload = {
    api_key: config.apiKey,
    agent_id: opts.agentId,
    hostname: hostname(),
    environment: config.environment,
    agent_version: opts.agentVersion,
    runtime: 'nodejs',
    runtimeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
    capabilities: { breakpoints: config.enableBreakpoints, breakpoint_status: true },
  };
  if (config.gitContext) registerPayload.git_context = config.gitContext;

  const ws = new WebSocket(config.backendUrl, { headers: { Authorization: `Bearer ${config.apiKey}` } });
  logger.debug(`connecting to ${redactUrl(config.backendUrl)}`);
  ws.on('open', () => {
    ws.send(JSON.stringify({ type: 'register', payload: registerPayload, timestamp: Date.now() }));
  });
  ws.on('message', (data) => {
    let frame: BackendFrame;
    try {
      frame = JSON.parse(String(data)) as BackendFrame;
    } catch {
      logger.debug('ignored a frame that is not JSON');
      return;
    }
    if (frame.type === 'registered') {
      registered = true;
      while (queue.length) ws.send(queue.shift() as string);
      return;
    }
    opts.handlers.onMessage(frame);
  });
  ws.on('error', (err) => logger.debug(`connection error: ${err.message}`));

  return {
    send<T extends AgentMessageType>(type: T, payload: AgentMessageMap[T]) {
      if (closed) return;
      const text = JSON.stringify({ type, payload, timestamp: Date.now() });
      if (registered && ws.readyState === WebSocket.OPEN) ws.send(text);
      else queue.push(text);
    },
    async flush() {
      return queue.length === 0;
    },
    async close() {
      closed = true;
      ws.close();
    },
  };
}
