/**
 * What the app's worker threads tell the agent's worker directly, over their channel
 * (src/shared/thread-messages.ts), not by way of the main thread: a main thread busy with a long
 * task would hold it (a thread's breakpoint hit then took 2.5-11 ms to arrive, two hops). Breakpoint
 * hits, and the events and flush requests of threads this worker armed. The channel's name is
 * public to the app: what is taken must be shaped as the threads make it, and the breakpoints take
 * only hits of threads they armed.
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { CapturedError } from '../shared/messages';
import { flushTimeout, isFlushRequest, isThreadEvent } from '../shared/thread-event-shape';
import { MAX_THREAD_HIT_JSON, THREAD_TO_AGENT_CHANNEL, type ThreadToAgent } from '../shared/thread-messages';

export interface FromThreads {
  /** A breakpoint hit a thread took in-line (its JSON is read by the breakpoints). */
  hit(json: string, threadId: number): void;
  /** An event a thread built. */
  event(event: CapturedError): void;
  /** A thread asks for what is pending to be delivered; answered on its reply channel. */
  flush(threadId: number, requestId: number, timeoutMs: number): void;
}

function isThreadMessage(data: unknown): data is ThreadToAgent {
  if (data === null || typeof data !== 'object') return false;
  const fields = data as Partial<Record<string, unknown>>;
  if (!Number.isInteger(fields.threadId) || (fields.threadId as number) <= 0) return false;
  switch (fields.kind) {
    case 'hit':
      return typeof fields.json === 'string' && fields.json.length <= MAX_THREAD_HIT_JSON;
    case 'event':
      return isThreadEvent(fields.event);
    case 'flush':
      return isFlushRequest(fields);
    default:
      return false;
  }
}

/** Listens until close(); the channel never keeps the agent's worker alive. */
export function receiveFromThreads(to: FromThreads): { close(): void } {
  const channel = new BroadcastChannel(THREAD_TO_AGENT_CHANNEL);
  channel.onmessage = (message: unknown) => {
    try {
      const data = (message as { data?: unknown } | null)?.data;
      if (!isThreadMessage(data)) return;
      if (data.kind === 'hit') to.hit(data.json, data.threadId);
      else if (data.kind === 'event') to.event(data.event);
      else to.flush(data.threadId, data.requestId, flushTimeout(data.timeoutMs));
    } catch {
      // a malformed message is dropped
    }
  };
  channel.unref();
  return { close: () => channel.close() };
}
