import { types } from 'node:util';
import { createEventId } from '../../shared/ids';
import type { CapturedError, RawFrame } from '../../shared/messages';
import type { CauseInfo, EventContext } from '../../shared/protocol';
import { readAttachedLocals } from '../serialize/serializer';
import { domExceptionData } from './dom-exception';
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

/**
 * V8's own `stack` accessor (Node 21+ installs `stack` as an accessor on each error; Node 20 as a
 * data property). Only this getter is ever called: a user-defined `stack` getter is user code.
 */
const NATIVE_STACK_GETTER = ((): unknown => {
  try {
    return Object.getOwnPropertyDescriptor(new Error(), 'stack')?.get;
  } catch {
    return undefined;
  }
})();

/** `error.stack` as the app would see it (formatting it may run the app's Error.prepareStackTrace, as any reporter does). */
function readStack(obj: object): unknown {
  try {
    if (types.isProxy(obj)) return undefined;
    const d = Object.getOwnPropertyDescriptor(obj, 'stack');
    if (!d) return undefined;
    if ('value' in d) return d.value;
    return d.get !== undefined && d.get === NATIVE_STACK_GETTER ? Reflect.apply(d.get, obj, []) : undefined;
  } catch {
    return undefined;
  }
}

/** What an event is built from: read once, without running app code beyond V8's stack formatting. */
export interface ThrownDescription {
  type: string;
  message: string;
  stack?: string;
}

export function describeThrown(value: unknown): ThrownDescription {
  return withStack(value, describeHead(value));
}

/** A thrown object's `code` (`ECONNRESET`), read without running getters; undefined for other values. */
export function describeCode(value: unknown): unknown {
  return value !== null && (typeof value === 'object' || typeof value === 'function') ? chainData(value, 'code') : undefined;
}

/** The messages of an AggregateError's first errors, joined ('' when it has none). */
function aggregatedMessage(value: object): string {
  const errors = aggregatedErrors(value);
  if (errors === undefined) return '';
  const parts: string[] = [];
  for (let i = 0; i < errors.length && i < MAX_CAUSES; i++) {
    const inner: unknown = errors[i];
    if (inner === value) continue;
    const m = inner !== null && typeof inner === 'object' ? chainData(inner, 'message') : inner;
    if (typeof m === 'string' && m !== '') parts.push(m);
  }
  if (errors.length > MAX_CAUSES) parts.push(`and ${errors.length - MAX_CAUSES} more`);
  return parts.join('; ');
}

