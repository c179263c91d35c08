import diagnosticsChannel from 'node:diagnostics_channel';
import type { BroadcastChannel } from 'node:worker_threads';
import { setBounded } from '../../shared/bounded-map';
import { flushTimeout, isFlushRequest, isThreadEvent } from '../../shared/thread-event-shape';
import { THREAD_EVENTS_CHANNEL, postOnce, threadRepliesChannel, type MainToThread, type ThreadToMain } from '../../shared/thread-messages';
import type { AgentHandle } from '../agent';

/**
 * The main thread's side of the app's worker threads (threads/thread-agent.ts): the events of
 * threads the agent's worker has not armed yet go to it as the main thread's own do, and their flush
 * requests are answered; every thread's crash keys are kept here (the events of armed threads go to
 * the agent's worker directly).
 * Node publishes each new `Worker` on the `worker_threads` diagnostics channel, before the thread
 * runs: the agent's worker is told (its inspector attaches to the thread for exception locals), and
 * with the first one the channel is opened, so an app without threads loads nothing more; it is
 * unref'd and never keeps the process alive.
 */

/** How long a thread's crash is remembered: its copy reaches the main thread within a few turns. */
const CRASH_MEMORY_MS = 10_000;
const MAX_CRASHES = 100;

const crashes = new Map<string, number>();

/**
 * Whether a worker thread already reported this crash (by its rate-limit key): the `Worker` object
 * emits the thread's error on the main thread, where, with no 'error' listener, it crashes the
 * process too.
 */
export function crashReportedByThread(key: string): boolean {
  const at = crashes.get(key);
  return at !== undefined && Date.now() - at < CRASH_MEMORY_MS;
}

function isRecord(value: unknown): value is Partial<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A message a thread posted, shaped as one of ours (thread-event-shape.ts). */
function isThreadMessage(data: unknown): data is ThreadToMain {
  if (!isRecord(data)) return false;
  if (data.kind === 'flush') return isFlushRequest(data);
  if (data.kind === 'crash') return typeof data.crashKey === 'string';
  if (data.kind !== 'event' || (data.crashKey !== undefined && typeof data.crashKey !== 'string')) return false;
  return isThreadEvent(data.event);
}

function reply(threadId: number, message: MainToThread): void {
  postOnce(threadRepliesChannel(threadId), message);
}

/**
 * Starts listening for the app's threads; returns how to stop. `startingOwnWorker`: whether the
 * thread being started now is the agent's own worker (not one of the app's).
 */
export function listenToThreads(handle: AgentHandle, startingOwnWorker: () => boolean): () => void {
  let channel: BroadcastChannel | undefined;

  const onMessage = (message: unknown): void => {
    try {
      const data = (message as { data?: unknown }).data;
      if (!isThreadMessage(data)) return;
      if (data.kind === 'flush') {
        const { threadId, requestId } = data;
        void handle.flush(flushTimeout(data.timeoutMs)).then(
          (ok) => reply(threadId, { kind: 'flushed', requestId, ok }),
          () => reply(threadId, { kind: 'flushed', requestId, ok: false }),
        );
        return;
      }
      if (data.crashKey !== undefined) setBounded(crashes, data.crashKey, Date.now(), MAX_CRASHES);
      if (data.kind === 'event') handle.send(data.event);
    } catch {
      // a thread's message never disturbs the app
    }
  };

  const onWorker = (): void => {
    if (startingOwnWorker()) return;
    try {
      handle.threadStarted();
      if (channel) return;
      const { BroadcastChannel } = require('node:worker_threads') as typeof import('node:worker_threads');
      channel = new BroadcastChannel(THREAD_EVENTS_CHANNEL);
      channel.onmessage = onMessage;
      channel.unref();
    } catch {
      // never into the app's `new Worker`
    }
  };
  diagnosticsChannel.subscribe('worker_threads', onWorker);

  return () => {
    diagnosticsChannel.unsubscribe('worker_threads', onWorker);
    channel?.close();
    channel = undefined;
  };
}
