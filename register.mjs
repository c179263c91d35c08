// Preload entry for `node --import aivory-monitor/register`.
// Tells the agent that the app's entry loads after a few event-loop turns (see workerStartDelayEsmMs).
import { createRequire } from 'node:module';

Object.defineProperty(globalThis, Symbol.for('aivory-monitor.esm-preload'), { value: true, configurable: true });
// require, not import(): the ESM loader would parse the CommonJS file for its exports first.
createRequire(import.meta.url)('./dist/register.js');
