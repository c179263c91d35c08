import { hostname } from 'node:os';
import type { AgentConfig } from '../../shared/config';
import type { RegisterPayload } from '../../shared/protocol';

/** The `register` payload: every field of PROTOCOL.md, git_context when known, our capabilities. */
export function buildRegisterPayload(config: AgentConfig, agentId: string, agentVersion: string): RegisterPayload {
  let host = 'unknown';
  try {
    host = hostname();
  } catch {
    // some sandboxes refuse uname(); keep a placeholder
  }
  const payload: RegisterPayload = {
    api_key: config.apiKey,
    agent_id: agentId,
    hostname: host,
    environment: config.environment,
    agent_version: agentVersion,
    runtime: 'nodejs',
    runtimeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
    capabilities: { breakpoints: config.enableBreakpoints, breakpoint_status: true },
  };
  if (config.gitContext) payload.git_context = config.gitContext;
  return payload;
}
