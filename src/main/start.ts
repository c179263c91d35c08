/**
 * Everything an enabled agent loads on the app's thread. `index` requires this module only once a
 * key is configured, so the preload without a key (monitoring off) loads nothing but the config.
 */
import { isAgentWorkerStarting, startAgent, type AgentHandle } from './agent';
import { installProcessHooks } from './capture/process-hooks';
import { reportError } from './capture/report';
import { takenOver } from './capture/uncaught-handover';
import { installInstrumentation } from './instrument';
import { listenToThreads } from './threads/thread-events';
import type { AgentConfig } from '../shared/config';
import type { Logger } from '../shared/log';

export { reportError } from './capture/report';
export { setContext, setUser } from './context/store';

/** Starts the worker, the process hooks and the instrumentation; returns how to undo the hooks. */
export function startMonitoring(config: AgentConfig, logger: Logger): { handle: AgentHandle; removeHooks: () => void } {
  const handle = startAgent(config, logger);
  const removeProcessHooks = installProcessHooks((error, mechanism) => {
    if (mechanism === 'uncaught' && takenOver(error)) return;
    reportError(error, mechanism);
  }, () => handle.exitNow?.());
  const removeInstrumentation = installInstrumentation(logger);
  const stopListeningToThreads = listenToThreads(handle, isAgentWorkerStarting);
  return {
    handle,
    removeHooks: () => {
      stopListeningToThreads();
      removeInstrumentation();
      removeProcessHooks();
    },
  };
}
