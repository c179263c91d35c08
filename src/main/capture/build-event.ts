import { types } from 'node:util';
import { GLOBAL_KEYS } from '../../shared/defaults';
import { createEventId } from '../../shared/ids';
import type { CapturedError, RawFrame } from '../../shared/messages';
import type { CauseInfo, EventContext, Variable } from '../../shared/protocol';
import { parseStack } from './stack-parser';

const MAX_CAUSES = 5;
const MAX_MESSAGE = 8192;

/** Reads an own data property without running getters or Proxy traps. */
function ownData(obj: object, key: string | symbol): unknown {
  try {
    if (types.isProxy(obj)) return undefined;
    const d = Object.getOwnPropertyDescriptor(obj, key);
    return d && 'value' in d ? d.value : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a data property from the object or its prototype chain (e.g. `name` on Error.prototype), no getters. */
function chainData(obj: object, key: string): unknown {
  let o: object | null = obj;
  for (let i = 0; o && i < 8; i++) {
    if (types.isProxy(o)) return undefined;
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d) return 'value' in d ? d.value : undefined;
    o = Object.getPrototypeOf(o) as object | null;
  }
  return undefined;
}

function describeThrown(value: unknown): { type: string; message: string; stack?: string } {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const name = chainData(value, 'name');
    const message = chainData(value, 'message');
    const stack = ownData(value, 'stack');
    const ctor = types.isNativeError(value) || typeof name === 'string' ? undefined : chainData(value, 'constructor');
    const ctorName = typeof ctor === 'function' ? ownData(ctor, 'name') : undefined;
    return {
      type: typeof name === 'string' && name ? name : typeof ctorName === 'string' && ctorName ? ctorName : 'Object',
      message: typeof message === 'string' ? message.slice(0, MAX_MESSAGE) : '',
      stack: typeof stack === 'string' ? stack : undefined,
    };
  }
  let text: string;
  try {
    text = typeof value === 'symbol' ? value.toString() : String(value);
  } catch {
    text = '';
  }
  return { type: value === null ? 'null' : typeof value, message: text.slice(0, MAX_MESSAGE) };
}

function causeChain(error: unknown): CauseInfo[] | undefined {
  const out: CauseInfo[] = [];
  const seen = new Set<unknown>([error]);
  let current = error !== null && typeof error === 'object' ? ownData(error, 'cause') : undefined;
  while (current !== undefined && out.length < MAX_CAUSES && !seen.has(current)) {
    seen.add(current);
    const d = describeThrown(current);
    const info: CauseInfo = { exception_type: d.type, message: d.message };
    if (d.stack) info.stack_trace = parseStack(d.stack, 20).map(toWireFrameLite);
    out.push(info);
    current = current !== null && typeof current === 'object' ? ownData(current, 'cause') : undefined;
  }
  return out.length ? out : undefined;
}

// Causes carry a light frame list; the worker completes the main stack only.
function toWireFrameLite(f: RawFrame) {
  const file = f.file.replace(/^file:\/\//, '');
  return {
    method_name: f.typeName ? `${f.typeName}.${f.functionName}` : f.functionName,
    file_name: file.split(/[\\/]/).pop() ?? file,
    file_path: file,
    line_number: f.line,
    column_number: f.column,
    is_native: f.isNative,
    source_available: false,
  };
}

/** Locals the worker attached to the thrown object during the exception pause, if any. */
interface AttachedLocals {
  frames: Array<Record<string, Variable> | undefined>;
}

function attachedLocals(error: unknown): AttachedLocals | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const v = ownData(error, GLOBAL_KEYS.locals);
  return v && typeof v === 'object' && Array.isArray((v as AttachedLocals).frames) ? (v as AttachedLocals) : undefined;
}

/** Turns a thrown value into an event. Never throws; cheap (no inspector, no I/O). */
export function buildCapturedError(error: unknown, context: EventContext, mechanism: string, inspectorReady: boolean): CapturedError {
  const d = describeThrown(error);
  const frames = d.stack ? parseStack(d.stack) : [];
  const attached = attachedLocals(error);
  let localsStatus: CapturedError['localsStatus'];
  if (attached) {
    localsStatus = 'captured';
    attached.frames.forEach((locals, i) => {
      if (locals && frames[i]) frames[i].locals = locals;
    });
  } else if (error === null || (typeof error !== 'object' && typeof error !== 'function')) localsStatus = 'primitive';
  else localsStatus = inspectorReady ? 'budget' : 'not_ready';
  const event: CapturedError = {
    id: createEventId(),
    exceptionType: d.type,
    message: d.message,
    frames,
    localsStatus,
    context,
    mechanism,
    capturedAt: new Date().toISOString(),
  };
  const causes = causeChain(error);
  if (causes) event.causes = causes;
  return event;
}
