/**
 * Non-breaking breakpoints (issue 7), worker side. `startBreakpoints` picks the real manager or,
 * with AIVORY_ENABLE_BREAKPOINTS=false, one that enables nothing and answers "disabled".
 */
import type { AgentConfig } from '../../shared/config';
import { DEFAULTS } from '../../shared/defaults';
import type { Logger } from '../../shared/log';
import type { CaptureLimits } from '../../shared/messages';
import { captureLimits } from '../inspector/exception-pauses';
import type { InspectorSession } from '../inspector/session';
import { resolveLimits, type BreakpointLimits } from './compile';
import { createBreakpointManager, createDisabledBreakpoints, type BreakpointManager, type SendFn } from './manager';

export type { BreakpointManager } from './manager';

export interface StartBreakpointsOptions {
  config: AgentConfig;
  logger: Logger;
  agentId: string;
  send: SendFn;
  /** The shared inspector session, its debugger on (see BreakpointManagerOptions). */
  getSession: () => Promise<InspectorSession>;
  /** No breakpoint is left. */
  release?: () => void;
  limits?: Partial<BreakpointLimits>;
  /** Shared, mutable capture limits (changed live by the backend's `configure`). */
  capture?: CaptureLimits;
}

export function startBreakpoints(opts: StartBreakpointsOptions): BreakpointManager {
  if (!opts.config.enableBreakpoints) return createDisabledBreakpoints(opts.send);
  return createBreakpointManager({
    getSession: opts.getSession,
    release: opts.release,
    send: opts.send,
    logger: opts.logger,
    agentId: opts.agentId,
    limits: resolveLimits(opts.limits),
    // Same limits (and, in the serializer, the same redaction) as exception locals.
    capture: opts.capture ?? captureLimits(opts.config),
    maxFrames: DEFAULTS.maxCaptureFrames,
  });
}
