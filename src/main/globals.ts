/**
 * Values the agent publishes on the app's global object under Symbol.for keys, for code that runs
 * on this thread but cannot import them: the worker's expressions during inspector pauses, and the
 * statements the source hook adds to framework files. Non-enumerable and read-only, so the app's
 * own code iterating or assigning globals never meets them; configurable, so shutdown can remove them.
 */
export function publishGlobal(key: symbol, value: unknown): void {
  Object.defineProperty(globalThis, key, { value, enumerable: false, configurable: true, writable: false });
}

/** Publishes each value at its key; returns what removes them all again. */
export function publishGlobals(values: ReadonlyArray<readonly [symbol, unknown]>): () => void {
  for (const [key, value] of values) publishGlobal(key, value);
  return () => {
    for (const [key] of values) delete (globalThis as Record<symbol, unknown>)[key];
  };
}
