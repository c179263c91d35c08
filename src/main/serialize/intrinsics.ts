/**
 * Built-ins the serializer needs, captured once when the agent loads. The serializer calls only
 * these (never methods looked up on user objects), so an app that patches prototypes later, or a
 * value with its own `toString`/getters, cannot make it run user code.
 */
import { types } from 'node:util';

const apply = Reflect.apply;
const getOwnDescriptor = Object.getOwnPropertyDescriptor;
const getProto = Object.getPrototypeOf;
const OBJECT_PROTO: object = Object.prototype;

function getter(proto: object, key: string | symbol): ((this: unknown) => unknown) | undefined {
  const d = getOwnDescriptor(proto, key);
  return d && typeof d.get === 'function' ? d.get : undefined;
}

function callGetter(fn: ((this: unknown) => unknown) | undefined, self: unknown): unknown {
  return fn ? apply(fn, self, []) : undefined;
}

const typedArrayProto = getProto(Uint8Array.prototype) as object;
const typedArrayLength = getter(typedArrayProto, 'length');
const typedArrayTag = getter(typedArrayProto, Symbol.toStringTag);
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength');
const sharedArrayBufferByteLength = typeof SharedArrayBuffer === 'function' ? getter(SharedArrayBuffer.prototype, 'byteLength') : undefined;
const dataViewByteLength = getter(DataView.prototype, 'byteLength');
const mapSize = getter(Map.prototype, 'size');
const setSize = getter(Set.prototype, 'size');
const mapEntries = Map.prototype.entries;
const setValues = Set.prototype.values;
const mapIteratorNext = (getProto(new Map().entries()) as { next: () => IteratorResult<unknown> }).next;
const setIteratorNext = (getProto(new Set().values()) as { next: () => IteratorResult<unknown> }).next;
const dateGetTime = Date.prototype.getTime;
const dateToISOString = Date.prototype.toISOString;
const regExpSource = getter(RegExp.prototype, 'source');
const regExpFlagGetters: Array<[string, ((this: unknown) => unknown) | undefined]> = [
  ['d', getter(RegExp.prototype, 'hasIndices')],
  ['g', getter(RegExp.prototype, 'global')],
  ['i', getter(RegExp.prototype, 'ignoreCase')],
  ['m', getter(RegExp.prototype, 'multiline')],
  ['s', getter(RegExp.prototype, 'dotAll')],
  ['u', getter(RegExp.prototype, 'unicode')],
  ['v', getter(RegExp.prototype, 'unicodeSets')],
  ['y', getter(RegExp.prototype, 'sticky')],
];
const symbolDescription = getter(Symbol.prototype, 'description');
const numberValueOf = Number.prototype.valueOf;
const stringValueOf = String.prototype.valueOf;
const booleanValueOf = Boolean.prototype.valueOf;
const bigintValueOf = BigInt.prototype.valueOf;
const symbolValueOf = Symbol.prototype.valueOf;
const bufferPrototype = Buffer.prototype;

/** Own data value of `key`, or undefined for accessors, missing keys and throwing exotic objects. */
export function ownValue(obj: object, key: string | symbol | number): unknown {
  try {
    const d = getOwnDescriptor(obj, key);
    return d && 'value' in d ? d.value : undefined;
  } catch {
    return undefined;
  }
}

/** `length` of a real typed array, read through the original TypedArray getter. */
export function typedArrayLengthOf(ta: object): number {
  const n = callGetter(typedArrayLength, ta);
  return typeof n === 'number' ? n : 0;
}

/** e.g. 'Uint8Array', from the original getter (a subclass keeps its base tag). */
export function typedArrayKind(ta: object): string {
  const tag = callGetter(typedArrayTag, ta);
  return typeof tag === 'string' ? tag : 'TypedArray';
}

export function byteLengthOf(obj: object): number {
  let n: unknown;
  if (types.isArrayBuffer(obj)) n = callGetter(arrayBufferByteLength, obj);
  else if (types.isSharedArrayBuffer(obj)) n = callGetter(sharedArrayBufferByteLength, obj);
  else if (types.isDataView(obj)) n = callGetter(dataViewByteLength, obj);
  return typeof n === 'number' ? n : 0;
}

export function collectionSize(obj: object): number {
  const n = types.isMap(obj) ? callGetter(mapSize, obj) : callGetter(setSize, obj);
  return typeof n === 'number' ? n : 0;
}

/** Up to `limit` [key, value] pairs of a real Map, through the original iterator. */
export function mapEntriesOf(map: object, limit: number): Array<[unknown, unknown]> {
  const out: Array<[unknown, unknown]> = [];
  const it = apply(mapEntries, map, []) as object;
  for (let i = 0; i < limit; i++) {
    const step = apply(mapIteratorNext, it, []) as IteratorResult<[unknown, unknown]>;
    if (step.done) break;
    out.push([step.value[0], step.value[1]]);
  }
  return out;
}

/** Up to `limit` values of a real Set, through the original iterator. */
export function setValuesOf(set: object, limit: number): unknown[] {
  const out: unknown[] = [];
  const it = apply(setValues, set, []) as object;
  for (let i = 0; i < limit; i++) {
    const step = apply(setIteratorNext, it, []) as IteratorResult<unknown>;
    if (step.done) break;
    out.push(step.value);
  }
  return out;
}

export function dateText(date: object): string {
  const t = apply(dateGetTime, date, []) as number;
  return Number.isFinite(t) ? (apply(dateToISOString, new Date(t), []) as string) : 'Invalid Date';
}

export function regExpText(re: object): string {
  const source = callGetter(regExpSource, re);
  let flags = '';
  for (const [letter, get] of regExpFlagGetters) if (get && apply(get, re, []) === true) flags += letter;
  return `/${typeof source === 'string' ? source : ''}/${flags}`;
}

export function symbolText(sym: symbol): string {
  const d = callGetter(symbolDescription, sym);
  return typeof d === 'string' ? `Symbol(${d})` : 'Symbol()';
}

/** The primitive inside a boxed primitive (new String('x'), Object(1n)...). */
export function unboxed(obj: object): unknown {
  if (types.isNumberObject(obj)) return apply(numberValueOf, obj, []);
  if (types.isStringObject(obj)) return apply(stringValueOf, obj, []);
  if (types.isBooleanObject(obj)) return apply(booleanValueOf, obj, []);
  if (types.isBigIntObject(obj)) return apply(bigintValueOf, obj, []);
  if (types.isSymbolObject(obj)) return apply(symbolValueOf, obj, []);
  return undefined;
}

/**
 * Whether `proto` is on the prototype chain of `obj`, walking at most 16 links and stopping at a
 * Proxy (whose getPrototypeOf trap would be user code). Never `instanceof`: it would hit such traps.
 */
export function inheritsFrom(obj: object, proto: object): boolean {
  let o: object | null = getProto(obj) as object | null;
  for (let i = 0; o !== null && i < 16; i++) {
    if (o === proto) return true;
    if (types.isProxy(o)) return false;
    o = getProto(o) as object | null;
  }
  return false;
}

/** A Node Buffer (a Uint8Array whose chain includes Buffer.prototype). */
export function isBuffer(obj: object): boolean {
  return types.isUint8Array(obj) && inheritsFrom(obj, bufferPrototype);
}

export { getOwnDescriptor, getProto, OBJECT_PROTO };
