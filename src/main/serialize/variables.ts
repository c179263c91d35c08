/**
 * Any JavaScript value -> protocol `Variable`, without running user code: Proxies are never
 * touched (util.types.isProxy first), only own property descriptors' `.value` is read (getters are
 * reported, not called), kinds come from util.types brand checks (not instanceof), and values are
 * rendered by built-ins captured at load (never by the value's own toString/toJSON/inspect).
 * Bounded by depth, string length, collection size and a node/character budget per capture.
 */
import { types } from 'node:util';
import type { CaptureLimits } from '../../shared/messages';
import type { Variable } from '../../shared/protocol';
import {
  byteLengthOf,
  collectionSize,
  dateText,
  getOwnDescriptor,
  getProto,
  isBuffer,
  mapEntriesOf,
  OBJECT_PROTO,
  ownValue,
  regExpText,
  setValuesOf,
  symbolText,
  typedArrayKind,
  typedArrayLengthOf,
  unboxed,
} from './intrinsics';
import { domExceptionData } from '../capture/dom-exception';
import { REDACTED, type Redactor } from './redact';
import { redactTarget, requestRedactorOf, type RequestRedactor } from '../context/redact';

const TYPED_PREVIEW = 16;
// Byte -> two hex digits without Number.prototype.toString (which an app may have patched).
const HEX = Array.from({ length: 256 }, (_, i) => '0123456789abcdef'[i >> 4] + '0123456789abcdef'[i & 15]);
const BYTES_PREVIEW = 32;

/**
 * Core classes whose instances are huge and mostly internal state: only these fields are shown.
 * IncomingMessage's `headers` is a lazy getter, so headers are rebuilt from the own `rawHeaders`.
 */
const SUMMARISED: ReadonlyMap<string, readonly string[]> = new Map([
  ['IncomingMessage', ['method', 'url', 'originalUrl', 'baseUrl', 'httpVersion', 'statusCode', 'statusMessage', 'params', 'query', 'body']],
  ['ServerResponse', ['statusCode', 'statusMessage']],
  ['ClientRequest', ['method', 'path', 'host', 'protocol']],
  ['Socket', []],
  ['TLSSocket', []],
]);

