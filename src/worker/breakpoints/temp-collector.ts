/**
 * TEMPORARY locals collector for breakpoint hits (issue 7), to be replaced by the shared in-process
 * serializer of the exceptions work (globalThis[Symbol.for('aivory-monitor.serializer')]) once it is
 * on main. It already has the final shape: one call during the pause, scope objects as arguments,
 * plain protocol `Variable`s back, bounded by depth/size/node count and a deadline.
 *
 * Shipped as source to the app's thread (inside the gate), so it must be self-contained. It runs no
 * user code: Proxies are detected first (util.types), values are read only through own data
 * property descriptors, objects are never converted to strings.
 */

/** What the worker asks for: limits, and how many scope objects (in the arguments) belong to each frame. */
export interface CollectPlan {
  maxDepth: number;
  maxStringLength: number;
  maxCollectionSize: number;
  maxNodes: number;
  deadlineMs: number;
  /** Scope objects per frame, in argument order; frames innermost first. */
  frameScopes: number[];
  /** Names whose values are replaced by "[REDACTED]" (lower-case substrings). */
  redact: string[];
}

interface Var {
  name: string;
  type: string;
  value: string;
  is_null: boolean;
  is_truncated: boolean;
  children?: Record<string, Var>;
  array_elements?: Var[];
  array_length?: number;
}

