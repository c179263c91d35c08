import { types } from 'node:util';

/**
 * Copies user-given context into plain JSON-safe data without running user code: no getters,
 * no toJSON, no Proxy traps. Bounded in depth, keys and string length; cycles become "[Circular]".
 */
export function toPlainData(value: unknown, maxDepth = 6, maxKeys = 100, maxString = 2000): unknown {
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    switch (typeof v) {
      case 'string':
        return v.length > maxString ? v.slice(0, maxString) + '...' : v;
      case 'number':
        return Number.isFinite(v) ? v : String(v);
      case 'boolean':
        return v;
      case 'bigint':
        return v.toString();
      case 'symbol':
        return v.description === undefined ? 'Symbol()' : `Symbol(${v.description})`;
      case 'undefined':
        return undefined;
      case 'function':
        return `[Function ${safeName(v)}]`;
    }
    if (v === null) return null;
    const obj = v as object;
    if (types.isProxy(obj)) return '[Proxy]';
    if (types.isDate(obj)) {
      const t = Date.prototype.getTime.call(obj);
      return Number.isFinite(t) ? new Date(t).toISOString() : 'Invalid Date';
    }
    if (seen.has(obj)) return '[Circular]';
    if (depth >= maxDepth) return '[Object]';
    seen.add(obj);
    try {
      if (Array.isArray(obj)) {
        const out: unknown[] = [];
        const n = Math.min(readLength(obj), maxKeys);
        for (let i = 0; i < n; i++) out.push(walk(ownValue(obj, String(i)), depth + 1));
        return out;
      }
      const out: Record<string, unknown> = {};
      let count = 0;
      let keys: string[];
      try {
        keys = Object.keys(obj);
      } catch {
        return '[Unreadable]';
      }
      for (const key of keys) {
        if (count++ >= maxKeys) break;
        const item = walk(ownValue(obj, key), depth + 1);
        if (item !== undefined) out[key] = item;
      }
      return out;
    } finally {
      seen.delete(obj);
    }
  };
  try {
    return walk(value, 0);
  } catch {
    return undefined;
  }
}

function ownValue(obj: object, key: string): unknown {
  try {
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (!d) return undefined;
    return 'value' in d ? d.value : '[Getter]';
  } catch {
    return '[Unreadable]';
  }
}

function readLength(arr: unknown[]): number {
  const d = Object.getOwnPropertyDescriptor(arr, 'length');
  return d && typeof d.value === 'number' ? d.value : 0;
}

function safeName(fn: unknown): string {
  try {
    const d = Object.getOwnPropertyDescriptor(fn as object, 'name');
    return d && typeof d.value === 'string' && d.value ? d.value : '(anonymous)';
  } catch {
    return '(anonymous)';
  }
}
