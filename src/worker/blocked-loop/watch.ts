/**
 * Tells a blocked event loop from the app thread's loop-delay monitor (src/main/loop-delay.ts):
 * its native timer runs on the app's thread every `resolutionMs` and counts each run, so a count
 * that stops growing means the loop has not come round. The worker looks at the count a few times
 * per threshold; nothing runs on the app's thread for it.
 */

export interface LoopWatchOptions {
  thresholdMs: number;
  /** The monitor's timer period: the loop may have run this long after the last count it was seen at. */
  resolutionMs: number;
  /** Blocked episodes reported at most this often (each capture pauses the app once). */
  cooldownMs: number;
  readCount: () => number;
  now: () => number;
  /** CPU time the whole process has used, ms: tells a starved worker from a stopped process. */
  readCpuMs: () => number;
  /** A blocked stretch passed the threshold: how long the loop has been blocked at least, ms. */
  onBlocked: (blockedMs: number) => void;
  /** The loop came round again after a stretch that was reported. */
  onRecovered: () => void;
}

export interface LoopWatch {
  /** Looks at the count once (the worker calls it on a timer). */
  tick(): void;
}

export function createLoopWatch(opts: LoopWatchOptions): LoopWatch {
  let lastCount = opts.readCount();
  let changedAt = opts.now();
  let reported = false;
  let reportedAt = -Infinity;
  let tickedAt = changedAt;
  let cpuAtTick = opts.readCpuMs();
  return {
    tick() {
      const count = opts.readCount();
      const t = opts.now();
      const cpu = opts.readCpuMs();
      const sinceTick = t - tickedAt;
      const cpuSinceTick = cpu - cpuAtTick;
      tickedAt = t;
      cpuAtTick = cpu;
      // The loop came round: a stretch starts now.
      if (count !== lastCount) {
        if (reported) opts.onRecovered();
        lastCount = count;
        changedAt = t;
        reported = false;
        return;
      }
      // The worker itself did not run for a long while. When the process used (almost) no CPU
      // meanwhile, it was stopped (SIGSTOP, a frozen container, a starved machine) and cannot tell
      // how long the loop was blocked: a stretch not reported yet starts again now (one already
      // reported stays open until the loop comes round). When it did, the app's thread was running,
      // the worker was only starved or busy capturing: the stretch goes on.
      if (sinceTick > opts.thresholdMs / 2 && !(cpuSinceTick >= sinceTick / 4)) {
        if (!reported) changedAt = t;
        return;
      }
      // Seen unchanged since changedAt; the timer was due at most one period after its last run.
      const blockedMs = t - changedAt - opts.resolutionMs;
      if (reported || blockedMs < opts.thresholdMs || t - reportedAt < opts.cooldownMs) return;
      reported = true;
      reportedAt = t;
      opts.onBlocked(Math.round(blockedMs));
    },
  };
}

/** How often the worker looks: a few times per threshold, at most every 25 ms. */
export function watchInterval(thresholdMs: number, resolutionMs: number): number {
  return Math.max(25, Math.min(250, Math.round(Math.min(thresholdMs, resolutionMs * 4) / 4)));
}
