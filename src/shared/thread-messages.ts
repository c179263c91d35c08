/**
 * Messages between the app's worker threads and the agent of the process, which runs on the main
 * thread. They go over `BroadcastChannel`s (one process-wide name each), not over the app's own
 * `Worker` ports, so the app sees no message, listener or option of ours.
 */
import type { CapturedError } from './messages';

/** Events from the app's threads to the main thread's agent. */
export const THREAD_EVENTS_CHANNEL = 'aivory-monitor:thread-events';

/**
 * From the app's threads straight to the agent's worker (which listens on this name itself), not
 * relayed by the main thread, which may be busy for a while: breakpoint hits taken in-line, and
 * the events and flush requests of the threads the agent's worker armed (it listens before it arms
 * any; before that, a thread's events go through the main thread).
 */
export const THREAD_TO_AGENT_CHANNEL = 'aivory-monitor:thread-to-agent';

/** A hit holds at most 200,000 characters of values (the capture limits), and its stack. */
export const MAX_THREAD_HIT_JSON = 1_000_000;

export type ThreadToAgent =
  /** A hit: the JSON of an in-line snapshot (src/main/capture/breakpoint-hits.ts). */
  | { kind: 'hit'; threadId: number; json: string }
  /** An event the thread built (its crash key, if any, goes to the main thread: 'crash'). */
  | { kind: 'event'; threadId: number; event: CapturedError }
  /** Deliver what is pending, then answer on the thread's reply channel. */
  | { kind: 'flush'; threadId: number; requestId: number; timeoutMs: number };

/** The answers to one thread's flush requests (from the main thread, or from the agent's worker). */
export function threadRepliesChannel(threadId: number): string {
  return `aivory-monitor:thread-replies:${threadId}`;
}

export type ThreadToMain =
  /**
   * An event the thread built. `crashKey`: the thread is dying of this error (uncaught, or an
   * unhandled rejection in `throw` mode), whose copy the thread's `Worker` object then emits as
   * 'error' on the main thread: when nothing there listens, the same error crashes the process and
   * must not be reported twice.
   */
  | { kind: 'event'; event: CapturedError; crashKey?: string }
  /** The same crash key, for an event that went to the agent's worker directly. */
  | { kind: 'crash'; crashKey: string }
  | { kind: 'flush'; threadId: number; requestId: number; timeoutMs: number };

export type MainToThread = { kind: 'flushed'; requestId: number; ok: boolean };

/**
 * Posts one message under `name`, on a channel opened for it and closed after it: an open channel
 * receives what every other thread posts under its name. False when it could not be posted.
 * (node:worker_threads is loaded here, not at the top: the main thread loads it only for threads.)
 */
export function postOnce(name: string, message: ThreadToMain | MainToThread | ThreadToAgent): boolean {
  let channel: import('node:worker_threads').BroadcastChannel | undefined;
  try {
    const { BroadcastChannel } = require('node:worker_threads') as typeof import('node:worker_threads');
    channel = new BroadcastChannel(name);
    channel.postMessage(message);
    return true;
  } catch {
    return false;
  } finally {
    channel?.close();
  }
}
