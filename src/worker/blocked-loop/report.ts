/**
 * One blocked stretch's event. The capture (stack, locals, request) is taken while the loop is
 * blocked; the event goes out once the loop is back, saying how long it was blocked, or `capMs`
 * after the stretch was seen if it is still blocked then: a process its supervisor kills for not
 * answering has told why by then.
 */
import { createEventId } from '../../shared/ids';
import type { CapturedError, LocalsSnapshot, RawFrame } from '../../shared/messages';
import type { EventContext } from '../../shared/protocol';

export const BLOCKED_LOOP_TYPE = 'EventLoopBlocked';
export const BLOCKED_LOOP_MECHANISM = 'event_loop_blocked';

/** What a capture found: the stack ([] without one), the locals of its app frames, the request. */
export interface BlockedCapture {
  frames: RawFrame[];
  snapshot?: LocalsSnapshot;
  context?: EventContext;
}

export interface BlockedReportOptions {
  capMs: number;
  /** The setting, sent along in the event's `context.event_loop`. */
  thresholdMs: number;
  now: () => number;
  emit: (event: CapturedError) => void;
}

export interface BlockedReport {
  /** A stretch was seen, blocked for `blockedMs` so far. */
  begin(blockedMs: number): void;
  captured(capture: BlockedCapture): void;
  /** The loop is back: blocked `totalMs` in all (undefined: estimate from when it was seen). */
  recovered(totalMs?: number): void;
  /** Sends what is known now (the agent is stopping or the app exits). */
  flush(): void;
}

interface Stretch {
  startedAt: number;
  capture?: BlockedCapture;
  totalMs?: number;
  timer: NodeJS.Timeout;
}

/** The numbers of the message, for a backend to sort and chart by: `context.event_loop`. */
interface LoopFacts {
  blocked_ms: number;
  threshold_ms: number;
  still_blocked: boolean;
}

function blockedEvent(message: string, c: BlockedCapture | undefined, facts: LoopFacts, startedAtEpochMs: number): CapturedError {
  const snapshot = c?.snapshot;
  const context: EventContext = c?.context !== null && typeof c?.context === 'object' ? { ...c.context } : {};
  context.event_loop = facts;
  return {
    id: createEventId(),
    exceptionType: BLOCKED_LOOP_TYPE,
    message,
    frames: c?.frames ?? [],
    snapshot,
    // No app frame on the stack (Node's own code blocked): nothing was captured.
    localsStatus: snapshot && snapshot.frames.length > 0 ? 'captured' : 'unavailable',
    context,
    mechanism: BLOCKED_LOOP_MECHANISM,
    // When the stretch began, to line it up with the app's own logs (sent when it ended).
    capturedAt: new Date(startedAtEpochMs).toISOString(),
  };
}

export function createBlockedReport(opts: BlockedReportOptions): BlockedReport {
  let stretch: Stretch | undefined;

  const send = (s: Stretch): void => {
    if (stretch !== s) return;
    stretch = undefined;
    clearTimeout(s.timer);
    const stillBlocked = s.totalMs === undefined;
    const elapsedMs = opts.now() - s.startedAt;
    const blockedMs = Math.round(s.totalMs ?? elapsedMs);
    const message = stillBlocked ? `The event loop was blocked for at least ${blockedMs} ms (still blocked when reported)` : `The event loop was blocked for ${blockedMs} ms`;
    try {
      opts.emit(blockedEvent(message, s.capture, { blocked_ms: blockedMs, threshold_ms: opts.thresholdMs, still_blocked: stillBlocked }, Date.now() - elapsedMs));
    } catch {
      // the transport is gone (the agent is stopping): the event is lost, the app is not affected
    }
  };

  return {
    begin(blockedMs) {
      if (stretch) send(stretch);
      const s: Stretch = { startedAt: opts.now() - blockedMs, timer: setTimeout(() => send(s), opts.capMs) };
      s.timer.unref();
      stretch = s;
    },
    captured(capture) {
      const s = stretch;
      if (!s) return;
      s.capture = capture;
      if (s.totalMs !== undefined) send(s);
    },
    recovered(totalMs) {
      const s = stretch;
      if (!s) return;
      s.totalMs = totalMs !== undefined && Number.isFinite(totalMs) ? totalMs : opts.now() - s.startedAt;
      // The capture of a thread that was blocked in native code ends right after it: wait for it.
      if (s.capture) send(s);
    },
    flush() {
      if (stretch) send(stretch);
    },
  };
}
