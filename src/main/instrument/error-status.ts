import { types } from 'node:util';

export function isObject(v: unknown): v is object {
  return v !== null && (typeof v === 'object' || typeof v === 'function');
}

/**
 * A check that is true the first time it sees an error object (a thrown primitive always counts as
 * new): one per framework, for errors that may reach two of its error paths.
 */
export function firstSightings(): (error: unknown) => boolean {
  const seen = new WeakSet<object>();
  return (error) => {
    if (!isObject(error)) return true;
    if (seen.has(error)) return false;
    seen.add(error);
    return true;
  };
}

/** Whether a class named `name` is on the object's prototype chain (data properties only, no Proxies). */
export function inheritsFromClassNamed(obj: unknown, name: string): boolean {
  let o: unknown = obj;
  for (let i = 0; isObject(o) && i < 10; i++) {
    if (types.isProxy(o)) return false;
    try {
      const ctor = Object.getOwnPropertyDescriptor(o, 'constructor')?.value as unknown;
      if (typeof ctor === 'function' && Object.getOwnPropertyDescriptor(ctor, 'name')?.value === name) return true;
      o = Object.getPrototypeOf(o);
    } catch {
      return false;
    }
  }
  return false;
}

/** An HTTP error status carried by the error itself (`status`/`statusCode` 400..599), as finalhandler reads it. */
export function errorStatus(error: unknown): number | undefined {
  for (const key of ['status', 'statusCode']) {
    const v = ownOrInherited(error, key);
    if (typeof v === 'number' && v >= 400 && v < 600) return v;
  }
  return undefined;
}

// Data properties only, up the prototype chain (http-errors puts `status` on instances, some
// libraries on a prototype); getters are not run.
function ownOrInherited(obj: unknown, key: string): unknown {
  let o: unknown = obj;
  for (let i = 0; isObject(o) && i < 6; i++) {
    if (types.isProxy(o)) return undefined;
    try {
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d) return 'value' in d ? d.value : undefined;
      o = Object.getPrototypeOf(o);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
