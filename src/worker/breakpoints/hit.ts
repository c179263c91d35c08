/**
 * Breakpoint hits: the pause handler (short: one round trip to collect, then the session resumes)
 * and, after the resume, turning what was collected into `breakpoint_hit` payloads.
 */
import type { Frame, Variable } from '../../shared/protocol';
import type { CaptureLimits } from '../../shared/messages';
import { toWireFrame, isInAppFile } from '../event-payload';
import { isAppUrl } from '../inspector/app-frames';
import { buildPlan } from '../inspector/collect-locals';
import type { InspectorSession, PausedEvent } from '../inspector/session';
import { SNAPSHOT_FUNCTION, type InlineSnapshot, type PauseSnapshot } from './gate';
import type { ScriptCatalogue, ScriptInfo } from './scripts';
import { generatedToOriginal } from './source-maps';

/** Frames kept in a hit's stack trace. */
const MAX_STACK_FRAMES = 50;

/** A call frame as plain data: what survives the resume. */
interface PlainFrame {
  functionName: string;
  scriptId: string;
  line: number;
  column: number;
  /** Index into the snapshot's frames when its locals were collected, else -1. */
  localsIndex: number;
}

/** What the pause produced, processed after the resume. */
export interface CollectedHit {
  /**
   * The snapshot, computed on the app's thread during the pause. Usually already settled when the
   * handler returns; when the worker stopped waiting (deadline), it settles later and is still
   * the pause's own data (the resume queues behind the call on the app's thread).
   */
  snapshot: Promise<PauseSnapshot | null>;
  frames: PlainFrame[];
  /** V8 breakpoint ids of ours in hitBreakpoints. */
  v8Ids: string[];
  /** Worker time (ms, performance.now) when the pause event arrived and when collection ended. */
  pausedAt: number;
  collectedAt: number;
}

export interface CollectOptions {
  limits: CaptureLimits;
  /** App frames whose locals are captured, innermost first. */
  maxFrames: number;
  /**
   * The pause handler stops waiting for the snapshot after this long. It cannot shorten the pause
   * (the resume is processed after the call) but keeps the handler from waiting on a lost answer.
   */
  deadlineMs: number;
}

/**
 * Collects a hit during the pause: ONE Runtime.callFunctionOn that takes the gate's accepted hits
 * and runs the shared serializer over the scopes of the innermost app frames (the plan is the one
 * exception captures use). Returns as soon as it has them; the session resumes right after.
 */
export async function collectHit(session: InspectorSession, event: PausedEvent, v8Ids: string[], opts: CollectOptions): Promise<CollectedHit> {
  // ---------------- PAUSED: the app's thread is stopped until this returns ----------------
  const pausedAt = performance.now();
  const captured: number[] = [];
  const { plan, scopeArgs } = buildPlan(event.callFrames, session.scripts, {
    limits: opts.limits,
    maxFrames: opts.maxFrames,
    acceptFrame: (url, index) => {
      const ok = isAppUrl(url);
      if (ok) captured.push(index);
      return ok;
    },
  });
  const frames: PlainFrame[] = event.callFrames.slice(0, MAX_STACK_FRAMES).map((cf, i) => ({
    functionName: cf.functionName,
    scriptId: cf.location.scriptId,
    line: cf.location.lineNumber,
    column: cf.location.columnNumber ?? 0,
    localsIndex: captured.indexOf(i),
  }));
  const anchor = event.callFrames[0]?.scopeChain.find((s) => s.object.objectId)?.object.objectId;
  let snapshot: Promise<PauseSnapshot | null> = Promise.resolve(null);
  if (anchor) {
    snapshot = session
      .post<{ result: { value?: unknown }; exceptionDetails?: unknown }>('Runtime.callFunctionOn', {
        objectId: anchor,
        functionDeclaration: SNAPSHOT_FUNCTION,
        arguments: [{ value: plan }, ...scopeArgs],
        returnByValue: true,
        silent: true,
      })
      .then((r) => (r.exceptionDetails || typeof r.result.value !== 'string' ? null : (JSON.parse(r.result.value) as PauseSnapshot)))
      .catch(() => null);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, opts.deadlineMs);
    });
    await Promise.race([snapshot, deadline]);
    clearTimeout(timer);
  }
  return { snapshot, frames, v8Ids, pausedAt, collectedAt: performance.now() };
  // ---------------- end PAUSED ----------------
}

/** Wire frames of a collected hit (after the resume): source-mapped where a map is known. */
export async function buildStack(hit: CollectedHit, snapshot: PauseSnapshot, catalogue: ScriptCatalogue): Promise<Frame[]> {
  const out: Frame[] = [];
  for (const f of hit.frames) {
    const locals: Record<string, Variable> | undefined = f.localsIndex >= 0 ? snapshot.frames[f.localsIndex]?.locals : undefined;
    out.push(await wireFrame(catalogue, catalogue.get(f.scriptId), '<unknown>', f.functionName, f.line, f.column, locals));
  }
  return out;
}

/** Wire frames of an in-line hit: the stack read on the app's thread, the hit frame's locals on top. */
export async function buildInlineStack(snapshot: InlineSnapshot, catalogue: ScriptCatalogue): Promise<Frame[]> {
  const out: Frame[] = [];
  const stack = Array.isArray(snapshot.stack) ? snapshot.stack : [];
  for (let i = 0; i < stack.length && i < MAX_STACK_FRAMES; i++) {
    const site = stack[i];
    const locals = i === 0 ? snapshot.frames[0]?.locals : undefined;
    out.push(await wireFrame(catalogue, site.file ? catalogue.byFile(site.file) : undefined, site.file || '<unknown>', site.functionName, site.line - 1, site.column - 1, locals, site.isNative));
  }
  return out;
}

/** One wire frame from a 0-based position in a script (known to the catalogue or only by name). */
async function wireFrame(
  catalogue: ScriptCatalogue,
  script: ScriptInfo | undefined,
  fileWithoutScript: string,
  functionName: string,
  line: number,
  column: number,
  locals: Record<string, Variable> | undefined,
  isNative = false,
): Promise<Frame> {
  if (!script) return toWireFrame({ functionName, file: fileWithoutScript, line: line + 1, column: column + 1, isNative, locals });
  const frame = toWireFrame({ functionName, file: script.url, line: line + 1, column: column + 1, isNative, locals });
  const loaded = isInAppFile(script.path) ? await catalogue.mapOf(script) : null;
  const original = loaded ? generatedToOriginal(loaded, line, column) : null;
  if (!original) return frame;
  const mapped = toWireFrame({ functionName, file: original.path, line: original.line, column: original.column + 1, isNative, locals });
  mapped.generated = { file_path: frame.file_path, line_number: frame.line_number, column_number: frame.column_number };
  return mapped;
}
