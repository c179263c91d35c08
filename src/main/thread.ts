/**
 * What the agent loads in one of the app's worker threads (threads/thread-agent.ts), with the
 * thread's first error or API call: the API's functions, without the main thread's agent worker,
 * instrumentation and serializer (~15 ms more to load in a thread).
 */
import type { AgentConfig } from '../shared/config';
import { installSerializer } from './serialize/serializer';

export { reportError } from './capture/report';
export { setContext, setUser } from './context/store';
export { startThreadAgent } from './threads/thread-agent';

/** The thread's serializer, for the agent's exception pauses in this thread (inspector/thread-sessions.ts). */
export function installThreadSerializer(config: AgentConfig): void {
  installSerializer(config);
}
