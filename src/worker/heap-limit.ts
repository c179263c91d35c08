/**
 * A JavaScript heap that reaches its limit, reported before Node ends the process with "JavaScript
 * heap out of memory". While a debugger is enabled, V8 calls the inspector near the heap limit: it
 * raises the limit for the debugger and pauses the app's thread at its next function call (a
 * `Debugger.paused` with reason 'OOM'); once the pause is over the limit is restored. During that
 * pause: the stack, the locals of its app frames, the request being served and the heap's size.
 * The event goes out and the app goes on only once it is written to the socket (within `holdMs`;
 * at once when the backend is not connected): what usually follows is the crash, which nothing
 * outlives. Without the debugger (exception locals off, or deferred and not needed yet) V8 gives
 * no such pause, and nothing is reported.
 */
import { createEventId } from '../shared/ids';
import type { Logger } from '../shared/log';
import type { CaptureLimits, CapturedError, LocalsSnapshot } from '../shared/messages';
import type { EventContext } from '../shared/protocol';
import { prepareSerializer } from './inspector/collect-locals';
import { captureAtPause, framesOf } from './inspector/pause-capture';
import type { InspectorSession, PauseHandler } from './inspector/session';

export const HEAP_LIMIT_TYPE = 'HeapOutOfMemory';
export const HEAP_LIMIT_MECHANISM = 'heap_limit';
/** A heap that keeps coming back to its limit (memory freed in between) is reported at most this often. */
const REPORT_EVERY_MS = 60_000;

export interface HeapLimitOptions {
  logger: Logger;
  limits: CaptureLimits;
  emit: (event: CapturedError) => void;
  /** Resolves once what was sent is written: true, or false when not connected or not within `timeoutMs`. */
  deliver: (timeoutMs: number) => Promise<boolean>;
  /** The longest the app is held after the capture for the event to be written. */
  holdMs: number;
  /**
   * The app has Node write heap snapshots near the limit (`--heapsnapshot-near-heap-limit`). V8
   * calls only the newest near-limit callback: while the debugger is on that is the inspector's,
   * so Node's would never run and no snapshot would be written. After the report the debugger goes
   * off (for good: this process is about to run out of heap), and Node's callback runs next.
   */
  handOverToNode?: boolean;
}

interface HeapUsage {
  usedSize?: number;
  totalSize?: number;
}

const megabytes = (bytes: number): string => (bytes / 1048576).toFixed(1);

function heapLimitEvent(frames: CapturedError['frames'], snapshot: LocalsSnapshot | undefined, found: EventContext | undefined, heap: HeapUsage): CapturedError {
  const context: EventContext = found !== null && typeof found === 'object' ? { ...found } : {};
  const memory: Record<string, number> = { rss_bytes: process.memoryUsage.rss() };
  if (typeof heap.usedSize === 'number') memory.heap_used_bytes = heap.usedSize;
  if (typeof heap.totalSize === 'number') memory.heap_total_bytes = heap.totalSize;
  context.memory = memory;
  return {
    id: createEventId(),
    exceptionType: HEAP_LIMIT_TYPE,
    message: typeof heap.usedSize === 'number' ? `The JavaScript heap reached its size limit (${megabytes(heap.usedSize)} MB in use)` : 'The JavaScript heap reached its size limit',
    frames,
    snapshot,
    localsStatus: snapshot && snapshot.frames.length > 0 ? 'captured' : 'unavailable',
    context,
    mechanism: HEAP_LIMIT_MECHANISM,
    capturedAt: new Date().toISOString(),
  };
}

/** The pause handler for one session (the serializer is looked up now, while the app runs). */
export function heapLimitHandler(s: InspectorSession, opts: HeapLimitOptions): PauseHandler {
  const { logger } = opts;
  void prepareSerializer(s).catch(() => false);
  let reportedAt = -Infinity;
  return async (ev) => {
    if (ev.reason !== 'OOM') return false;
    // ---------------- PAUSED: the app's thread is stopped until this returns ----------------
    const now = performance.now();
    if (now - reportedAt < REPORT_EVERY_MS) {
      logger.debug('JavaScript heap at its limit again (reported less than a minute ago)');
      return true;
    }
    reportedAt = now;
    let found: { snapshot?: LocalsSnapshot; context?: EventContext } = {};
    try {
      found = await captureAtPause(s, ev.callFrames, opts.limits);
    } catch (err) {
      logger.debug(`heap-limit capture failed: ${(err as Error)?.message}`);
    }
    let heap: HeapUsage = {};
    try {
      heap = await s.post<HeapUsage>('Runtime.getHeapUsage');
    } catch {
      // reported without the heap's size
    }
    const frames = framesOf(ev.callFrames, s.scripts);
    try {
      opts.emit(heapLimitEvent(frames, found.snapshot, found.context, heap));
    } catch (err) {
      logger.debug(`heap-limit event lost: ${(err as Error)?.message}`);
      return true;
    }
    const written = await opts.deliver(opts.holdMs).catch(() => false);
    if (opts.handOverToNode) await s.setDebuggerEnabled(false).catch(() => false);
    // ---------------- end PAUSED (the session resumes after this returns) ----------------
    logger.debug(`JavaScript heap at its limit: captured at ${frames[0]?.functionName || '(anonymous)'} ${frames[0]?.file ?? ''}:${frames[0]?.line ?? 0}; ${written ? 'written to the backend' : 'queued'} before the app went on`);
    if (opts.handOverToNode) logger.debug("the agent's debugger is off from now on: Node writes its heap snapshot (--heapsnapshot-near-heap-limit)");
    return true;
  };
}
