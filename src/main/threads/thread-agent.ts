import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { AgentConfig } from '../../shared/config';
import type { Logger } from '../../shared/log';
import type { CapturedError } from '../../shared/messages';
import { THREAD_EVENTS_CHANNEL, THREAD_TO_AGENT_CHANNEL, postOnce, threadRepliesChannel, type MainToThread, type ThreadToMain } from '../../shared/thread-messages';
import type { AgentHandle } from '../agent';

/**
 * The agent in one of the app's worker threads. The process has one agent, on its main thread
 * (one connection, one inspector session); a thread reports through it: its crashes, unhandled
 * rejections and `captureException` calls become events here, exactly as on the main thread
 * (same hooks, sampling, rate limit, the thread's own `setUser`/`setContext`), and go over a
 * BroadcastChannel to the agent's worker: once it has armed this thread (so it listens), directly,
 * which a main thread busy with a long task does not hold up; before that, through the main thread,
 * which hands them on (the main thread opens its channel before the thread runs; the agent's
 * worker may start later). A crash's key goes to the main thread either way, and a flush request
 * the way the events go, so that it comes after them. Their locals come from the
 * agent's session on the thread, once it armed there (inspector/thread-sessions.ts). No request
 * context: the framework instrumentations are the main thread's. Started with the thread's
 * first error (thread-hooks.ts) or API call (index.ts). A channel is opened for each message and
 * closed after it (a thread's messages are rare: an error, a flush).
 */

/** What a thread dies of, if nothing in it handles the error. */
const CRASH_MECHANISMS = new Set(['uncaught', 'unhandled_rejection']);

/** Which thread an event comes from: `context.thread` (its name where Node has one: 22 and later). */
export function threadInfo(): { id: number; name?: string } {
  const name = (require('node:worker_threads') as { threadName?: unknown }).threadName;
  return typeof name === 'string' && name !== '' ? { id: threadId, name } : { id: threadId };
}

/** Hands a message to the main thread's agent (its side: threads/thread-events.ts). */
function postToMain(message: ThreadToMain): boolean {
  return postOnce(THREAD_EVENTS_CHANNEL, message);
}

/** Whether the agent's worker armed this thread: it listens on the threads' channel to it. */
let armed = false;

/** Called when the agent's worker arms this thread (thread.ts): its events go to it directly from now on. */
export function sendToAgentWorker(): void {
  armed = true;
}

export function startThreadAgent(config: AgentConfig, logger: Logger): AgentHandle {
  const thread = threadInfo();
  let nextRequest = 1;
  return {
    // Its events go out under the process's agent (the main thread's), which registers; no id of its own.
    agentId: '',
    config,
    // Arming and the pause budget are the agent worker's business: an event without locals says
    // 'unavailable' here, and the worker says why when it knows ('not_ready', 'budget').
    inspectorReady: () => true,
    budgetSpent: () => false,
    userInspector: () => false,
    samplingRate: () => config.samplingRate,
    send(event: CapturedError, repeatKey?: string) {
      event.context.thread = thread;
      const crashKey = repeatKey !== undefined && CRASH_MECHANISMS.has(event.mechanism) ? repeatKey : undefined;
      if (!armed) {
        if (!postToMain({ kind: 'event', event, crashKey })) logger.debug('could not hand an event of this thread to the main thread');
        return;
      }
      // The key first: the main thread must know of the crash before the `Worker` re-emits it there.
      if (crashKey !== undefined) postToMain({ kind: 'crash', crashKey });
      if (!postOnce(THREAD_TO_AGENT_CHANNEL, { kind: 'event', threadId, event })) logger.debug("could not hand an event of this thread to the agent's worker");
    },
    // Threads a thread starts need no word: Node tells the agent's session of them at once.
    threadStarted: () => undefined,
    flush(timeoutMs) {
      // The agent's worker (or the main thread, before it armed this thread) flushes and answers on
      // this thread's own reply channel.
      return new Promise<boolean>((resolve) => {
        const requestId = nextRequest++;
        const replies = new BroadcastChannel(threadRepliesChannel(threadId));
        const done = (ok: boolean): void => {
          clearTimeout(timer);
          replies.close();
          resolve(ok);
        };
        // Ref'd, as on the main thread: an app that awaits flush() lives until it resolves.
        const timer = setTimeout(() => done(false), timeoutMs + 100);
        replies.onmessage = (message: unknown) => {
          const data = (message as { data?: MainToThread }).data;
          if (data?.kind === 'flushed' && data.requestId === requestId) done(data.ok === true);
        };
        const request = { kind: 'flush', threadId, requestId, timeoutMs } as const;
        if (!(armed ? postOnce(THREAD_TO_AGENT_CHANNEL, request) : postToMain(request))) done(false);
      });
    },
    // The process's agent goes on for the other threads: this thread only hands over what it has.
    async shutdown(timeoutMs) {
      await this.flush(timeoutMs);
    },
  };
}
