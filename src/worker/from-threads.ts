/**
 * What the app's worker threads tell the agent's worker directly, over their channel
 * (src/shared/thread-messages.ts), not by way of the main thread: a main thread busy with a long
 * task would hold it (a thread's breakpoint hit then took 2.5-11 ms to arrive, two hops). The
 * channel's name is public to the app: what is taken must be shaped as the threads make it, and the
 * breakpoints take only hits of threads they armed.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { MAX_THREAD_HIT_JSON, THREAD_TO_AGENT_CHANNEL, type ThreadToAgent } from '../shared/thread-messages';

export interface FromThreads {
  /** A breakpoint hit a thread took in-line (its JSON is read by the breakpoints). */
  hit(json: string, threadId: number): void;
}

function isThreadMessage(data: unknown): data is ThreadToAgent {
  if (data === null || typeof data !== 'object') return false;
  const { kind, threadId, json } = data as Partial<Record<'kind' | 'threadId' | 'json', unknown>>;
  return kind === 'hit' && Number.isInteger(threadId) && (threadId as number) > 0 && typeof json === 'string' && json.length <= MAX_THREAD_HIT_JSON;
}

/** Listens until close(); the channel never keeps the agent's worker alive. */
export function receiveFromThreads(to: FromThreads): { close(): void } {
  const channel = new BroadcastChannel(THREAD_TO_AGENT_CHANNEL);
  channel.onmessage = (message: unknown) => {
    try {
      const data = (message as { data?: unknown } | null)?.data;
      if (isThreadMessage(data)) to.hit(data.json, data.threadId);
    } catch {
      // a malformed message is dropped
    }
  };
  channel.unref();
  return { close: () => channel.close() };
}
