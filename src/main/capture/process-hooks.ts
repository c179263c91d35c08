import type { AgentHandle } from '../agent';
import { currentContext } from '../context/store';
import { buildCapturedError } from './build-event';

/**
 * Reports crashes through 'uncaughtExceptionMonitor' only: adding 'uncaughtException' or
 * 'unhandledRejection' listeners would change whether the process dies.
 */
export function installProcessHooks(agent: AgentHandle): () => void {
  const onMonitor = (error: unknown, origin: string): void => {
    try {
      const mechanism = origin === 'unhandledRejection' ? 'unhandled_rejection' : 'uncaught';
      agent.send(buildCapturedError(error, currentContext(), mechanism, agent.inspectorReady()));
    } catch {
      // Never throw from a crash hook.
    }
  };
  process.on('uncaughtExceptionMonitor', onMonitor);
  return () => process.removeListener('uncaughtExceptionMonitor', onMonitor);
}
