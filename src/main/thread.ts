/**
 * What the agent loads in one of the app's worker threads (threads/thread-agent.ts), with the
 * thread's first error or API call, or when the agent's worker arms its exception locals: the
 * API's functions and the serializer, without the main thread's agent worker and instrumentation
 * (~10 ms more to load in a thread).
 */
import { threadId } from 'node:worker_threads';
import type { AgentConfig } from '../shared/config';
import { GLOBAL_KEYS } from '../shared/defaults';
import { THREAD_TO_AGENT_CHANNEL, postOnce } from '../shared/thread-messages';
import { installHitPoster } from './capture/breakpoint-hits';
import { installContextReader } from './context/store';
import { publishGlobal } from './globals';
import { installSerializer } from './serialize/serializer';
import { capturedLocalsOf, rememberCaptured } from './threads/captured-in-thread';
import { sendToAgentWorker, threadInfo } from './threads/thread-agent';

export { reportError } from './capture/report';
export { setContext, setUser } from './context/store';
export { startThreadAgent } from './threads/thread-agent';

/**
 * The thread's serializer, for the agent's exception pauses in this thread
 * (inspector/thread-sessions.ts), the lookup of what it captured for errors the thread handed
 * on (captured-in-thread.ts), and what breakpoints in the thread need: the hit taker, whose hits
 * go straight to the agent's worker (thread-messages.ts), as the thread's events do from now on, and
 * the context reader (a hit that pauses).
 */
export function installThreadSerializer(config: AgentConfig): void {
  installSerializer(config, rememberCaptured);
  installContextReader();
  installHitPoster((json) => postOnce(THREAD_TO_AGENT_CHANNEL, { kind: 'hit', threadId, json }), threadInfo());
  sendToAgentWorker();
  publishGlobal(GLOBAL_KEYS.threadLocalsOf, (type: unknown, message: unknown, key: unknown) =>
    typeof type === 'string' && typeof message === 'string' && typeof key === 'string' ? capturedLocalsOf(type, message, key) : undefined,
  );
}
