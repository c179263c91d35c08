/**
 * Non-breaking breakpoints (issue 7), worker side. `startBreakpoints` sets them on the main thread
 * and on the app's worker threads the agent armed (across-threads.ts) or, with
 * AIVORY_ENABLE_BREAKPOINTS=false, answers "disabled" and enables nothing.
 */
import type { AgentConfig } from '../../shared/config';
import { DEFAULTS } from '../../shared/defaults';
import { prefixedLogger, type Logger } from '../../shared/log';
import type { CaptureLimits } from '../../shared/messages';
import { captureLimits } from '../inspector/exception-pauses';
import type { InspectorSession } from '../inspector/session';
import { breakpointsAcrossThreads, type Breakpoints } from './across-threads';
import { resolveLimits, type BreakpointLimits } from './compile';
import { createBreakpointManager, createDisabledBreakpoints, type SendFn } from './manager';

export type { Breakpoints } from './across-threads';

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

export function startBreakpoints(opts: StartBreakpointsOptions): Breakpoints {
  if (!opts.config.enableBreakpoints) {
    const disabled = createDisabledBreakpoints(opts.send);
    return { ...disabled, thread: () => undefined, live: () => false };
  }
  const limits = resolveLimits(opts.limits);
  const common = {
    logger: opts.logger,
    agentId: opts.agentId,
    limits,
    // Same limits (and, in the serializer, the same redaction) as exception locals.
    capture: opts.capture ?? captureLimits(opts.config),
    maxFrames: DEFAULTS.maxCaptureFrames,
  };
  return breakpointsAcrossThreads({
    main: (send) => createBreakpointManager({ ...common, send, getSession: opts.getSession, release: opts.release }),
    // A thread's session is armed (its debugger on) for as long as the thread lives.
    thread: (threadId, session, send) => createBreakpointManager({ ...common, logger: prefixedLogger(opts.logger, `worker thread ${threadId}`), send, getSession: () => Promise.resolve(session) }),
    send: opts.send,
    limits,
    logger: opts.logger,
  });
}
