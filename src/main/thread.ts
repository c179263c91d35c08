/**
 * What the agent loads in one of the app's worker threads (threads/thread-agent.ts), with the
 * thread's first error or API call: the API's functions, without the main thread's agent worker,
 * instrumentation and serializer (~15 ms more to load in a thread).
 */
export { reportError } from './capture/report';
export { setContext, setUser } from './context/store';
export { startThreadAgent } from './threads/thread-agent';
