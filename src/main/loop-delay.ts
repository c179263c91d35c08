/**
 * The app thread's half of blocked-loop reports (AIVORY_EVENT_LOOP_BLOCKED_MS): Node's event-loop
 * delay monitor, whose native timer runs on this thread and counts each run. The worker reads that
 * count from its shared copy: when it stops growing, the loop is blocked. Nothing runs in JavaScript
 * on this thread for it, and nothing at all when the setting is off.
 */
import type { IntervalHistogram } from 'node:perf_hooks';

/** The monitor's timer period for a threshold: several runs per threshold, between 10 ms and 1 s. */
export function loopDelayResolution(thresholdMs: number): number {
  return Math.min(1000, Math.max(10, Math.round(thresholdMs / 10)));
}

/** Starts the monitor (its timer is unref'd by Node: it never keeps the app alive). */
export function startLoopDelayMonitor(thresholdMs: number): IntervalHistogram | undefined {
  if (thresholdMs <= 0) return undefined;
  try {
    const { monitorEventLoopDelay } = require('node:perf_hooks') as typeof import('node:perf_hooks');
    const monitor = monitorEventLoopDelay({ resolution: loopDelayResolution(thresholdMs) });
    monitor.enable();
    return monitor;
  } catch {
    return undefined;
  }
}