/** Type and message of a thrown value, without its stack (formatting a stack costs more than the rest). */
export function describeHead(value: unknown): ThrownDescription {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    let name = chainData(value, 'name');
    let message = chainData(value, 'message');
    if (name === undefined && message === undefined) {
      name = domExceptionData(value, 'name');
      message = domExceptionData(value, 'message');
    }
    const ctor = types.isNativeError(value) || typeof name === 'string' ? undefined : chainData(value, 'constructor');
    const ctorName = typeof ctor === 'function' ? ownData(ctor, 'name') : undefined;
    let text = typeof message === 'string' ? message : '';
    // An AggregateError without a message of its own (Node's for a connection refused on every
    // address it tried) says what its errors say.
    if (text === '') text = aggregatedMessage(value);
    return {
      type: typeof name === 'string' && name ? name : typeof ctorName === 'string' && ctorName ? ctorName : 'Object',
      message: text.slice(0, MAX_MESSAGE),
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

/** `head` completed with the value's stack, as describeThrown would have read it. */
export function withStack(value: unknown, head: ThrownDescription): ThrownDescription {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const stack = readStack(value);
    if (typeof stack === 'string') head.stack = stack;
  }
  return head;
}

/**
 * Type and message with ids and numbers blanked (`order 42` and `order 43` look alike): a cheap
 * first guess at "the same error again", confirmed by the stack-based repeat key.
 */
export function headShape(d: ThrownDescription): string {
  const m = d.message.length > 200 ? d.message.slice(0, 200) : d.message;
  return d.type + '\0' + m.replace(/[0-9a-f]*[0-9][0-9a-f]*/gi, '#');
}

const AGGREGATE_PROTO: object | undefined = typeof AggregateError === 'function' ? (AggregateError.prototype as object) : undefined;

/** Whether AggregateError.prototype is on the value's prototype chain (walked without Proxy traps). */
function isAggregate(value: object): boolean {
  let o: object | null = value;
  for (let i = 0; o !== null && i < 16; i++) {
    if (types.isProxy(o)) return false;
    o = Object.getPrototypeOf(o) as object | null;
    if (o === AGGREGATE_PROTO) return true;
  }
  return false;
}

/** An AggregateError's `errors` (Promise.any, a connection tried on IPv6 and IPv4): own data only. */
function aggregatedErrors(error: object): unknown[] | undefined {
  if (AGGREGATE_PROTO === undefined || !isAggregate(error)) return undefined;
  const errors = ownData(error, 'errors');
  return Array.isArray(errors) && !types.isProxy(errors) && errors.length > 0 ? errors : undefined;
}

function causeInfo(value: unknown, aggregated: boolean): CauseInfo {
  const d = describeThrown(value);
  const info: CauseInfo = { exception_type: d.type, message: d.message };
  if (d.stack) info.stack_trace = parseStack(d.stack, 20).map(toWireFrameLite);
  if (aggregated) info.aggregated = true;
  return info;
}

/** The errors an AggregateError holds (the first few), then the chain of `cause`s. */
function causeChain(error: unknown): CauseInfo[] | undefined {
  const out: CauseInfo[] = [];
  const seen = new Set<unknown>([error]);
  if (error !== null && typeof error === 'object') {
    for (const inner of aggregatedErrors(error) ?? []) {
      if (out.length >= MAX_CAUSES) break;
      if (seen.has(inner)) continue;
      seen.add(inner);
      out.push(causeInfo(inner, true));
    }
  }
  let current = error !== null && typeof error === 'object' ? ownData(error, 'cause') : undefined;
  while (current !== undefined && out.length < MAX_CAUSES && !seen.has(current)) {
    seen.add(current);
    out.push(causeInfo(current, false));
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

/**
 * The app-thread rate-limit key of a thrown value: its type and the frame lines of its stack (not the
 * message). The worker's fingerprint is a function of the type and those frames, so one key never
 * spans two fingerprints and the counts carried over stay right.
 */
export function repeatKey(d: ThrownDescription): string {
  if (!d.stack) return d.type;
  const at = d.stack.indexOf('\n    at ');
  return at < 0 ? d.type : d.type + d.stack.slice(at);
}

/**
 * Turns a thrown value into an event. Never throws; cheap (no inspector, no I/O). Locals captured
 * during the exception pause travel as `snapshot`: the worker aligns them to the frames by position
 * (after source maps), because the pause's frames and `error.stack` differ (where the error was
 * created vs thrown, Error.stackTraceLimit, async frames).
 * `budgetSpent`: exception pauses are off for now ('budget'); otherwise a missing capture is
 * 'unavailable' (never thrown, thrown inside a dependency or Node, its site over its cap, or the
 * app's own debugger owns pauses).
 */
export function buildCapturedError(error: unknown, context: EventContext, mechanism: string, inspectorReady: boolean, budgetSpent = false, d: ThrownDescription = describeThrown(error)): CapturedError {
  const frames = d.stack ? parseStack(d.stack) : [];
  const snapshot = readAttachedLocals(error);
  let localsStatus: CapturedError['localsStatus'];
  if (snapshot) localsStatus = 'captured';
  else if (error === null || (typeof error !== 'object' && typeof error !== 'function')) localsStatus = 'primitive';
  else if (!inspectorReady) localsStatus = 'not_ready';
  else localsStatus = budgetSpent ? 'budget' : 'unavailable';
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
  if (snapshot) event.snapshot = snapshot;
  const causes = causeChain(error);
  if (causes) event.causes = causes;
  return event;
}
