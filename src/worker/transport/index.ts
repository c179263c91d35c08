import type { Agent } from 'node:http';
import type WebSocket from 'ws';
import type { AgentConfig } from '../../shared/config';
import type { Logger } from '../../shared/log';
import { redactUrl } from '../../shared/log';
import { FINAL_ERROR_CODES, type AgentMessageMap, type AgentMessageType, type HeartbeatPayload } from '../../shared/protocol';
import { reconnectDelay } from './backoff';
import { MAX_BACKEND_FRAME_BYTES, parseBackendFrame } from './frames';
import { chooseProxy, tunnelAgent } from './proxy';
import { BoundedQueue } from './queue';
import { buildRegisterPayload } from './register';
import type { Transport, TransportHandlers, TransportPhase } from './types';

export type { Transport, TransportHandlers, TransportPhase, TransportStatus } from './types';

export interface TransportOptions {
  config: AgentConfig;
  logger: Logger;
  agentId: string;
  agentVersion: string;
  handlers: TransportHandlers;
  /** Takes the count of messages dropped before they reached the transport; reported with its own drops. */
  takeDroppedElsewhere?: () => number;
  /**
   * The first connection waits for this to settle (at most START_AFTER_MAX_MS): the worker passes
   * its inspector's start, so that `registered` at the backend means exceptions get their locals.
   */
  startAfter?: Promise<unknown>;
}

/** Frames are moved from the queue to the socket only while less than this is buffered in it. */
const SOCKET_HIGH_WATER_BYTES = 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** After a bad frame from the backend, how long our frames already written get to be read before the reset. */
const BAD_FRAME_GRACE_MS = 500;
/** A backend that opens the socket but never answers `register` is dropped after this. */
const REGISTER_TIMEOUT_MS = 15_000;
/** The longest the first connection waits for `startAfter`. */
const START_AFTER_MAX_MS = 5000;
/**
 * The back-off starts over only after a connection stayed registered this long. Resetting it at
 * `registered` let a backend that accepts and then drops every connection (flapping) get a reconnect
 * at the base rate forever.
 */
const STABLE_CONNECTION_MS = 10_000;

/** ws, loaded on the first connection: a process that exits at once never pays for it. */
let wsModule: typeof import('ws') | undefined;
function loadWs(): typeof import('ws') {
  wsModule ??= require('ws') as typeof import('ws');
  return wsModule;
}

interface Waiter {
  resolve(ok: boolean): void;
  timer: NodeJS.Timeout;
  /** Exit flush: give up as soon as there is no live connection. */
  forExit: boolean;
}

/**
 * The agent for ws when the environment names a proxy for the backend's URL (one tunnel per
 * connection); a proxy setting that cannot be used is said once.
 */
