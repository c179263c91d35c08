import diagnosticsChannel from 'node:diagnostics_channel';
import { types } from 'node:util';
import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { errorStatus, firstSightings, inheritsFromClassNamed, isObject } from './error-status';
import type { ChannelInstrumentation, ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * GraphQL (graphql-js 15-17, which Apollo Server, GraphQL Yoga, Mercurius and @nestjs/graphql run).
 * graphql catches whatever a resolver throws, turns it into an entry of the response's `errors`
 * and answers 200: nothing reaches express or the process. What a resolver throws is reported,
 * with the field's path and the request; a `GraphQLError` thrown on purpose and errors carrying a
 * 4xx status are answers, not faults, and are left alone.
 *
 * - graphql 15 and 16 (CommonJS): `error/locatedError.js`, the function graphql calls with every
 *   error a field produced, is wrapped through the require hook.
 * - graphql 17 (CommonJS or ES modules): graphql publishes each operation on the
 *   `graphql:execute` tracing channel; its end events carry the result, whose errors keep what the
 *   resolver threw as `originalError`. Subscribing costs one channel publish per operation.
 */

const firstReport = firstSightings();
// One switch per way in: the require hook's wrapper stays in graphql 15/16 after the agent stops.
let wrapperActive = false;
let channelActive = false;

/** `['user', 'orders', 0]` -> `user.orders.0`. */
function pathText(path: unknown): string | undefined {
  if (!Array.isArray(path)) return undefined;
  let out = '';
  for (let i = 0; i < path.length && i < 64; i++) {
    const seg = path[i] as unknown;
    if (typeof seg !== 'string' && typeof seg !== 'number') return undefined;
    out += (i === 0 ? '' : '.') + String(seg);
  }
  return out;
}

/** Reports what a resolver threw, unless it is a deliberate answer or was reported already. */
function reportResolverError(thrown: unknown, path: unknown, operation?: () => unknown): void {
  if (thrown === undefined || thrown === null) return;
  if (inheritsFromClassNamed(thrown, 'GraphQLError')) return;
  const status = errorStatus(thrown);
  if (status !== undefined && status < 500) return;
  if (!firstReport(thrown)) return;
  const graphql: Record<string, string> = {};
  const where = pathText(path);
  if (where !== undefined) graphql.path = where;
  try {
    const name = operation?.();
    if (typeof name === 'string' && name !== '') graphql.operation = name.slice(0, 200);
  } catch {
    // graphql could not tell the operation: the path is enough
  }
  reportError(thrown, 'graphql', { graphql });
}

export const graphqlLocatedErrorInstrumentation: ModuleInstrumentation = {
  name: 'graphql',
  module: 'graphql/error/locatedError',
  versions: '>=15.0.0 <17.0.0',
  coveredElsewhere: { versions: '>=17.0.0', by: 'its graphql:execute tracing channel' },
  patch(exports) {
    if (!isObject(exports)) return exports;
    wrapperActive = true;
    // A plain function, as graphql's: it keeps a `prototype` like the original.
    wrapMethod(exports, 'locatedError', (original) => function locatedError(this: unknown, raw: unknown, _nodes: unknown, path: unknown): unknown {
      const located = Reflect.apply(original, this, arguments) as unknown;
      // Returned as it came: an error already located upstream (a non-null field passing it up).
      if (wrapperActive && located !== raw) {
        try {
          // A thrown primitive (or null) is reported as graphql wraps it, as graphql 17's channel gives it.
          reportResolverError(isObject(raw) ? raw : (ownData(located, 'originalError') ?? raw), path);
        } catch {
          // never throw into graphql's execution
        }
      }
      return located;
    });
    return exports;
  },
  unpatch(exports) {
    wrapperActive = false;
    if (isObject(exports)) unwrapMethod(exports, 'locatedError');
  },
};

const EXECUTE_END = 'tracing:graphql:execute:end';
const EXECUTE_ASYNC_END = 'tracing:graphql:execute:asyncEnd';

/** An execution result's errors: `{ errors }`, or `{ initialResult: { errors } }` for @defer/@stream. */
function resultErrors(result: unknown): unknown[] | undefined {
  if (types.isPromise(result)) return undefined;
  const errors = ownData(result, 'errors');
  if (Array.isArray(errors)) return errors;
  const initial = ownData(result, 'initialResult');
  return initial !== undefined && initial !== result ? resultErrors(initial) : undefined;
}

/** End of one `graphql:execute` operation (graphql 17): the context graphql built, with `result`. */
function onExecuteEnd(message: unknown): void {
  try {
    if (!channelActive) return;
    const errors = resultErrors(ownData(message, 'result'));
    if (!errors) return;
    // graphql's own getter: it reads the operation from the document, once, and only when needed.
    const operation = (): unknown => (message as { operationName?: unknown }).operationName;
    for (let i = 0; i < errors.length && i < 100; i++) {
      const located = errors[i] as unknown;
      reportResolverError(ownData(located, 'originalError'), ownData(located, 'path'), operation);
    }
  } catch {
    // never throw into graphql's tracing
  }
}

export const graphqlChannelInstrumentation: ChannelInstrumentation = {
  name: 'graphql',
  versions: '>=17.0.0',
  patch() {
    channelActive = true;
    diagnosticsChannel.subscribe(EXECUTE_END, onExecuteEnd);
    diagnosticsChannel.subscribe(EXECUTE_ASYNC_END, onExecuteEnd);
  },
  unpatch() {
    channelActive = false;
    diagnosticsChannel.unsubscribe(EXECUTE_END, onExecuteEnd);
    diagnosticsChannel.unsubscribe(EXECUTE_ASYNC_END, onExecuteEnd);
  },
};
