/**
 * Worker side of a locals capture: ONE Runtime.callFunctionOn per pause, calling the serializer
 * the main thread installed at start (src/main/serialize/serializer.ts) with a CapturePlan and the
 * scope objects of the chosen frames. Each round trip while paused costs 150-250 µs, so nothing
 * here makes more than one.
 */
import type { Debugger, Runtime } from 'node:inspector';
import { GLOBAL_KEYS } from '../../shared/defaults';
import type { CaptureLimits, CapturePlan, LocalsSnapshot, PlanFrame } from '../../shared/messages';
import type { InspectorSession } from './session';

// The serializer is called as `this`: its objectId comes from one Runtime.evaluate at start, so a
// pause never looks anything up on globalThis. Its signature: (target, plan, args, offset).
const ATTACH_DECLARATION = 'function(t,p){return this(t,p,arguments,2)}';
const RETURN_DECLARATION = 'function(p){return this(undefined,p,arguments,1)}';
const OBJECT_GROUP = 'aivory-monitor';
/** Call frames looked at per pause: deeper ones are past any stack trace anyway. */
const MAX_SCANNED_FRAMES = 50;

const serializerIds = new WeakMap<InspectorSession, string>();
/** Lookups under way: callers that come while one is made share it (one round trip per session). */
const lookups = new WeakMap<InspectorSession, Promise<boolean>>();

/**
 * Finds the serializer the main thread installed, once per session (later calls answer at once).
 * Call while the app is running (not during a pause). Resolves false when it is missing (then no
 * capture is attempted).
 */
export function prepareSerializer(session: InspectorSession): Promise<boolean> {
  if (serializerIds.has(session)) return Promise.resolve(true);
  let lookup = lookups.get(session);
  if (lookup === undefined) {
    lookup = lookUpSerializer(session).finally(() => lookups.delete(session));
    lookups.set(session, lookup);
  }
  return lookup;
}

async function lookUpSerializer(session: InspectorSession): Promise<boolean> {
  const key = GLOBAL_KEYS.serializer.description ?? '';
  const r = await session.post<Runtime.EvaluateReturnType>('Runtime.evaluate', {
    expression: `globalThis[Symbol.for(${JSON.stringify(key)})]`,
    objectGroup: OBJECT_GROUP,
    silent: true,
  });
  if (r.result.type !== 'function' || !r.result.objectId) return false;
  serializerIds.set(session, r.result.objectId);
  return true;
}

/** Which call frames to capture: (script url, index in callFrames, the frame) -> capture it? */
export type FrameFilter = (url: string, index: number, frame: Debugger.CallFrame) => boolean;

export interface CaptureOptions {
  limits: CaptureLimits;
  /** Frames captured at most (after filtering), innermost first. */
  maxFrames: number;
  /** Default: every frame. Exceptions pass the app-frame filter. */
  acceptFrame?: FrameFilter;
}

interface BuiltPlan {
  plan: CapturePlan;
  scopeArgs: Runtime.CallArgument[];
}

/**
 * The scopes worth reading: the frame's own (local, block, catch) and its closures. Module-level
 * scopes are left out (imports, required modules, every top-level function: noise in every frame),
 * except in module top-level code, where they are the frame's own. In a CommonJS module the wrapper
 * function's scopes have no name and start at 0:0; when the wrapper is the frame itself its scope
 * is marked 'w' and the serializer drops exports/require/module/__filename/__dirname.
 */
function pickScopes(frame: Debugger.CallFrame, args: Runtime.CallArgument[]): string {
  const chain = frame.scopeChain;
  const esm = chain.some((s) => s.type === 'module');
  let kinds = '';
  let sawLocal = false;
  for (const s of chain) {
    const id = s.object.objectId;
    if (!id) continue;
    const moduleLevel = !esm && !s.name && s.startLocation?.lineNumber === 0 && (s.startLocation.columnNumber ?? 0) === 0;
    let kind = '';
    switch (s.type) {
      case 'local':
        kind = moduleLevel ? 'w' : 's';
        sawLocal = true;
        break;
      case 'block':
      case 'catch':
        if (!(sawLocal && moduleLevel)) kind = 's';
        break;
      case 'closure':
        if (!moduleLevel) kind = 's';
        break;
      case 'module':
        if (!sawLocal) kind = 's';
        break;
    }
    if (!kind) continue;
    kinds += kind;
    args.push({ objectId: id });
  }
  return kinds;
}

/** The plan and its scope arguments for the chosen frames of a pause. */
export function buildPlan(callFrames: Debugger.CallFrame[], scripts: ReadonlyMap<string, string>, options: CaptureOptions): BuiltPlan {
  const frames: PlanFrame[] = [];
  const scopeArgs: Runtime.CallArgument[] = [];
  const n = Math.min(callFrames.length, MAX_SCANNED_FRAMES);
  for (let i = 0; i < n && frames.length < options.maxFrames; i++) {
    const f = callFrames[i];
    const url = scripts.get(f.location.scriptId) ?? f.url ?? '';
    if (options.acceptFrame && !options.acceptFrame(url, i, f)) continue;
    frames.push({
      url,
      line: f.location.lineNumber,
      column: f.location.columnNumber ?? 0,
      functionName: f.functionName,
      functionLine: f.functionLocation?.lineNumber ?? -1,
      scopes: pickScopes(f, scopeArgs),
    });
  }
  return { plan: { limits: options.limits, frames }, scopeArgs };
}

/** What became of an exception capture. */
export type AttachOutcome = 'captured' | 'present' | 'failed' | 'no_frames' | 'no_serializer';

/**
 * During an exception pause: serializes the chosen frames' locals and keeps them, on the main
 * thread, for the thrown object `exceptionObjectId` (read back by build-event when it is reported).
 */
export async function attachLocals(session: InspectorSession, exceptionObjectId: string, callFrames: Debugger.CallFrame[], options: CaptureOptions, thrownInApp: boolean): Promise<AttachOutcome> {
  const serializerId = serializerIds.get(session);
  if (!serializerId) return 'no_serializer';
  const { plan, scopeArgs } = buildPlan(callFrames, session.scripts, options);
  if (plan.frames.length === 0) return 'no_frames';
  plan.thrownInApp = thrownInApp;
  const r = await session.post<Runtime.CallFunctionOnReturnType>('Runtime.callFunctionOn', {
    objectId: serializerId,
    functionDeclaration: ATTACH_DECLARATION,
    arguments: [{ objectId: exceptionObjectId }, { value: plan }, ...scopeArgs],
    returnByValue: true,
    silent: true,
  });
  const v: unknown = r.result?.value;
  return v === 'captured' || v === 'present' ? v : 'failed';
}

/**
 * During any pause (breakpoints): serializes the chosen frames' locals and returns them.
 * Undefined when the serializer is missing or the call failed.
 */
export async function captureLocals(session: InspectorSession, callFrames: Debugger.CallFrame[], options: CaptureOptions): Promise<LocalsSnapshot | undefined> {
  const serializerId = serializerIds.get(session);
  if (!serializerId) return undefined;
  const { plan, scopeArgs } = buildPlan(callFrames, session.scripts, options);
  const r = await session.post<Runtime.CallFunctionOnReturnType>('Runtime.callFunctionOn', {
    objectId: serializerId,
    functionDeclaration: RETURN_DECLARATION,
    arguments: [{ value: plan }, ...scopeArgs],
    returnByValue: true,
    silent: true,
  });
  const v = r.result?.value as LocalsSnapshot | undefined;
  return v && Array.isArray(v.frames) ? v : undefined;
}