function proxyAgentFromEnv(url: string, logger: Logger): Agent | undefined {
  try {
    const target = new URL(url);
    const choice = chooseProxy(target, process.env);
    if (choice.proxy) {
      logger.debug(`connecting through the proxy ${redactUrl(choice.proxy.href)}`);
      return tunnelAgent(choice.proxy, target, HANDSHAKE_TIMEOUT_MS);
    }
    if (choice.problem) logger.warn(choice.problem);
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * The agent's WebSocket client: connects with the API key as a Bearer token, sends `register` and
 * nothing else until `registered`, then drains a bounded queue; heartbeats while registered;
 * reconnects forever with exponential back-off and full jitter, except after an auth error.
 * Timers are unref'd; the worker itself is unref'd, so none of this keeps the app alive.
 */
export function createTransport(opts: TransportOptions): Transport {
  const { config, logger, handlers } = opts;
  const url = config.backendUrl;
  const safeUrl = redactUrl(url);
  const proxyAgent = proxyAgentFromEnv(url, logger);
  // The key leaves only in the Authorization header and register's api_key: any other frame that
  // quotes it (an error message, a stack, a context value the app built) has it replaced. Searched
  // in its JSON-escaped form, so the replacement stays inside the string it was found in.
  const keyText = config.apiKey.length >= 6 ? JSON.stringify(config.apiKey).slice(1, -1) : '';
  const withoutKey = (text: string): string => (keyText !== '' && text.includes(keyText) ? text.split(keyText).join('[REDACTED]') : text);
  const registerText = JSON.stringify({ type: 'register', payload: buildRegisterPayload(config, opts.agentId, opts.agentVersion), timestamp: Date.now() });
  const queue = new BoundedQueue(config.maxQueueLength, config.maxQueueBytes);
  /** Frames handed to the socket whose write failed: sent again first after reconnecting. */
  let failed: string[] = [];
  let inflight = 0;
  let phase: TransportPhase = 'connecting';
  let ws: WebSocket | undefined;
  let attempts = 0;
  /** Reconnects since the last connection that stayed registered STABLE_CONNECTION_MS (drives the back-off). */
  let failures = 0;
  /** When the current connection was registered (0: not registered). */
  let registeredAt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let registerTimer: NodeJS.Timeout | undefined;
  let authRefused = false;
  const waiters = new Set<Waiter>();

  const drained = (): boolean => queue.length === 0 && failed.length === 0 && inflight === 0 && (ws === undefined || ws.bufferedAmount === 0);

  const settle = (w: Waiter, ok: boolean): void => {
    waiters.delete(w);
    clearTimeout(w.timer);
    w.resolve(ok);
  };

  const checkWaiters = (): void => {
    if (waiters.size === 0) return;
    const done = drained();
    const live = phase === 'connecting' || phase === 'registering' || phase === 'registered';
    for (const w of waiters) {
      if (done && !authRefused) settle(w, true);
      else if (phase === 'stopped' || (w.forExit && !live)) settle(w, false);
    }
  };

  const write = (socket: WebSocket, text: string): void => {
    inflight++;
    socket.send(text, (err) => {
      inflight--;
      if (err) {
        failed.push(text);
        logger.debug(`a frame could not be written (${err.message}); it will be sent again after reconnecting`);
      } else drain();
      checkWaiters();
    });
  };

  const drain = (): void => {
    const socket = ws;
    if (phase !== 'registered' || !socket || socket.readyState !== socket.OPEN) return;
    if (failed.length > 0) {
      queue.unshiftAll(failed);
      failed = [];
    }
    while (queue.length > 0 && socket.bufferedAmount < SOCKET_HIGH_WATER_BYTES) write(socket, queue.shift() as string);
  };

  /** Drops since the last report: the queue's, plus those made before the transport (app's thread). */
  const takeDropped = (): number => {
    const elsewhere = opts.takeDroppedElsewhere?.() ?? 0;
    if (elsewhere > 0) {
      queue.countDropped(elsewhere);
      logger.debug(`${elsewhere} event(s) dropped on the app's thread: the agent worker was not keeping up`);
    }
    return queue.takeDropped();
  };

  const sendHeartbeat = (): void => {
    if (phase !== 'registered' || !ws) return;
    const payload: HeartbeatPayload = { timestamp: Date.now(), agent_id: opts.agentId };
    const dropped = takeDropped();
    if (dropped > 0) payload.dropped_messages = dropped;
    write(ws, JSON.stringify({ type: 'heartbeat', payload, timestamp: payload.timestamp }));
  };

  const clearConnectionTimers = (): void => {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    if (registerTimer) clearTimeout(registerTimer);
    heartbeatTimer = undefined;
    registerTimer = undefined;
  };

  const scheduleReconnect = (): void => {
    if (phase === 'stopped') return;
    phase = 'waiting';
    const delay = reconnectDelay(failures++, config.reconnectBaseMs, config.reconnectMaxMs);
    logger.debug(`reconnecting to ${safeUrl} in ${delay} ms`);
    reconnectTimer = setTimeout(connect, delay);
    reconnectTimer.unref();
    checkWaiters();
  };

  const stop = (): void => {
    phase = 'stopped';
    clearConnectionTimers();
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    checkWaiters();
  };

  const refuseAuth = (why: string): void => {
    if (authRefused) return;
    authRefused = true;
    logger.warn(`the backend at ${safeUrl} refused the API key (${why}); not reconnecting. Check AIVORY_API_KEY.`);
    queue.clear();
    failed = [];
    stop();
    ws?.close(1000);
  };

  const onRegistered = (socket: WebSocket, payload: Record<string, unknown>): void => {
    if (phase !== 'registering' || socket !== ws) return;
    phase = 'registered';
    registeredAt = Date.now();
    if (registerTimer) clearTimeout(registerTimer);
    registerTimer = undefined;
    logger.debug(`registered with ${safeUrl} as ${opts.agentId}; ${queue.length} queued frame(s) to send`);
    heartbeatTimer = setInterval(sendHeartbeat, config.heartbeatIntervalMs);
    heartbeatTimer.unref();
    try {
      handlers.onRegistered?.(payload);
    } catch (err) {
      logger.debug(`registered handler failed: ${(err as Error)?.message}`);
    }
    drain();
    // Drops while disconnected are reported at once rather than a heartbeat interval later.
    const dropped = takeDropped();
    if (dropped > 0) {
      logger.debug(`${dropped} frame(s) were dropped while disconnected`);
      const payload: HeartbeatPayload = { timestamp: Date.now(), agent_id: opts.agentId, dropped_messages: dropped };
      write(socket, JSON.stringify({ type: 'heartbeat', payload, timestamp: payload.timestamp }));
    }
    checkWaiters();
  };

  function connect(): void {
    reconnectTimer = undefined;
    if (phase === 'stopped') return;
    phase = 'connecting';
    attempts++;
    logger.debug(`connecting to ${safeUrl} (attempt ${attempts})`);
    let socket: WebSocket;
    try {
      const WebSocketClass = loadWs();
      socket = new WebSocketClass(url, {
        headers: { Authorization: `Bearer ${config.apiKey}` },
        maxPayload: MAX_BACKEND_FRAME_BYTES,
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        perMessageDeflate: false,
        followRedirects: false,
        ...(proxyAgent ? { agent: proxyAgent } : {}),
      });
    } catch (err) {
      logger.debug(`cannot connect to ${safeUrl}: ${(err as Error)?.message}`);
      scheduleReconnect();
      return;
    }
    ws = socket;

    socket.on('open', () => {
      if (socket !== ws || phase !== 'connecting') return;
      phase = 'registering';
      // register goes first and alone: nothing else is written before `registered`.
      socket.send(registerText);
      registerTimer = setTimeout(() => {
        logger.debug(`no 'registered' from ${safeUrl} within ${REGISTER_TIMEOUT_MS} ms`);
        socket.terminate();
      }, REGISTER_TIMEOUT_MS);
      registerTimer.unref();
    });

    socket.on('message', (data, isBinary) => {
      const parsed = parseBackendFrame(data as Buffer, isBinary);
      if (!parsed.ok) {
        logger.debug(`ignored ${parsed.reason} from the backend`);
        return;
      }
      const frame = parsed.frame;
      if (frame.type === 'registered') {
        onRegistered(socket, frame.payload);
      } else if (frame.type === 'error') {
        if (FINAL_ERROR_CODES.has(frame.payload.code)) refuseAuth(frame.payload.code);
        else logger.debug(`backend error ${frame.payload.code}: ${String(frame.payload.message ?? '').slice(0, 200)}`);
      } else {
        try {
          handlers.onMessage(frame);
        } catch (err) {
          logger.debug(`handling ${frame.type} failed: ${(err as Error)?.message}`);
        }
      }
    });

    socket.on('error', (err) => {
      // ws reports an HTTP refusal of the upgrade as "Unexpected server response: 401".
      const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
      if (status === '401' || status === '403') refuseAuth(`HTTP ${status}`);
      else logger.debug(`connection to ${safeUrl} failed: ${err.message}`);
      // A bad frame (too big, malformed): ws starts a closing handshake and reads on, discarding,
      // to the end of the frame; 10 MB read that way stay in the process's memory until a GC.
      // Stop reading instead (after ws's own resume, queued on this tick): the rest stays in the
      // kernel and the backend's sending stalls. A reset at once would discard our frames still
      // unread on the backend's side, so the connection is dropped after a short grace.
      if (socket.readyState === socket.CLOSING) {
        process.nextTick(() => socket.pause());
        setTimeout(() => socket.terminate(), BAD_FRAME_GRACE_MS).unref();
      }
    });

    socket.on('close', (code) => {
      if (socket !== ws) return;
      ws = undefined;
      clearConnectionTimers();
      if (registeredAt !== 0 && Date.now() - registeredAt >= STABLE_CONNECTION_MS) failures = 0;
      registeredAt = 0;
      if (phase === 'stopped') {
        checkWaiters();
        return;
      }
      logger.debug(`connection to ${safeUrl} closed (${code})`);
      scheduleReconnect();
    });
  }

  // Deferred by a turn: an 'exit' already waiting in the worker's port (a process that ends at
  // once, e.g. a build tool that inherited NODE_OPTIONS) is answered before ws is even loaded.
  if (opts.startAfter) {
    let started = false;
    const start = (): void => {
      if (started) return;
      started = true;
      clearTimeout(cap);
      setImmediate(connect).unref();
    };
    const cap = setTimeout(start, START_AFTER_MAX_MS);
    cap.unref();
    opts.startAfter.then(start, start);
  } else {
    setImmediate(connect).unref();
  }

  const wait = (timeoutMs: number, forExit: boolean): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const w: Waiter = { resolve, forExit, timer: setTimeout(() => settle(w, false), Math.max(0, timeoutMs)) };
      w.timer.unref();
      waiters.add(w);
      checkWaiters();
    });

  const flush = (timeoutMs: number): Promise<boolean> => {
    if (authRefused) return Promise.resolve(false);
    if (drained()) return Promise.resolve(true);
    return wait(timeoutMs, false);
  };

  return {
    send<T extends AgentMessageType>(type: T, payload: AgentMessageMap[T]) {
      if (phase === 'stopped') return;
      let text: string;
      try {
        text = withoutKey(JSON.stringify({ type, payload, timestamp: Date.now() }));
      } catch (err) {
        logger.debug(`dropped a ${type} frame that cannot be serialised: ${(err as Error)?.message}`);
        return;
      }
      if (phase === 'registered' && ws && queue.length === 0 && failed.length === 0 && ws.bufferedAmount < SOCKET_HIGH_WATER_BYTES) {
        write(ws, text);
        return;
      }
      const dropped = queue.push(text);
      const before = queue.droppedTotal - dropped;
      if (dropped > 0 && (before === 0 || Math.floor(before / 100) !== Math.floor(queue.droppedTotal / 100))) {
        logger.debug(`queue full (${config.maxQueueLength} frames / ${config.maxQueueBytes} bytes): ${queue.droppedTotal} frame(s) dropped so far`);
      }
      drain();
    },
    flush,
    flushForExit(timeoutMs) {
      if (authRefused) return Promise.resolve(false);
      if (drained()) return Promise.resolve(true);
      if (phase === 'waiting' || phase === 'stopped') return Promise.resolve(false);
      return wait(timeoutMs, true);
    },
    async close(timeoutMs) {
      if (phase !== 'stopped') await flush(timeoutMs);
      stop();
      const socket = ws;
      if (!socket) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.terminate();
          resolve();
        }, 1000);
        timer.unref();
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.close(1000);
      });
    },
    status: () => ({ phase, queued: queue.length, queuedBytes: queue.bytes, dropped: queue.droppedTotal, attempts }),
  };
}
