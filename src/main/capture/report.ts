import type { EventContext } from '../../shared/protocol';
import { activeAgent } from '../state';
import { currentContext } from '../context/store';

// Loaded with the first error: the stack parser and event builder are not needed at start-up.
let builder: typeof import('./build-event') | undefined;

/**
 * The one way errors reach the agent from the main thread (API, process hooks, framework
 * instrumentations). Applies sampling; returns the event id or '' when nothing was sent. Never throws.
 */
export function reportError(error: unknown, mechanism: string, extra?: unknown, request?: EventContext['request']): string {
  try {
    const agent = activeAgent();
    if (!agent) return '';
    const rate = agent.samplingRate();
    if (rate < 1 && Math.random() >= rate) return '';
    const context = currentContext(extra);
    if (request) context.request = { ...context.request, ...request };
    // With the app's own inspector the agent never attaches: 'unavailable' rather than 'not_ready'.
    const ready = agent.inspectorReady() || agent.userInspector();
    builder ??= require('./build-event') as typeof import('./build-event');
    const event = builder.buildCapturedError(error, context, mechanism, ready, agent.budgetSpent());
    agent.send(event);
    return event.id;
  } catch {
    return '';
  }
}
