/**
 * Blocked-loop reports (AIVORY_EVENT_LOOP_BLOCKED_MS): the watch on the app thread's loop-delay
 * count, and the capture it triggers. Runs only while the app's thread shares its monitor (the
 * setting is on, from the start or by the backend's `configure`, and the app runs no debugger of
 * its own).
 */
import { DEFAULTS } from '../../shared/defaults';
import type { Logger } from '../../shared/log';
import type { CaptureLimits, CapturedError, LoopDelayMonitor } from '../../shared/messages';
import type { SessionLease } from '../inspector';
import { createBlockedLoopCapture } from './capture';
import { createBlockedReport } from './report';
import { createLoopWatch, watchInterval } from './watch';

export interface BlockedLoopOptions {
  monitor: LoopDelayMonitor;
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
  // process.cpuUsage is the whole process's (every thread's), which is what tells a stopped one.
  const readCpuMs = (): number => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
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
    readCpuMs,
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

export interface BlockedLoopWatch {
  /** Watches with this monitor and threshold from now on (none: stops watching), instead of the ones before. */
  use(monitor: LoopDelayMonitor | undefined, thresholdMs: number): void;
  /** Stops for good (the agent stops, or the app exits). */
  stop(): void;
}

/**
 * The worker's blocked-loop reports over time: the monitor and threshold may change (the backend's
 * `configure`). A watch starts once the inspector is armed: attaching it stalls the app's loop
 * (50-120 ms) itself.
 */
export function createBlockedLoopWatch(opts: Omit<BlockedLoopOptions, 'monitor' | 'thresholdMs'> & { ready: Promise<unknown> }): BlockedLoopWatch {
  let current: { stop(): void } | undefined;
  // Bumped by each change, so that a watch still waiting for the inspector is not started after a newer one.
  let generation = 0;
  let stopped = false;
  return {
    use(monitor, thresholdMs) {
      if (stopped) return;
      const mine = ++generation;
      current?.stop();
      current = undefined;
      if (!monitor) return;
      void opts.ready.then(() => {
        if (stopped || mine !== generation) return;
        current = startBlockedLoopReports({ ...opts, monitor, thresholdMs });
      });
    },
    stop() {
      stopped = true;
      current?.stop();
      current = undefined;
    },
  };
}