function collectLocals(plan: CollectPlan, scopes: unknown[]): { frames: Array<Record<string, Var>>; truncated: boolean } {
  const proc = (globalThis as unknown as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const util = typeof proc?.getBuiltinModule === 'function' ? (proc.getBuiltinModule('node:util') as { types?: Record<string, (v: unknown) => boolean> }) : undefined;
  const t = util?.types;
  const isProxy = t?.isProxy;
  const perf = performance;
  const deadline = perf.now() + plan.deadlineMs;
  const gopd = Object.getOwnPropertyDescriptor;
  const getProto = Object.getPrototypeOf;
  const isArray = Array.isArray;
  let nodes = 0;
  let truncated = false;
  const skipModuleNames = new Set(['exports', 'require', 'module', '__filename', '__dirname']);
  // Heavy well-known objects are summarised by the keys people look at: express's req/res at
  // depth 2 are ~40 KB, which alone would triple the pause.
  const summaryKeys: Record<string, string[]> = {
    IncomingMessage: ['method', 'url', 'originalUrl', 'baseUrl', 'params', 'query', 'body', 'headers'],
    ServerResponse: ['statusCode', 'statusMessage', 'locals'],
    Socket: ['remoteAddress', 'remotePort'],
    TLSSocket: ['remoteAddress', 'remotePort'],
    Server: [],
    Agent: [],
  };

  const secret = (name: string): boolean => {
    const n = name.toLowerCase();
    for (const r of plan.redact) if (n.includes(r)) return true;
    return false;
  };
  const cut = (s: string): [string, boolean] => (s.length > plan.maxStringLength ? [s.slice(0, plan.maxStringLength), true] : [s, false]);
  const dataValue = (o: object, k: PropertyKey): { ok: boolean; value?: unknown } => {
    try {
      const d = gopd(o, k);
      if (!d) return { ok: false };
      if ('value' in d) return { ok: true, value: d.value };
      return { ok: false };
    } catch {
      return { ok: false };
    }
  };
  const typeName = (o: object): string => {
    if (isArray(o)) return 'Array';
    if (t) {
      if (t.isMap?.(o)) return 'Map';
      if (t.isSet?.(o)) return 'Set';
      if (t.isDate?.(o)) return 'Date';
      if (t.isRegExp?.(o)) return 'RegExp';
      if (t.isPromise?.(o)) return 'Promise';
      if (t.isNativeError?.(o)) return 'Error';
    }
    try {
      const proto = getProto(o) as object | null;
      if (proto === null) return 'Object';
      const c = dataValue(proto, 'constructor');
      if (c.ok && typeof c.value === 'function') {
        const n = dataValue(c.value as object, 'name');
        if (n.ok && typeof n.value === 'string' && n.value !== '') return n.value;
      }
    } catch {
      // exotic object
    }
    return 'Object';
  };

  const describe = (name: string, v: unknown, depth: number): Var => {
    nodes++;
    if ((nodes & 31) === 0 && perf.now() > deadline) truncated = true;
    if (secret(name)) return { name, type: v === null ? 'null' : typeof v, value: '[REDACTED]', is_null: false, is_truncated: false };
    switch (typeof v) {
      case 'undefined':
        return { name, type: 'undefined', value: 'undefined', is_null: true, is_truncated: false };
      case 'string': {
        const [value, cutOff] = cut(v);
        return { name, type: 'string', value, is_null: false, is_truncated: cutOff };
      }
      case 'number':
      case 'boolean':
      case 'bigint':
        return { name, type: typeof v, value: String(v), is_null: false, is_truncated: false };
      case 'symbol':
        return { name, type: 'symbol', value: 'Symbol()', is_null: false, is_truncated: false };
      case 'function': {
        const n = dataValue(v as object, 'name');
        return { name, type: 'function', value: `[Function ${n.ok && typeof n.value === 'string' ? n.value : ''}]`, is_null: false, is_truncated: false };
      }
    }
    if (v === null) return { name, type: 'null', value: 'null', is_null: true, is_truncated: false };
    const o = v as object;
    if (!isProxy || isProxy(o)) return { name, type: 'Proxy', value: 'Proxy', is_null: false, is_truncated: false };
    const type = typeName(o);
    if (isArray(o)) {
      const len = (o as unknown[]).length;
      const out: Var = { name, type, value: `Array(${len})`, is_null: false, is_truncated: false, array_length: len };
      if (depth >= plan.maxDepth || truncated || nodes >= plan.maxNodes) {
        out.is_truncated = len > 0;
        return out;
      }
      const n = Math.min(len, plan.maxCollectionSize);
      out.array_elements = [];
      for (let i = 0; i < n && !truncated && nodes < plan.maxNodes; i++) {
        const d = dataValue(o, i);
        out.array_elements.push(d.ok ? describe(String(i), d.value, depth + 1) : { name: String(i), type: 'accessor', value: '[Getter]', is_null: false, is_truncated: false });
      }
      out.is_truncated = out.array_elements.length < len;
      return out;
    }
    if (type === 'Date' && t) {
      let value = 'Invalid Date';
      try {
        value = Date.prototype.toISOString.call(o);
      } catch {
        // invalid date
      }
      return { name, type, value, is_null: false, is_truncated: false };
    }
    const out: Var = { name, type, value: type, is_null: false, is_truncated: false };
    if (type === 'Map' || type === 'Set' || type === 'Promise' || type === 'RegExp') return out;
    let keys: string[];
    try {
      keys = summaryKeys[type] ?? Object.keys(o);
    } catch {
      return out;
    }
    if (depth >= plan.maxDepth || truncated || nodes >= plan.maxNodes) {
      out.is_truncated = keys.length > 0;
      return out;
    }
    out.children = Object.create(null) as Record<string, Var>;
    let n = 0;
    for (const k of keys) {
      if (n >= plan.maxCollectionSize || truncated || nodes >= plan.maxNodes) {
        out.is_truncated = true;
        break;
      }
      const d = dataValue(o, k);
      out.children[k] = d.ok ? describe(k, d.value, depth + 1) : { name: k, type: 'accessor', value: '[Getter]', is_null: false, is_truncated: false };
      n++;
    }
    return out;
  };

  const frames: Array<Record<string, Var>> = [];
  let arg = 0;
  for (const count of plan.frameScopes) {
    const locals = Object.create(null) as Record<string, Var>;
    for (let s = 0; s < count; s++) {
      const scope = scopes[arg++] as object | undefined;
      if (scope === undefined || scope === null || truncated) continue;
      let names: string[];
      try {
        names = Object.keys(scope);
      } catch {
        continue;
      }
      for (const name of names) {
        // Inner scopes come first: a block's `x` shadows the function's `x`.
        if (locals[name] !== undefined || (s > 0 && skipModuleNames.has(name))) continue;
        if (nodes >= plan.maxNodes || truncated) {
          truncated = true;
          break;
        }
        let value: unknown;
        try {
          // Node 24 throws ReferenceError for a let/const still in its temporal dead zone.
          value = (scope as Record<string, unknown>)[name];
        } catch {
          locals[name] = { name, type: 'uninitialized', value: '<uninitialized>', is_null: false, is_truncated: false };
          continue;
        }
        locals[name] = describe(name, value, 0);
      }
    }
    frames.push(locals);
  }
  return { frames, truncated };
}

/** Source of the collector, for the gate installation. */
export const COLLECTOR_SOURCE = collectLocals.toString();
