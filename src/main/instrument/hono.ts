import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../shared/log';
import { ownData } from '../context/request-info';
import { addRouteReader, requestStorage, type RequestScope } from '../context/store';
import { isObject } from './error-status';
import { noteAnswering } from './http-5xx';
import { handOffStatement, replaceOnce, type SourceInstrumentation } from './source-hook';
import { publishGlobals } from '../globals';

/**
 * Hono 4, served by Node's http (`@hono/node-server`). Hono catches what a handler or middleware
 * throws in private code (`#handleError`, and `compose` for routes with middleware) and lets the
 * app's `onError` (or its default: `console.error` and a 500) turn it into an answer; nothing of
 * that can be wrapped from outside, and its class fields give every app its own error handler. So
 * the in-thread load hook (source-hook.ts) adds one statement at the end of three lines of Hono's
 * `hono-base.js` and `compose.js` (ES module and CommonJS builds), moving none of Hono's code:
 *  - after the request's Context is made: the Context goes on the request's scope, so that every
 *    event and breakpoint hit inside the request names the route Hono matched (`/users/:id`);
 *  - where Hono's two error paths begin, before the app's handler answers: the error is handed to
 *    the 5xx reporter (http-5xx.ts), which reports it as `hono` if the answer is a 5xx and nothing
 *    else reported it. An HTTPException's 4xx answer is an answer, not a failure; an `onError`
 *    that calls `captureException` has reported it.
 * This needs no exception pause, so errors past the pause budget are reported too (without locals).
 * Where Node cannot run module hooks on the app's thread, Hono's 5xx answers are still reported
 * through the pause where the app threw (http-5xx.ts), without the route.
 */

const CONTEXT_KEY = Symbol.for('aivory-monitor.hono-context');
const ERROR_KEY = Symbol.for('aivory-monitor.hono-error');

// The three places, as the builds of Hono 4.0 to 4.13 spell them (ES module and CommonJS).
/** `const c = new Context(request, {...});` in `#dispatch` (`new import_context.Context(` in CommonJS builds). */
const CONTEXT_MADE = /(const ([\w$]+) = new (?:[\w$]+\.)?Context\([^;]*?\}\);)/g;
/** `#handleError(err, c) {` (`handleError` before 4.7): every error Hono's dispatch catches ends here. */
const HANDLE_ERROR = /((?:#|\b)handleError\(([\w$]+), ?([\w$]+)\) ?\{)/g;
/** compose's `if (err instanceof Error && onError) {` followed by `context.error = err;`. */
const COMPOSE_CATCH = /(if \(([\w$]+) instanceof Error\b[^\n{]*&& ?onError\) ?\{)(\s*([\w$]+)\.error = \2;)/g;

let log: Logger | undefined;
let version = '';

function rewriteBase(source: string): string | undefined {
  const withContext = replaceOnce(source, CONTEXT_MADE, (m) => m[1] + handOffStatement(CONTEXT_KEY, m[2]));
  return withContext && replaceOnce(withContext, HANDLE_ERROR, (m) => m[1] + handOffStatement(ERROR_KEY, `${m[2]}, ${m[3]}`));
}

function rewriteCompose(source: string): string | undefined {
  return replaceOnce(source, COMPOSE_CATCH, (m) => m[1] + handOffStatement(ERROR_KEY, `${m[2]}, ${m[4]}`) + m[3]);
}

const FILE = /\/node_modules\/hono\/dist\/(?:cjs\/)?(hono-base|compose)\.js$/;

/** The Context of the request being served, kept on its scope for the route reader. */
function takeContext(c: unknown): void {
  const scope = requestStorage.getStore();
  // the outer app's Context, when one Hono app is mounted in another
  if (scope !== undefined && scope.frameworkContext === undefined && isObject(c)) {
    scope.frameworkContext = c;
    scope.frameworkName = 'hono';
  }
}

function takeError(error: unknown, c: unknown): void {
  try {
    takeContext(c);
    noteAnswering(error, 'hono');
  } catch {
    // never throw into Hono's error path
  }
}

/**
 * The route Hono matched for the request: the path of the last matched route that a method
 * registered (`app.get`), else the last one (`app.all`, `app.use`), with the app's base path.
 */
export function honoRouteOf(c: unknown): string | undefined {
  try {
    // Hono's own getters, as a handler reads them (`c.req.matchedRoutes`).
    const req = isObject(c) ? (c as { req?: unknown }).req : undefined;
    const routes = isObject(req) ? (req as { matchedRoutes?: unknown }).matchedRoutes : undefined;
    if (!Array.isArray(routes)) return undefined;
    let anyMethod: string | undefined;
    for (let i = routes.length - 1; i >= 0; i--) {
      const path = ownData(routes[i], 'path');
      if (typeof path !== 'string') continue;
      if (ownData(routes[i], 'method') !== 'ALL') return path;
      anyMethod ??= path;
    }
    return anyMethod;
  } catch {
    return undefined;
  }
}

function honoRoute(_req: IncomingMessage, scope?: RequestScope): string | undefined {
  return scope?.frameworkName === 'hono' ? honoRouteOf(scope.frameworkContext) : undefined;
}

export const honoInstrumentation: SourceInstrumentation = {
  name: 'Hono',
  package: 'hono',
  versions: '>=4.0.0 <5.0.0',
  formats: new Set(['module', 'commonjs']),
  withoutHook:
    'its errors are reported from their 5xx answers where the agent paused at the throw (within the pause budget), without the route (Node 22.22.3+, 24.11.1+ and 26+ report them all, with the route)',
  fileOf: (url) => FILE.exec(url)?.[1],
  expected: () => new Set(['hono-base', 'compose']),
  rewrite(file, url, source) {
    const out = file === 'compose' ? rewriteCompose(source) : rewriteBase(source);
    if (out === undefined) log?.debug(`Hono ${version}: ${url} is not laid out as expected; left as it is (its errors are reported from their 5xx answers where the agent paused at the throw)`);
    else log?.debug(`instrumented Hono ${version} (${url})`);
    return out;
  },
  install(installed: string, logger: Logger) {
    log = logger;
    version = installed;
    addRouteReader(honoRoute);
    return publishGlobals([
      [CONTEXT_KEY, takeContext],
      [ERROR_KEY, takeError],
    ]);
  },
};
