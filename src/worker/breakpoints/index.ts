/**
 * Non-breaking breakpoints (issue 7), worker side. `startBreakpoints` picks the real manager or,
 * with AIVORY_ENABLE_BREAKPOINTS=false, one that enables nothing and answers "disabled".
 */
import type { AgentConfig } from '../../shared/config';
import type { Logger } from '../../shared/log';
import type { InspectorSession } from '../inspector/session';
import { resolveLimits, type BreakpointLimits } from './compile';
import { createBreakpointManager, createDisabledBreakpoints, type BreakpointManager, type SendFn } from './manager';

export type { BreakpointManager } from './manager';

/** TEMPORARY (issue 7): the names the temporary collector redacts until the shared serializer's redactor is used. */
const TEMP_REDACT = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'api_key', 'authorization', 'cookie', 'session', 'privatekey', 'private_key', 'credential'];

const TEMP_MAX_DEPTH = 2;
const TEMP_MAX_COLLECTION = 20;
const TEMP_MAX_NODES = 200;

export interface StartBreakpointsOptions {
  config: AgentConfig;
  logger: Logger;
  agentId: string;
  send: SendFn;
  /** The shared inspector session; called on the first set_breakpoint only. */
  getSession: () => Promise<InspectorSession>;
  limits?: Partial<BreakpointLimits>;
}

export function startBreakpoints(opts: StartBreakpointsOptions): BreakpointManager {
  if (!opts.config.enableBreakpoints) return createDisabledBreakpoints(opts.send);
  const { config } = opts;
  return createBreakpointManager({
    getSession: opts.getSession,
    send: opts.send,
    logger: opts.logger,
    agentId: opts.agentId,
    limits: resolveLimits(opts.limits),
    // TEMPORARY (issue 7) bounds of the temporary collector: it has no summaries of heavy objects
    // (express req/res), so depth and node count stay small to keep the pause well under 1 ms.
    capture: {
      maxDepth: Math.min(config.maxCaptureDepth, TEMP_MAX_DEPTH),
      maxStringLength: config.maxStringLength,
      maxCollectionSize: Math.min(config.maxCollectionSize, TEMP_MAX_COLLECTION),
      maxNodes: TEMP_MAX_NODES,
      redact: [...TEMP_REDACT, ...config.redactNames.map((n) => n.toLowerCase())],
    },
  });
}
