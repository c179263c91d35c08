/**
 * What a capture taken during a pause the agent did not cause by an exception (a blocked loop, a
 * heap at its limit) reads: the stack as raw frames, the locals of its app frames, and the
 * request context of the code that was running.
 */
import type { Debugger, Runtime } from 'node:inspector';
import { DEFAULTS, GLOBAL_KEYS } from '../../shared/defaults';
import type { CaptureLimits, LocalsSnapshot, RawFrame } from '../../shared/messages';
import type { EventContext } from '../../shared/protocol';
import { isAppUrl } from './app-frames';
import { captureLocals } from './collect-locals';
import type { InspectorSession } from './session';

const MAX_STACK_FRAMES = 50;
const CONTEXT_EXPRESSION = `(() => { try { const r = globalThis[Symbol.for(${JSON.stringify(GLOBAL_KEYS.context.description ?? '')})]; return typeof r === 'function' ? r() : undefined; } catch { return undefined; } })()`;

/** The pause's call frames as raw frames (source-mapped later, with the exceptions'). */
export function framesOf(callFrames: Debugger.CallFrame[], scripts: ReadonlyMap<string, string>): RawFrame[] {
  return callFrames.slice(0, MAX_STACK_FRAMES).map((f) => ({
    functionName: f.functionName,
    file: scripts.get(f.location.scriptId) ?? f.url ?? '',
    line: f.location.lineNumber + 1,
    column: (f.location.columnNumber ?? 0) + 1,
    isNative: false,
  }));
}

/** During the pause: the app frames' locals (two round trips: the serializer, then the context). */
export async function captureAtPause(s: InspectorSession, callFrames: Debugger.CallFrame[], limits: CaptureLimits): Promise<{ snapshot?: LocalsSnapshot; context?: EventContext }> {
  const snapshot = await captureLocals(s, callFrames, { limits, maxFrames: DEFAULTS.maxCaptureFrames, acceptFrame: (url) => isAppUrl(url) });
  const r = await s.post<Runtime.EvaluateReturnType>('Runtime.evaluate', { expression: CONTEXT_EXPRESSION, returnByValue: true, silent: true });
  return { snapshot, context: r.result?.value as EventContext | undefined };
}
