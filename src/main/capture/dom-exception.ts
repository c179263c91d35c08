import { types } from 'node:util';

/**
 * DOMException (an aborted `fetch`, `AbortSignal.timeout()`, `structuredClone` of a function) keeps
 * its name and message behind getters on its prototype, which refuse anything but a real
 * DOMException: without them it would be reported as type `DOMException` with no message. The
 * getters are taken when the agent starts (report.ts loads this), before the app could replace them.
 */
const getters = ((): { name?: (this: unknown) => unknown; message?: (this: unknown) => unknown } | undefined => {
  try {
    const proto = (globalThis as { DOMException?: { prototype?: unknown } }).DOMException?.prototype;
    if (proto === null || typeof proto !== 'object') return undefined;
    const getter = (key: string): ((this: unknown) => unknown) | undefined => {
      const d = Object.getOwnPropertyDescriptor(proto, key);
      return typeof d?.get === 'function' ? (d.get as (this: unknown) => unknown) : undefined;
    };
    return { name: getter('name'), message: getter('message') };
  } catch {
    return undefined;
  }
})();

/** A DOMException's `name` or `message`; undefined for any other value. */
export function domExceptionData(value: object, key: 'name' | 'message'): unknown {
  const get = getters?.[key];
  if (get === undefined || types.isProxy(value)) return undefined;
  try {
    return Reflect.apply(get, value, []);
  } catch {
    return undefined;
  }
}
