/**
 * Inspector channels to the app's worker threads, over the agent's session on the main thread
 * (the inspector's NodeWorker domain): commands go out as `NodeWorker.sendMessageToWorker`, and
 * answers and notifications come back as `NodeWorker.receivedMessageFromWorker`, which are routed
 * here to the channel of their thread. A channel is what inspector/session.ts builds a session on.
 */
import type { Logger } from '../../shared/log';
import type { InspectorSession, SessionChannel } from './session';

export interface WorkerChannel extends SessionChannel {
  readonly closed: boolean;
  /** Called once when the channel closes (detached, or the thread ended). */
  onClose(fn: () => void): void;
}

export interface WorkerChannels {
  /** The channel to the thread attached as `sessionId`. */
  open(sessionId: string): WorkerChannel;
  /** Closes every channel (their commands fail), without detaching. */
  closeAll(why: string): void;
}

interface ChannelState {
  nextId: number;
  pending: Map<number, { resolve(value: unknown): void; reject(err: Error): void }>;
  listeners: Map<string, Array<(params: unknown) => void>>;
  closers: Array<() => void>;
  closed: boolean;
}

/** Longest a thread's command may wait for its answer (a thread that ended answers nothing). */
const COMMAND_TIMEOUT_MS = 5000;

export function workerChannels(main: InspectorSession, logger: Logger): WorkerChannels {
  const channels = new Map<string, ChannelState>();

  const close = (sessionId: string, why: string): void => {
    const c = channels.get(sessionId);
    if (!c || c.closed) return;
    c.closed = true;
    channels.delete(sessionId);
    for (const p of c.pending.values()) p.reject(new Error(why));
    c.pending.clear();
    for (const fn of c.closers) {
      try {
        fn();
      } catch (err) {
        logger.debug(`closing a worker thread's channel: ${(err as Error)?.message}`);
      }
    }
  };

  main.onNotification('NodeWorker.detachedFromWorker', (params) => close((params as { sessionId: string }).sessionId, 'the thread ended'));

  main.onNotification('NodeWorker.receivedMessageFromWorker', (params) => {
    const { sessionId, message } = params as { sessionId: string; message: string };
    const c = channels.get(sessionId);
    if (!c) return;
    let msg: { id?: number; result?: unknown; error?: { message?: string }; method?: string; params?: unknown };
    try {
      msg = JSON.parse(message) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.id === 'number') {
      const p = c.pending.get(msg.id);
      c.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message ?? 'inspector error'));
      else p?.resolve(msg.result);
      return;
    }
    if (typeof msg.method !== 'string') return;
    for (const fn of c.listeners.get(msg.method) ?? []) {
      try {
        fn(msg.params);
      } catch (err) {
        logger.debug(`${msg.method} in a worker thread: ${(err as Error)?.message}`);
      }
    }
  });

  const open = (sessionId: string): WorkerChannel => {
    const c: ChannelState = { nextId: 1, pending: new Map(), listeners: new Map(), closers: [], closed: false };
    channels.set(sessionId, c);
    return {
      get closed() {
        return c.closed;
      },
      post(method, params) {
        if (c.closed) return Promise.reject(new Error('the thread is gone'));
        const id = c.nextId++;
        return new Promise<unknown>((resolve, reject) => {
          const timer = setTimeout(() => {
            c.pending.delete(id);
            reject(new Error(`${method}: no answer from the thread`));
          }, COMMAND_TIMEOUT_MS);
          timer.unref();
          c.pending.set(id, {
            resolve: (v) => {
              clearTimeout(timer);
              resolve(v);
            },
            reject: (e) => {
              clearTimeout(timer);
              reject(e);
            },
          });
          main.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method, params }) }).catch((err: Error) => c.pending.get(id)?.reject(err));
        });
      },
      on(method, fn) {
        const list = c.listeners.get(method) ?? [];
        list.push(fn as (params: unknown) => void);
        c.listeners.set(method, list);
      },
      onClose(fn) {
        c.closers.push(fn);
      },
      disconnect() {
        close(sessionId, 'detached');
        main.post('NodeWorker.detach', { sessionId }).catch(() => undefined);
      },
    };
  };

  return {
    open,
    closeAll(why) {
      for (const sessionId of [...channels.keys()]) close(sessionId, why);
    },
  };
}