/** An absolute URL or a path, then a query; no whitespace. */
const URL_WITH_QUERY = /^(?:[a-z][a-z0-9+.-]*:\/\/[^\s/?#]*|\/)[^\s?#]*\?[^\s]*$/i;

function leaf(name: string, type: string, value: string, isNull = false, truncated = false): Variable {
  return { name, type, value, is_null: isNull, is_truncated: truncated };
}

/** The class name of an object from the first own `constructor` data property on its chain. */
export function classNameOf(obj: object): string {
  let o = getProto(obj) as object | null;
  for (let i = 0; o !== null && i < 8; i++) {
    if (types.isProxy(o)) return 'Object';
    const d = getOwnDescriptor(o, 'constructor');
    if (d) {
      if ('value' in d && typeof d.value === 'function' && !types.isProxy(d.value)) {
        const n = ownValue(d.value as object, 'name');
        if (typeof n === 'string' && n !== '') return n;
      }
      return 'Object';
    }
    o = getProto(o) as object | null;
  }
  return 'Object';
}

/** A data property found on the object or its prototypes (e.g. `name` on Error.prototype); no getters. */
function chainValue(obj: object, key: string): unknown {
  let o: object | null = obj;
  for (let i = 0; o !== null && i < 8; i++) {
    if (types.isProxy(o)) return undefined;
    const d = getOwnDescriptor(o, key);
    if (d) return 'value' in d ? d.value : undefined;
    o = getProto(o) as object | null;
  }
  return undefined;
}

function functionText(fn: object): string {
  const n = ownValue(fn, 'name');
  const name = typeof n === 'string' && n !== '' ? n : '(anonymous)';
  const kind = types.isAsyncFunction(fn) ? (types.isGeneratorFunction(fn) ? 'AsyncGeneratorFunction' : 'AsyncFunction') : types.isGeneratorFunction(fn) ? 'GeneratorFunction' : 'Function';
  return `[${kind}: ${name}]`;
}

function numberText(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

/** Walks values into Variables for one capture; its budget is shared by every frame of the capture. */
export class VariableWalker {
  #nodes = 0;
  #chars = 0;
  /** Where the node budget ends for the value being walked (see `withShare`). */
  #stopAt: number;
  readonly #ancestors: object[] = [];
  readonly #limits: CaptureLimits;
  readonly #maxChars: number;
  readonly #redactor: Redactor;
  /** Built on the first string that looks like a URL with a query. */
  #urls: RequestRedactor | undefined;

  constructor(limits: CaptureLimits, maxChars: number, redactor: Redactor) {
    this.#limits = limits;
    this.#maxChars = maxChars;
    this.#redactor = redactor;
    this.#stopAt = limits.maxNodes;
  }

  /**
   * The node or character budget is spent: callers stop adding variables. Checked before each
   * child, so a capture may end up to one node per nesting level over `maxNodes`.
   */
  get exhausted(): boolean {
    return this.#nodes >= this.#stopAt || this.#chars >= this.#maxChars;
  }

  get nodes(): number {
    return this.#nodes;
  }

  /** Nodes left in the whole capture's budget. */
  get nodesLeft(): number {
    return Math.max(0, this.#limits.maxNodes - this.#nodes);
  }

  /**
   * Runs `walk` with at most `share` more nodes (at least one): one huge value (a framework's
   * request object walks to thousands of nodes) then cannot leave the variables after it unseen.
   */
  withShare<T>(share: number, walk: () => T): T {
    const previous = this.#stopAt;
    this.#stopAt = Math.min(previous, this.#nodes + Math.max(1, Math.floor(share)));
    try {
      return walk();
    } finally {
      this.#stopAt = previous;
    }
  }

  /** A property as found by getOwnPropertyDescriptor: getters are named, never called. */
  fromDescriptor(name: string, d: PropertyDescriptor | undefined, depth: number): Variable {
    if (d === undefined) {
      this.#nodes++;
      return leaf(name, 'undefined', 'undefined', true);
    }
    if ('value' in d) return this.variable(name, d.value, depth);
    this.#nodes++;
    if (this.#redactor.isSecretName(name)) return leaf(name, 'getter', REDACTED);
    return leaf(name, 'getter', d.get && d.set ? '[Getter/Setter]' : d.get ? '[Getter]' : '[Setter]');
  }

  /** A variable that could not be read (Node 24+ throws for let/const in their temporal dead zone). */
  unreadable(name: string, why: string): Variable {
    this.#nodes++;
    return leaf(name, why, `<${why}>`);
  }

  variable(name: string, value: unknown, depth: number): Variable {
    this.#nodes++;
    if (this.#redactor.isSecretName(name)) return leaf(name, this.#cheapType(value), REDACTED);
    switch (typeof value) {
      case 'string':
        return this.#string(name, 'string', value);
      case 'number':
        return leaf(name, 'number', numberText(value));
      case 'boolean':
        return leaf(name, 'boolean', value ? 'true' : 'false');
      case 'bigint':
        return leaf(name, 'bigint', `${value}n`);
      case 'undefined':
        return leaf(name, 'undefined', 'undefined', true);
      case 'symbol':
        return leaf(name, 'symbol', symbolText(value));
      case 'function':
        if (types.isProxy(value)) return leaf(name, 'Proxy', 'Proxy');
        return leaf(name, 'function', functionText(value));
    }
    if (value === null) return leaf(name, 'null', 'null', true);
    return this.#object(name, value as object, depth);
  }

  #cheapType(value: unknown): string {
    if (value === null) return 'null';
    if (typeof value !== 'object') return typeof value;
    if (types.isProxy(value)) return 'Proxy';
    return classNameOf(value);
  }

  #string(name: string, type: string, raw: string): Variable {
    // A URL or request target (`req.url`) with a query: its secret parameters are redacted as in the event's request.
    const s = raw.indexOf('?') > 0 && URL_WITH_QUERY.test(raw) ? redactTarget(raw, (this.#urls ??= requestRedactorOf(this.#redactor))) : raw;
    const room = Math.max(0, Math.min(this.#limits.maxStringLength, this.#maxChars - this.#chars));
    const cut = s.length > room;
    const text = cut ? s.slice(0, room) : s;
    // Look a key's length past the cut too: half a key must not leave either.
    if (this.#redactor.isSecretValue(cut ? s.slice(0, room + 256) : s)) return leaf(name, type, REDACTED);
    this.#chars += text.length;
    return leaf(name, type, text, false, cut);
  }

  #canDescend(depth: number): boolean {
    return depth < this.#limits.maxDepth && !this.exhausted;
  }

  #object(name: string, obj: object, depth: number): Variable {
    if (types.isProxy(obj)) return leaf(name, 'Proxy', 'Proxy');
    if (this.#ancestors.includes(obj)) return leaf(name, classNameOf(obj), '[Circular]');
    // Plain objects, the commonest kind, skip the brand checks below: whatever an object's internal
    // brand, with Object.prototype as its prototype it is shown by its own data properties.
    if (getProto(obj) === OBJECT_PROTO) return this.#plain(name, obj, depth, 'Object', 'Object');
    if (types.isNativeError(obj)) return this.#error(name, obj, depth);
    if (Array.isArray(obj)) return this.#array(name, obj, depth);
    if (types.isTypedArray(obj)) return this.#typedArray(name, obj);
    if (types.isArrayBuffer(obj) || types.isSharedArrayBuffer(obj) || types.isDataView(obj)) {
      const kind = types.isArrayBuffer(obj) ? 'ArrayBuffer' : types.isDataView(obj) ? 'DataView' : 'SharedArrayBuffer';
      return leaf(name, kind, `${kind}(${byteLengthOf(obj)} bytes)`);
    }
    if (types.isMap(obj)) return this.#map(name, obj, depth);
    if (types.isSet(obj)) return this.#set(name, obj, depth);
    if (types.isDate(obj)) return leaf(name, 'Date', dateText(obj));
    if (types.isRegExp(obj)) return leaf(name, 'RegExp', regExpText(obj));
    if (types.isPromise(obj)) return leaf(name, 'Promise', 'Promise');
    if (types.isWeakMap(obj) || types.isWeakSet(obj)) {
      const kind = types.isWeakMap(obj) ? 'WeakMap' : 'WeakSet';
      return leaf(name, kind, kind);
    }
    if (types.isBoxedPrimitive(obj)) {
      const inner = unboxed(obj);
      const v = this.variable(name, inner, depth);
      v.type = classNameOf(obj);
      return v;
    }
    if (types.isGeneratorObject(obj)) return leaf(name, 'Generator', 'Generator');
    if (types.isModuleNamespaceObject(obj)) return this.#plain(name, obj, depth, 'Module', 'Module');
    const cls = classNameOf(obj);
    // An error too (not a native one on Node 20), whose name and message are behind DOMException's own getters.
    if (cls === 'DOMException' && typeof domExceptionData(obj, 'name') === 'string') return this.#error(name, obj, depth);
    const fields = SUMMARISED.get(cls);
    if (fields) return this.#summary(name, obj, depth, cls, fields);
    return this.#plain(name, obj, depth, cls, cls);
  }

  #withAncestor<T>(obj: object, fn: () => T): T {
    this.#ancestors.push(obj);
    try {
      return fn();
    } finally {
      this.#ancestors.pop();
    }
  }

  #ownKeys(obj: object): string[] {
    try {
      return Object.keys(obj);
    } catch {
      return [];
    }
  }

  #property(obj: object, key: string, depth: number): Variable {
    let d: PropertyDescriptor | undefined;
    try {
      d = getOwnDescriptor(obj, key);
    } catch {
      return this.unreadable(key, 'unreadable');
    }
    return this.fromDescriptor(key, d, depth);
  }

  #plain(name: string, obj: object, depth: number, type: string, summary: string): Variable {
    const v = leaf(name, type, summary);
    if (!this.#canDescend(depth)) {
      v.is_truncated = true;
      return v;
    }
    const keys = this.#ownKeys(obj);
    const children: Record<string, Variable> = {};
    const n = Math.min(keys.length, this.#limits.maxCollectionSize);
    this.#withAncestor(obj, () => {
      for (let i = 0; i < n && !this.exhausted; i++) children[keys[i]] = this.#property(obj, keys[i], depth + 1);
    });
    v.children = children;
    if (keys.length > n || Object.keys(children).length < n) {
      v.is_truncated = true;
      v.value = `${summary} (${keys.length} keys)`;
    }
    return v;
  }

  #summary(name: string, obj: object, depth: number, cls: string, fields: readonly string[]): Variable {
    const v = leaf(name, cls, cls);
    if (!this.#canDescend(depth) || fields.length === 0) return v;
    const children: Record<string, Variable> = {};
    this.#withAncestor(obj, () => {
      for (const key of fields) {
        if (this.exhausted) break;
        let d: PropertyDescriptor | undefined;
        try {
          d = getOwnDescriptor(obj, key);
        } catch {
          continue;
        }
        if (d && 'value' in d && d.value !== undefined) children[key] = this.variable(key, d.value, depth + 1);
      }
      const raw = ownValue(obj, 'rawHeaders');
      if (Array.isArray(raw) && !types.isProxy(raw) && !this.exhausted) children.headers = this.#rawHeaders(raw);
    });
    v.children = children;
    return v;
  }

  #rawHeaders(raw: unknown[]): Variable {
    const v = leaf('headers', 'Object', 'Object');
    const children: Record<string, Variable> = {};
    const len = ownValue(raw, 'length');
    const n = Math.min(typeof len === 'number' ? len : 0, this.#limits.maxCollectionSize * 2);
    for (let i = 0; i + 1 < n && !this.exhausted; i += 2) {
      const key = ownValue(raw, i);
      const value = ownValue(raw, i + 1);
      if (typeof key !== 'string' || typeof value !== 'string') continue;
      const lower = key.toLowerCase();
      if (!(lower in children)) children[lower] = this.variable(lower, value, 1);
    }
    v.children = children;
    return v;
  }

  #error(name: string, err: object, depth: number): Variable {
    let n = chainValue(err, 'name');
    let m = ownValue(err, 'message');
    // A DOMException (a native error on Node 22 and later) keeps its name and message behind getters.
    if (n === undefined && m === undefined && classNameOf(err) === 'DOMException') {
      n = domExceptionData(err, 'name');
      m = domExceptionData(err, 'message');
    }
    const type = typeof n === 'string' && n !== '' ? n : classNameOf(err);
    const message = typeof m === 'string' ? m : '';
    const v = this.#string(name, type, message === '' ? type : `${type}: ${message}`);
    if (!this.#canDescend(depth)) return v;
    const children: Record<string, Variable> = {};
    this.#withAncestor(err, () => {
      if (typeof m === 'string') {
        this.#nodes++;
        children.message = this.#string('message', 'string', m);
      }
      let count = 0;
      // Never `stack`: reading it (even its descriptor, on Node 20) runs Error.prepareStackTrace.
      for (const key of this.#ownKeys(err)) {
        if (this.exhausted || count++ >= this.#limits.maxCollectionSize) break;
        if (key === 'stack' || key === 'message') continue;
        children[key] = this.#property(err, key, depth + 1);
      }
      const cause = getOwnDescriptor(err, 'cause');
      if (cause && !('cause' in children) && !this.exhausted) children.cause = this.fromDescriptor('cause', cause, depth + 1);
    });
    v.children = children;
    return v;
  }

  #array(name: string, arr: unknown[], depth: number): Variable {
    const lenValue = ownValue(arr, 'length');
    const len = typeof lenValue === 'number' ? lenValue : 0;
    const v = leaf(name, 'Array', `Array(${len})`);
    v.array_length = len;
    if (!this.#canDescend(depth)) {
      v.is_truncated = len > 0;
      return v;
    }
    const n = Math.min(len, this.#limits.maxCollectionSize);
    const elements: Variable[] = [];
    this.#withAncestor(arr, () => {
      for (let i = 0; i < n && !this.exhausted; i++) {
        let d: PropertyDescriptor | undefined;
        try {
          d = getOwnDescriptor(arr, i);
        } catch {
          elements.push(this.unreadable(String(i), 'unreadable'));
          continue;
        }
        if (d === undefined) {
          this.#nodes++;
          elements.push(leaf(String(i), 'undefined', '<empty>', true));
        } else elements.push(this.fromDescriptor(String(i), d, depth + 1));
      }
    });
    v.array_elements = elements;
    if (elements.length < len) v.is_truncated = true;
    return v;
  }

  #typedArray(name: string, ta: object): Variable {
    const len = typedArrayLengthOf(ta);
    const indexed = ta as unknown as ArrayLike<number | bigint>;
    if (isBuffer(ta) || types.isUint8Array(ta)) {
      const kind = isBuffer(ta) ? 'Buffer' : 'Uint8Array';
      const n = Math.min(len, BYTES_PREVIEW);
      let hex = '';
      for (let i = 0; i < n; i++) hex += (i ? ' ' : '') + HEX[(indexed[i] as number) & 255];
      const more = len > n ? ` ... ${len - n} more bytes` : '';
      const v = leaf(name, kind, `<${kind} ${hex}${more}>`, false, len > n);
      v.array_length = len;
      return v;
    }
    const kind = typedArrayKind(ta);
    const n = Math.min(len, TYPED_PREVIEW);
    const items: string[] = [];
    for (let i = 0; i < n; i++) {
      const x = indexed[i];
      items.push(typeof x === 'bigint' ? `${x}n` : numberText(x));
    }
    const v = leaf(name, kind, `${kind}(${len}) [${items.join(', ')}${len > n ? ', ...' : ''}]`, false, len > n);
    v.array_length = len;
    return v;
  }

  #map(name: string, map: object, depth: number): Variable {
    const size = collectionSize(map);
    const v = leaf(name, 'Map', `Map(${size})`);
    v.array_length = size;
    if (!this.#canDescend(depth)) {
      v.is_truncated = size > 0;
      return v;
    }
    const children: Record<string, Variable> = {};
    this.#withAncestor(map, () => {
      const entries = mapEntriesOf(map, Math.min(size, this.#limits.maxCollectionSize));
      for (let i = 0; i < entries.length && !this.exhausted; i++) {
        const [key, value] = entries[i];
        let label = this.#keyLabel(key);
        if (label in children) label = `${label} #${i}`;
        children[label] = this.variable(label, value, depth + 1);
      }
    });
    v.children = children;
    if (Object.keys(children).length < size) v.is_truncated = true;
    return v;
  }

  #keyLabel(key: unknown): string {
    switch (typeof key) {
      case 'string':
        return key.length > 200 ? key.slice(0, 200) + '...' : key;
      case 'number':
        return numberText(key);
      case 'bigint':
        return `${key}n`;
      case 'boolean':
        return key ? 'true' : 'false';
      case 'undefined':
        return 'undefined';
      case 'symbol':
        return symbolText(key);
      case 'function':
        return types.isProxy(key) ? '[Proxy]' : functionText(key);
    }
    if (key === null) return 'null';
    return types.isProxy(key) ? '[Proxy]' : `[${classNameOf(key as object)}]`;
  }

  #set(name: string, set: object, depth: number): Variable {
    const size = collectionSize(set);
    const v = leaf(name, 'Set', `Set(${size})`);
    v.array_length = size;
    if (!this.#canDescend(depth)) {
      v.is_truncated = size > 0;
      return v;
    }
    const elements: Variable[] = [];
    this.#withAncestor(set, () => {
      const values = setValuesOf(set, Math.min(size, this.#limits.maxCollectionSize));
      for (let i = 0; i < values.length && !this.exhausted; i++) elements.push(this.variable(String(i), values[i], depth + 1));
    });
    v.array_elements = elements;
    if (elements.length < size) v.is_truncated = true;
    return v;
  }
}
