/**
 * Breakpoint hits: the pause handler (short: one round trip to collect, then the session resumes)
 * and, after the resume, turning what was collected into `breakpoint_hit` payloads.
 */
import type { Debugger } from 'node:inspector';
import type { InspectorSession, PausedEvent } from '../inspector/session';
import type { Frame, Variable } from '../../shared/protocol';
import { toWireFrame, isInAppFile } from '../event-payload';
import { SNAPSHOT_FUNCTION, type PauseSnapshot } from './gate';
import type { ScriptCatalogue } from './scripts';
import { generatedToOriginal } from './source-maps';
import type { CollectPlan } from './temp-collector';

/** Frames kept in a hit's stack trace. */
const MAX_STACK_FRAMES = 50;
/** Scope types whose variables are a frame's locals; 'closure' only for the innermost frame. */
const LOCAL_SCOPES = new Set(['local', 'block', 'catch']);

/** A call frame as plain data: what survives the resume. */
interface PlainFrame {
  functionName: string;
  scriptId: string;
  line: number;
  column: number;
  /** Index into the snapshot's frames when its locals were collected. */
  localsIndex: number;
}

/** What the pause produced, processed after the resume. */
export interface CollectedHit {
  snapshot: PauseSnapshot | null;
  frames: PlainFrame[];
  /** V8 breakpoint ids of ours in hitBreakpoints. */
  v8Ids: string[];
  /** Worker time (ms, performance.now) when the pause event arrived and when collection ended. */
  pausedAt: number;
  collectedAt: number;
}

export interface CollectOptions {
  captureFrames: number;
  deadlineMs: number;
  limits: Omit<CollectPlan, 'frameScopes' | 'deadlineMs'>;
}

function planFrames(callFrames: Debugger.CallFrame[], catalogue: ScriptCatalogue, captureFrames: number) {
  const frames: PlainFrame[] = [];
  const frameScopes: number[] = [];
  const scopeIds: string[] = [];
  for (const cf of callFrames.slice(0, MAX_STACK_FRAMES)) {
    const script = catalogue.get(cf.location.scriptId);
    const frame: PlainFrame = {
      functionName: cf.functionName,
      scriptId: cf.location.scriptId,
      line: cf.location.lineNumber,
      column: cf.location.columnNumber ?? 0,
      localsIndex: -1,
    };
    if (script && frameScopes.length < captureFrames && isInAppFile(script.path)) {
      const first = frameScopes.length === 0;
      let n = 0;
      for (const scope of cf.scopeChain) {
        if (!(LOCAL_SCOPES.has(scope.type) || (first && scope.type === 'closure'))) continue;
        if (!scope.object.objectId) continue;
        scopeIds.push(scope.object.objectId);
        n++;
      }
      frame.localsIndex = frameScopes.length;
      frameScopes.push(n);
    }
    frames.push(frame);
  }
  return { frames, frameScopes, scopeIds };
}

/**
 * Collects a hit during the pause: ONE Runtime.callFunctionOn that takes the gate's accepted hits
 * and the locals of the innermost in-app frames. Returns as soon as it has them (or at the
 * deadline); the session resumes right after.
 */
export async function collectHit(session: InspectorSession, event: PausedEvent, v8Ids: string[], catalogue: ScriptCatalogue, opts: CollectOptions): Promise<CollectedHit> {
  // ---------------- PAUSED: the app's thread is stopped until this returns ----------------
  const pausedAt = performance.now();
  const { frames, frameScopes, scopeIds } = planFrames(event.callFrames, catalogue, opts.captureFrames);
  const anchor = event.callFrames[0]?.scopeChain.find((s) => s.object.objectId)?.object.objectId;
  let snapshot: PauseSnapshot | null = null;
  if (anchor) {
    const plan: CollectPlan = { ...opts.limits, deadlineMs: opts.deadlineMs, frameScopes };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), opts.deadlineMs * 2);
    });
    try {
      const call = session
        .post<{ result: { value?: string }; exceptionDetails?: unknown }>('Runtime.callFunctionOn', {
          objectId: anchor,
          functionDeclaration: SNAPSHOT_FUNCTION,
          arguments: [{ value: plan }, ...scopeIds.map((objectId) => ({ objectId }))],
          returnByValue: true,
          silent: true,
        })
        .then((r) => (r.exceptionDetails || typeof r.result.value !== 'string' ? null : (JSON.parse(r.result.value) as PauseSnapshot)));
      snapshot = await Promise.race([call, deadline]);
    } catch {
      snapshot = null;
    } finally {
      clearTimeout(timer);
    }
  }
  return { snapshot, frames, v8Ids, pausedAt, collectedAt: performance.now() };
  // ---------------- end PAUSED ----------------
}

/** Wire frames of a collected hit (after the resume): source-mapped where a map is known. */
export async function buildStack(hit: CollectedHit, catalogue: ScriptCatalogue): Promise<Frame[]> {
  const out: Frame[] = [];
  for (const f of hit.frames) {
    const script = catalogue.get(f.scriptId);
    const locals = f.localsIndex >= 0 ? (hit.snapshot?.frames[f.localsIndex] as Record<string, Variable> | undefined) : undefined;
    if (!script) {
      out.push(toWireFrame({ functionName: f.functionName, file: '<unknown>', line: f.line + 1, column: f.column + 1, isNative: false, locals }));
      continue;
    }
    let frame = toWireFrame({ functionName: f.functionName, file: script.url, line: f.line + 1, column: f.column + 1, isNative: false, locals });
    const loaded = isInAppFile(script.path) ? await catalogue.mapOf(script) : null;
    const original = loaded ? generatedToOriginal(loaded, f.line, f.column) : null;
    if (original) {
      const generated = { file_path: frame.file_path, line_number: frame.line_number, column_number: frame.column_number };
      frame = toWireFrame({ functionName: f.functionName, file: original.path, line: original.line, column: original.column + 1, isNative: false, locals });
      frame.generated = generated;
    }
    out.push(frame);
  }
  return out;
}
