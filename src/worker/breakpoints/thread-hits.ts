/**
 * Breakpoint hits the app's worker threads take in-line reach the agent's worker directly, over the
 * threads' hits channel (src/shared/thread-messages.ts), not by way of the main thread: a main
 * thread busy with a long task would otherwise hold them (and a thread's hit then took 2.5-11 ms
 * to arrive, two hops). The channel's name is public to the app: what is taken must be shaped as
 * the threads' hit posters make it, and the breakpoints take only hits of threads they armed.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { MAX_THREAD_HIT_JSON, THREAD_HITS_CHANNEL, type ThreadHit } from '../../shared/thread-messages';

function isThreadHit(data: unknown): data is ThreadHit {
  if (data === null || typeof data !== 'object') return false;
  const { threadId, json } = data as Partial<Record<keyof ThreadHit, unknown>>;
  return Number.isInteger(threadId) && (threadId as number) > 0 && typeof json === 'string' && json.length <= MAX_THREAD_HIT_JSON;
}

/** Listens for the threads' hits until close(); the channel never keeps the agent's worker alive. */
export function receiveThreadHits(onHit: (json: string, threadId: number) => void): { close(): void } {
  const channel = new BroadcastChannel(THREAD_HITS_CHANNEL);
  channel.onmessage = (message: unknown) => {
    try {
      const data = (message as { data?: unknown } | null)?.data;
      if (isThreadHit(data)) onHit(data.json, data.threadId);
    } catch {
      // a malformed message is dropped
    }
  };
  channel.unref();
  return { close: () => channel.close() };
}
