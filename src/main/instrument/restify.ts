import type { ServerResponse } from 'node:http';
import { types } from 'node:util';
import { reportError } from '../capture/report';
import { answeredRequest, isNodeRequest, isNodeResponse, ownData } from '../context/request-info';
import { setUncaughtTaker } from '../capture/uncaught-handover';
import { activeAgent } from '../state';
import { addRouteReader, requestStorage, scopeOf, type RequestScope } from '../context/store';
import { firstSightings, isObject } from './error-status';
import { noteAnswering } from './http-5xx';
import type { ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * restify 11 and 12. Every error restify answers itself goes through one method of its server,
 * `Server.prototype._onHandlerError(err, req, res, isUncaught)` in `restify/lib/server`: what a
 * handler passes to `next(err)`, what an async handler rejects with (restify's chain turns the
 * rejection into `next(err)`), errors of `pre` and `use` handlers, restify's own 404 and 405 for
 * unknown routes, and (with `handleUncaughtExceptions`) what its domain catches. That method emits
 * the app's error events (`restifyError`, `InternalServer`...) and answers once the listeners have
 * called back (a turn of the event loop later when there are none); a listener may also answer
 * itself. So the wrapper decides nothing about the answer: it hands the error to the 5xx reporter
 * (http-5xx.ts), which reports it as `restify` once the response finishes with a 5xx, unless an
 * event was already reported for the request (the app's listener calling `captureException`, or
 * what a domain caught, below). Two cases
 * are reported here instead: a 5xx answer the handler sent before it passed the error on (its
 * status is final; reported once restify's error path is over, so that a listener's own report
 * comes first), and an error passed on where the request's async context was lost (a callback of
 * a pool that keeps its callbacks): the 5xx reporter cannot link it to its response, so it is
 * reported at once with the status restify's own answer will have.
 *
 * With `handleUncaughtExceptions`, a handler's synchronous throw reaches Node's crash monitor first,
 * then restify's domain, whose handler calls this method with `isUncaught`. The monitor hands such
 * an error over (uncaught-handover.ts) when the request being served is one the active domain
 * holds (restify adds `req` to it), so that it is reported as restify answers it, like the others;
 * if restify's error path throws (an app's 'uncaughtException' listener that throws: the process
 * dies), it is reported at once as `uncaught`, and if another handler had the domain's error, on
 * the next turn, as the monitor would have.
 *
 * The wrapper runs only once an error exists, never on a request's normal path: no handler's stack
 * has a frame of ours (the app's error-event listeners, which restify calls from inside this
 * method, have one below them, as koa's do below its onerror). It adds no listener: restify answers
 * differently when the app listens to `restifyError`. An error that carries a 4xx `statusCode`
 * (`NotFoundError`, restify's `ResourceNotFound`) is the answer restify will send, not a failure:
 * not handed on. The route is restify's own route object, which its router puts on Node's request
 * (`req.route.path`: `/users/:id`), read without getters (express's route reader reads the same
 * property first; this one does not depend on it).
 */

// Errors reported here directly (an answer already sent, or a request whose scope is not the one
// running): the same object may reach this method again through another path.
const firstReport = firstSightings();
let active = false;
/** An uncaught exception the crash monitor handed over, until restify's domain passes it here. */
let handedOver: { error: unknown; scope: RequestScope } | undefined;

/**
 * The crash monitor's taker: an uncaught exception that restify's domain will catch, which it
 * does before anything else runs (Node calls the domain right after the monitor).
 */
function takeFromDomain(error: unknown): boolean {
  if (!active || !process.hasUncaughtExceptionCaptureCallback()) return false;
  const scope = requestStorage.getStore();
  const req = scope?.req;
  if (scope === undefined || req === undefined) return false;
  const members = ownData((process as { domain?: unknown }).domain, 'members');
  if (!Array.isArray(members) || !members.includes(req)) return false;
  reportUnclaimed();
  const entry = { error, scope };
  handedOver = entry;
  setImmediate(() => {
    if (handedOver === entry) reportUnclaimed();
  });
  return true;
}

/** A handed-over error that restify never got (another handler had the domain's error): a crash report, as before. */
function reportUnclaimed(): void {
  const entry = handedOver;
  if (entry === undefined) return;
  handedOver = undefined;
  requestStorage.run(entry.scope, () => reportError(entry.error, 'uncaught'));
}

/**
 * The path pattern of the route restify's router matched (`/users/:id`), from its own plain route
 * object; also the route reader for events raised inside a restify request (breakpoint hits,
 * `captureException`).
 */
function restifyRoute(req: unknown): string | undefined {
  const route = ownData(req, 'route');
  // restify's route objects: { name, method, path, spec, chain }.
  if (ownData(route, 'chain') === undefined || ownData(route, 'spec') === undefined) return undefined;
  const path = ownData(route, 'path');
  return typeof path === 'string' ? path : undefined;
}

/**
 * The status restify answers an error with: an Error's own numeric `statusCode` (restify-errors
 * keep it on their prototypes), else 500. Walks the prototype chain itself, data properties only,
 * no Proxies (no `instanceof`, whose walk would run a Proxy's trap).
 */
function answerStatus(error: unknown): number {
  let status: unknown;
  let seen = false;
  let o: unknown = error;
  for (let i = 0; isObject(o) && i < 16; i++) {
    if (types.isProxy(o)) return 500;
    if (o === Error.prototype) return typeof status === 'number' && status > 0 ? status : 500;
    if (!seen) {
      const d = Object.getOwnPropertyDescriptor(o, 'statusCode');
      if (d) {
        seen = true;
        status = 'value' in d ? d.value : undefined;
      }
    }
    o = Object.getPrototypeOf(o);
  }
  return 500;
}

/**
 * Before restify's error path runs for `error`. Returns true when the error is to be reported once
 * that path is over (a 5xx answer the handler had already sent).
 */
function beforeErrorPath(error: unknown, req: unknown, res: unknown): boolean {
  if (!active || !isObject(req)) return false;
  const response = isNodeResponse(res) ? res : undefined;
  if (response !== undefined && response.headersSent) {
    // The handler answered before it passed the error on: that answer, whose status is final, is
    // the one the client got (the 5xx reporter may have seen it finish already).
    const status = ownData(response, 'statusCode');
    return typeof status === 'number' && status >= 500 && status < 600;
  }
  const expected = answerStatus(error);
  if (expected < 500 || expected >= 600) return false;
  const scope = scopeOf(req);
  if (scope !== undefined && response !== undefined && scope.res === response) noteAnswering(error, 'restify');
  // No scope of this request here (the handler called back from code that lost it): restify's
  // default answer, as far as it can be known now.
  else report(error, req, response, expected);
  return false;
}

/** After restify's error path, for a 5xx answer sent before it: unless the app's listeners reported it meanwhile. */
function afterErrorPath(error: unknown, req: unknown, res: unknown): void {
  const status = ownData(res, 'statusCode');
  if (active && isObject(req) && isNodeResponse(res) && typeof status === 'number') report(error, req, res, status);
}

function report(error: unknown, req: object, res: ServerResponse | undefined, status: number): void {
  if (scopeOf(req)?.errorReported === true || !firstReport(error)) return;
  reportError(error, 'restify', undefined, () => answeredRequest(isNodeRequest(req) ? req : undefined, res, restifyRoute(req), status));
}

export const restifyServerInstrumentation: ModuleInstrumentation = {
  name: 'restify',
  module: 'restify/lib/server',
  versions: '>=11.0.0 <13.0.0',
  patch(exports) {
    const proto = ownData(exports, 'prototype');
    if (!isObject(proto)) return exports;
    active = true;
    addRouteReader(restifyRoute);
    setUncaughtTaker(takeFromDomain);
    // A plain function, as restify's own is (it has a `prototype`); wrapMethod gives it the
    // original's name and length.
    wrapMethod(proto, '_onHandlerError', (original) =>
      function (this: unknown, err: unknown, req: unknown, res: unknown, isUncaught: unknown): unknown {
        let after = false;
        let fromDomain = false;
        try {
          if (handedOver !== undefined && isUncaught === true && handedOver.error === err) {
            handedOver = undefined;
            fromDomain = true;
          }
          after = beforeErrorPath(err, req, res);
        } catch {
          // never throw into restify's error path
        }
        if (!after && !fromDomain) return Reflect.apply(original, this, arguments) as unknown;
        // finally, not catch and throw: a rethrow would make Node print this line above the error.
        let returned = false;
        try {
          const result = Reflect.apply(original, this, arguments) as unknown;
          returned = true;
          return result;
        } finally {
          // The domain's handler threw: the process dies of it (Node prints it, exit code 7, no
          // 'exit' event), and the error restify was given is the crash. (Only a domain of the
          // app's own around restify's could still catch it; the agent would then be closed.)
          try {
            if (!returned && fromDomain) {
              reportError(err, 'uncaught');
              activeAgent()?.exitNow?.();
            }
            if (after) afterErrorPath(err, req, res);
          } catch {
            // as above
          }
        }
      },
    );
    return exports;
  },
  unpatch(exports) {
    active = false;
    setUncaughtTaker(undefined);
    reportUnclaimed();
    const proto = ownData(exports, 'prototype');
    if (isObject(proto)) unwrapMethod(proto, '_onHandlerError');
  },
};
