// Preload entry for `node --import aivory-monitor/register`.
// Tells the agent that the app's entry loads after a few event-loop turns (see workerStartDelayEsmMs).
Object.defineProperty(globalThis, Symbol.for('aivory-monitor.esm-preload'), { value: true, configurable: true });
await import('./dist/register.js');
