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
import { createBlockedReport } from './report';
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
  // The monitor's longest delay between two runs of its timer (ns): a blocked stretch's length plus up to one period.
  const readMaxMs = (): number => {
    try {
      return histogram.max / 1e6;
    } catch {
      return NaN;
    }
  };
  const now = (): number => performance.now();
  const report = createBlockedReport({ capMs: DEFAULTS.eventLoopBlockedReportWaitMs, thresholdMs: opts.thresholdMs, now, emit: opts.emit });
  const capture = createBlockedLoopCapture({
    logger: opts.logger,
    limits: opts.limits,
    borrow: opts.borrow,
    movedSince: (count) => readCount() !== count,
    done: (c) => report.captured(c),
  });
  let maxBefore = readMaxMs();
  const watch = createLoopWatch({
    thresholdMs: opts.thresholdMs,
    resolutionMs,
    cooldownMs: DEFAULTS.eventLoopBlockedCooldownMs,
    readCount,
    now,
    onBlocked: (blockedMs) => {
      maxBefore = readMaxMs();
      report.begin(blockedMs);
      capture.capture(blockedMs, readCount());
    },
    onRecovered: () => {
      // Recorded when the timer ran again (unless an earlier delay was longer): from its last run
      // before the stretch, which began up to one period later, to its first run after it. Node
      // records no delay for the timer's first run (it takes its first time then): a stretch that
      // began before it shows no longer than a period. Then the watch's own estimate.
      const max = readMaxMs();
      const fromMonitor = max > maxBefore ? max - resolutionMs / 2 : undefined;
      report.recovered(fromMonitor !== undefined && fromMonitor >= opts.thresholdMs ? fromMonitor : undefined);
    },
  });
  const timer = setInterval(() => watch.tick(), watchInterval(opts.thresholdMs, resolutionMs));
  timer.unref();
  opts.logger.debug(`blocked event loops are reported from ${opts.thresholdMs} ms on`);
  return {
    stop() {
      clearInterval(timer);
      // A loop that came back since the last look (the app exits right after a stretch) ends it first.
      watch.tick();
      capture.stop();
      report.flush();
    },
  };
}
