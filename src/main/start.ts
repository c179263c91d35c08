/**
 * Everything an enabled agent loads on the app's thread. `index` requires this module only once a
 * key is configured, so the preload without a key (monitoring off) loads nothing but the config.
 */
import { startAgent, type AgentHandle } from './agent';
import { installProcessHooks } from './capture/process-hooks';
import { installInstrumentation } from './instrument';
import type { AgentConfig } from '../shared/config';
import type { Logger } from '../shared/log';

export { reportError } from './capture/report';
export { setContext, setUser } from './context/store';

/** Starts the worker, the process hooks and the instrumentation; returns how to undo the hooks. */
export function startMonitoring(config: AgentConfig, logger: Logger): { handle: AgentHandle; removeHooks: () => void } {
  const handle = startAgent(config, logger);
  const removeProcessHooks = installProcessHooks();
  const removeInstrumentation = installInstrumentation(logger);
  return {
    handle,
    removeHooks: () => {
      removeInstrumentation();
      removeProcessHooks();
    },
  };
}
