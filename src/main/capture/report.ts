import type { EventContext, RequestInfo } from '../../shared/protocol';
import { createFingerprintLimiter, type FingerprintLimiter } from '../../shared/rate-limit';
import { activeAgent } from '../state';
import { currentContext, requestStorage } from '../context/store';
import { setBounded } from '../../shared/bounded-map';
import { ignoreMatcher, type IgnoreMatcher } from '../../shared/ignore-errors';
import { crashReportedByThread } from '../threads/thread-events';
// Takes DOMException's getters now, before the app runs (build-event.ts reads them).
import './dom-exception';

// Loaded with the first error: the stack parser and event builder are not needed at start-up.
let builder: typeof import('./build-event') | undefined;
// Repeats over the rate limit are dropped here, before an event is built or handed to the worker:
// a route that throws on every request then costs little more than reading the error's stack.
let repeats: FingerprintLimiter | undefined;
// Shape of type + message -> the repeat key last seen with it. A hot error is recognised by its
// shape and dropped without formatting its stack; one in SAMPLE_EVERY is still read in full, so a
// second site throwing the same type and message over the limit is found within that many.
const lastKeyOfShape = new Map<string, string>();
const MAX_SHAPES = 1000;
const SAMPLE_EVERY = 32;
let shortcuts = 0;
// AIVORY_IGNORE_ERRORS, made from the agent's configuration with the first error (null: none).
let ignored: IgnoreMatcher | null | undefined;

/**
 * The one way errors reach the agent from the main thread (API, process hooks, framework
 * instrumentations). Applies AIVORY_IGNORE_ERRORS, sampling and the per-error rate limit; returns the event id or ''
 * when nothing was sent. `request` may be given as a function, called only for an event that is
 * sent. Never throws.
 */
export function reportError(error: unknown, mechanism: string, extra?: unknown, request?: RequestInfo | (() => RequestInfo)): string {
  try {
    const agent = activeAgent();
    if (!agent) return '';
    builder ??= require('./build-event') as typeof import('./build-event');
    const head = builder.describeHead(error);
    ignored ??= ignoreMatcher(agent.config.ignoreErrors) ?? null;
    if (ignored !== null && ignored(head.type, head.message, builder.describeCode(error))) return '';
    // The request has its report: its 5xx answer needs no other (http-5xx.ts), whatever is sent.
    const scope = requestStorage.getStore();
    if (scope !== undefined) scope.errorReported = true;
    const rate = agent.samplingRate();
    if (rate < 1 && Math.random() >= rate) return '';
    repeats ??= createFingerprintLimiter(agent.config.maxEventsPerFingerprintPerMinute);
    const shape = builder.headShape(head);
    const known = lastKeyOfShape.get(shape);
    if (known !== undefined && ++shortcuts % SAMPLE_EVERY !== 0 && repeats.dropIfOver(known)) return '';
    const thrown = builder.withStack(error, head);
    const key = builder.repeatKey(thrown);
    if (known !== key) setBounded(lastKeyOfShape, shape, key, MAX_SHAPES);
    // A worker thread's crash, already reported by the thread, that now crashes the process too.
    if ((mechanism === 'uncaught' || mechanism === 'unhandled_rejection') && crashReportedByThread(key)) return '';
    const suppressedBefore = repeats.admit(key);
    if (suppressedBefore === undefined) return '';
    const context: EventContext = currentContext(extra);
    const info = typeof request === 'function' ? request() : request;
    if (info) context.request = { ...context.request, ...info };
    // With the app's own inspector the agent never attaches: 'unavailable' rather than 'not_ready'.
    const ready = agent.inspectorReady() || agent.userInspector();
    const event = builder.buildCapturedError(error, context, mechanism, ready, agent.budgetSpent(), thrown);
    if (suppressedBefore > 0) event.suppressedBefore = suppressedBefore;
    agent.send(event, key);
    return event.id;
  } catch {
    return '';
  }
}
