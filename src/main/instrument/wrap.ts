/**
 * Function wrapping that the app cannot tell apart from the original: same `name` and `length`
 * descriptors, same `this`, arguments and return value (the wrapper decides only what to observe).
 */

// wrapper -> original, so that patching twice is a no-op and unpatching finds the original.
const originals = new WeakMap<Function, Function>();

export function copyNameAndLength(target: Function, source: Function): void {
  for (const key of ['name', 'length']) {
    const d = Object.getOwnPropertyDescriptor(source, key);
    if (d) Object.defineProperty(target, key, d);
  }
}

/** Marks `wrapper` as wrapping `original` and gives it the original's name and length. */
export function markWrapper<F extends Function>(wrapper: F, original: Function): F {
  copyNameAndLength(wrapper, original);
  originals.set(wrapper, original);
  return wrapper;
}

export function isWrapper(fn: unknown): boolean {
  return typeof fn === 'function' && originals.has(fn);
}

export function originalOf(fn: Function): Function {
  return originals.get(fn) ?? fn;
}

/**
 * Replaces `obj[key]` (a method on a prototype) with `make(original)`, keeping the property's
 * attributes. Returns false when it is not a function or already wrapped.
 */
export function wrapMethod(obj: object, key: string, make: (original: Function) => Function): boolean {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  if (!d || typeof d.value !== 'function' || isWrapper(d.value)) return false;
  const wrapper = markWrapper(make(d.value), d.value);
  Object.defineProperty(obj, key, { ...d, value: wrapper });
  return true;
}

/** Puts the original method back if ours is still in place. */
export function unwrapMethod(obj: object, key: string): void {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  if (d && typeof d.value === 'function' && isWrapper(d.value)) Object.defineProperty(obj, key, { ...d, value: originalOf(d.value) });
}
