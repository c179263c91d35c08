/**
 * Worker side of blocked-loop reports: once the watch (watch.ts) sees the app's loop blocked past
 * the threshold, `Debugger.pause` stops the app's thread where it is, in the code that blocks it
 * (V8 takes the pause at its next interrupt check, also inside a long loop or regular expression).
 * During that one pause: the stack, the locals of its app frames (the exceptions' serializer) and
 * the request context; then the session resumes. The app was not running anyway, so the pause
 * costs it nothing it would otherwise have had.
 */
import { DEFAULTS } from '../../shared/defaults';
import type { Logger } from '../../shared/log';
import type { CaptureLimits, LocalsSnapshot, RawFrame } from '../../shared/messages';
import type { EventContext } from '../../shared/protocol';
import { prepareSerializer } from '../inspector/collect-locals';
import type { SessionLease } from '../inspector';
import { captureAtPause, framesOf } from '../inspector/pause-capture';
import type { InspectorSession, PausedEvent } from '../inspector/session';
import type { BlockedCapture } from './report';

export interface BlockedLoopCaptureOptions {
  logger: Logger;
  limits: CaptureLimits;
  borrow: () => Promise<SessionLease>;
  /** Whether the app's loop ran since the watch read `count`. */
  movedSince: (count: number) => boolean;
  /** The capture is over (with or without a stack). */
  done: (capture: BlockedCapture) => void;
}

export interface BlockedLoopCapture {
  /** The loop is blocked (at least blockedMs) and the watch count is `count`: pause, capture, report. */
  capture(blockedMs: number, count: number): void;
  stop(): void;
}

interface Pending {
  blockedMs: number;
  count: number;
  /** The serializer looked up (posted before the pause, so answered before it). */
  prepared: Promise<unknown>;
  /** Ends the capture once: the event (with or without a stack) goes out, the lease is released. */
  settle: (frames: RawFrame[], snapshot?: LocalsSnapshot, context?: EventContext) => void;
}

export function createBlockedLoopCapture(opts: BlockedLoopCaptureOptions): BlockedLoopCapture {
  const { logger } = opts;
  let pending: Pending | undefined;
  let busy = false;
  let stopped = false;
  const withHandler = new WeakSet<InspectorSession>();

  /** Claims the pause it asked for: reason 'other' with no breakpoint of anyone's. */
  const onPause = async (ev: PausedEvent, s: InspectorSession): Promise<boolean> => {
    const p = pending;
    if (!p || ev.reason !== 'other' || (ev.hitBreakpoints?.length ?? 0) > 0) return false;
    pending = undefined;
    // ---------------- PAUSED: the app's thread is stopped until this returns ----------------
    if (opts.movedSince(p.count)) {
      // The loop came round before V8 reached an interrupt check: this is other code.
      logger.debug(`event loop blocked for at least ${p.blockedMs} ms; it went on before the pause (no stack)`);
      p.settle([]);
      return true;
    }
    let snapshot: LocalsSnapshot | undefined;
    let context: EventContext | undefined;
    try {
      await p.prepared;
      ({ snapshot, context } = await captureAtPause(s, ev.callFrames, opts.limits));
    } catch (err) {
      logger.debug(`blocked-loop capture failed: ${(err as Error)?.message}`);
    }
    const frames = framesOf(ev.callFrames, s.scripts);
    // ---------------- end PAUSED (the session resumes after this returns) ----------------
    logger.debug(`event loop blocked for at least ${p.blockedMs} ms: captured at ${frames[0]?.functionName || '(anonymous)'} ${frames[0]?.file ?? ''}:${frames[0]?.line ?? 0}`);
    p.settle(frames, snapshot, context);
    return true;
  };

  const run = async (blockedMs: number, count: number): Promise<void> => {
    let lease: SessionLease | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (frames: RawFrame[], snapshot?: LocalsSnapshot, context?: EventContext): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (pending?.settle === settle) pending = undefined;
      lease?.release();
      busy = false;
      if (stopped) return;
      opts.done({ frames, snapshot, context });
    };
    try {
      lease = await opts.borrow();
    } catch (err) {
      logger.debug(`event loop blocked for at least ${blockedMs} ms; no inspector (${(err as Error)?.message}): no stack`);
      settle([]);
      return;
    }
    const s = lease.session;
    if (!s || stopped) {
      if (!s) logger.debug(`event loop blocked for at least ${blockedMs} ms; no inspector session: no stack`);
      settle([]);
      return;
    }
    if (!withHandler.has(s)) {
      withHandler.add(s);
      s.addPauseHandler((ev) => onPause(ev, s));
    }
    // A thread blocked in native code pauses only once it runs JavaScript again: past the wait the
    // report goes without a stack, and a late pause is resumed as nobody's.
    timer = setTimeout(() => {
      logger.debug(`event loop blocked for at least ${blockedMs} ms; the app's thread did not reach JavaScript within ${DEFAULTS.eventLoopBlockedPauseWaitMs} ms (no stack)`);
      settle([]);
    }, DEFAULTS.eventLoopBlockedPauseWaitMs);
    timer.unref();
    // Both posted at once: a thread blocked in JavaScript serves them at its next interrupt check,
    // the serializer's lookup (an evaluate, never made during a pause) first.
    const lookup = prepareSerializer(s).catch(() => false);
    pending = { blockedMs, count, prepared: lookup, settle };
    try {
      await s.post('Debugger.pause');
    } catch (err) {
      logger.debug(`event loop blocked for at least ${blockedMs} ms; no pause (${(err as Error)?.message}): no stack`);
      settle([]);
    }
  };

  return {
    capture(blockedMs, count) {
      if (stopped || busy) return;
      busy = true;
      run(blockedMs, count).catch((err: unknown) => {
        busy = false;
        logger.debug(`blocked-loop capture failed: ${(err as Error)?.message}`);
      });
    },
    stop() {
      stopped = true;
      pending?.settle([]);
    },
  };
}
