/**
 * Blocked-loop reports (AIVORY_EVENT_LOOP_BLOCKED_MS): the watch on the app thread's loop-delay
 * count, and the capture it triggers. Started by the worker only when the app's thread shared its
 * monitor (the setting is on and the app runs no debugger of its own).
 */
import type { Histogram } from 'node:perf_hooks';
import { DEFAULTS } from '../../shared/defaults';
import type { Logger } from '../../shared/log';
import type { CaptureLimits, CapturedError } from '../../shared/messages';
import type { SessionLease } from '../inspector';
import { createBlockedLoopCapture } from './capture';
import { createLoopWatch, watchInterval } from './watch';

export interface BlockedLoopOptions {
  monitor: { histogram: Histogram; resolutionMs: number };
  thresholdMs: number;
  logger: Logger;
  limits: CaptureLimits;
  /** The inspector session with its debugger on, for one capture. */
  borrow: () => Promise<SessionLease>;
  emit: (event: CapturedError) => void;
}

export function startBlockedLoopReports(opts: BlockedLoopOptions): { stop(): void } {
  const { histogram, resolutionMs } = opts.monitor;
  const readCount = (): number => {
    try {
      return histogram.count;
    } catch {
      return -1;
    }
  };
  const capture = createBlockedLoopCapture({
    logger: opts.logger,
    limits: opts.limits,
    borrow: opts.borrow,
    movedSince: (count) => readCount() !== count,
    emit: opts.emit,
  });
  const watch = createLoopWatch({
    thresholdMs: opts.thresholdMs,
    resolutionMs,
    cooldownMs: DEFAULTS.eventLoopBlockedCooldownMs,
    readCount,
    now: () => performance.now(),
    onBlocked: (blockedMs) => capture.capture(blockedMs, readCount()),
  });
  const timer = setInterval(() => watch.tick(), watchInterval(opts.thresholdMs, resolutionMs));
  timer.unref();
  opts.logger.debug(`blocked event loops are reported from ${opts.thresholdMs} ms on`);
  return {
    stop() {
      clearInterval(timer);
      capture.stop();
    },
  };
}
