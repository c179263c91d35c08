import type { AgentConfig, InitOptions } from '../shared/config';
import { GLOBAL_KEYS } from '../shared/defaults';
import type { Logger } from '../shared/log';
import type { AgentHandle } from './agent';

/** The one agent of this process. */
export interface AgentState {
  options: InitOptions;
  config: AgentConfig;
  logger: Logger;
  handle?: AgentHandle;
  removeHooks?: () => void;
  stopped: boolean;
  /** init() called again with other options was reported once. */
  warnedReinit?: boolean;
}

// Kept on globalThis so that two copies of the package (require and import, or nested installs)
// share one agent per process.
const registry = globalThis as unknown as Record<symbol, AgentState | undefined>;

export function getAgentState(): AgentState | undefined {
  return registry[GLOBAL_KEYS.agent];
}

export function setAgentState(state: AgentState): void {
  registry[GLOBAL_KEYS.agent] = state;
}

/** The running agent, or undefined when off or stopped. Cheap: for hot paths. */
export function activeAgent(): AgentHandle | undefined {
  const s = registry[GLOBAL_KEYS.agent];
  return s && !s.stopped ? s.handle : undefined;
}
