import type { CapturedError } from './messages';

/**
 * Whether an event a thread posted is shaped as the threads' agents build them. The channels'
 * names are public to the app: what goes on to the agent's worker (through the main thread, or to
 * it directly) must be what they build.
 */

const LOCALS_STATUSES = new Set(['captured', 'budget', 'not_ready', 'primitive', 'unavailable']);
const MAX_FRAMES = 500;

function isRecord(value: unknown): value is Partial<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isFrame(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.functionName === 'string' &&
    (value.typeName === undefined || typeof value.typeName === 'string') &&
    typeof value.file === 'string' &&
    typeof value.line === 'number' &&
    typeof value.column === 'number' &&
    typeof value.isNative === 'boolean'
  );
}

function isSnapshotFrame(value: unknown): boolean {
  return isRecord(value) && typeof value.url === 'string' && typeof value.line === 'number' && typeof value.column === 'number' && typeof value.functionName === 'string' && isRecord(value.locals);
}

export function isThreadEvent(e: unknown): e is CapturedError {
  if (!isRecord(e)) return false;
  const frames = e.frames;
  const snapshot = e.snapshot;
  return (
    typeof e.id === 'string' &&
    typeof e.exceptionType === 'string' &&
    typeof e.message === 'string' &&
    typeof e.mechanism === 'string' &&
    typeof e.capturedAt === 'string' &&
    LOCALS_STATUSES.has(e.localsStatus as string) &&
    isRecord(e.context) &&
    Array.isArray(frames) &&
    frames.length <= MAX_FRAMES &&
    frames.every(isFrame) &&
    (snapshot === undefined || (isRecord(snapshot) && Array.isArray(snapshot.frames) && snapshot.frames.length <= MAX_FRAMES && snapshot.frames.every(isSnapshotFrame))) &&
    (e.causes === undefined || Array.isArray(e.causes)) &&
    (e.suppressedBefore === undefined || typeof e.suppressedBefore === 'number') &&
    (e.repeatKey === undefined || typeof e.repeatKey === 'string')
  );
}

/** A flush request's fields: the thread's id, the request's, and how long it may take (0-60 s). */
export function isFlushRequest(data: Partial<Record<string, unknown>>): boolean {
  return Number.isInteger(data.threadId) && Number.isInteger(data.requestId) && Number.isFinite(data.timeoutMs);
}

export function flushTimeout(timeoutMs: number): number {
  return Math.min(Math.max(0, timeoutMs), 60_000);
}
