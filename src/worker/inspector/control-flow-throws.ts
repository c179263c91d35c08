/**
 * Throws that frameworks use as control flow, not errors: each one is thrown and caught by the
 * framework on every request that takes that path, and V8 pauses for each like for any exception.
 * Recognised from the thrown value the pause event carries (no extra inspector call while the app
 * is paused), they are resumed at once: no locals, no share of the error budget.
 *
 * - React: Suspense's exception ("Suspense Exception: This is not a real error!", React 19; thrown
 *   once per suspending component, and a webpack build bundles React into the app's own chunks, so
 *   an app frame is on its stack), and React 18's way of suspending: throwing the promise itself.
 * - Next.js: `redirect()`, `notFound()`/`forbidden()`/`unauthorized()` (Next 15+: NEXT_HTTP_ERROR_FALLBACK;
 *   13-14: NEXT_NOT_FOUND), the dynamic-usage signal of static rendering, and the bail-out to
 *   client-side rendering (`next/dynamic` with `ssr: false`).
 * - Answers thrown as objects that are not errors: a fetch `Response` (React Router's and Remix's
 *   `throw redirect()`, any `throw new Response(...)` in a loader or action), React Router's
 *   `data()`, SvelteKit's `redirect()` and `error()`.
 */
import type { Runtime } from 'node:inspector';

/**
 * The first line of an error's description is `<name>: <message>`; the name is the error's `name`
 * on some Node versions and its class on others (`DynamicServerError` or `Error`), so any name.
 */
const CONTROL_FLOW_MESSAGE =
  /^[\w$.]*: (?:Suspense (?:Action )?Exception: This is not a real error|NEXT_REDIRECT|NEXT_NOT_FOUND|NEXT_HTTP_ERROR_FALLBACK;|Dynamic server usage: |Bail out to client-side rendering: )/;

/**
 * Classes (not Error subclasses) whose instances frameworks throw as answers. Node 20's fetch
 * (undici) names its Response class `_Response`.
 */
const ANSWER_CLASSES = new Set(['Response', '_Response', 'DataWithResponseInit', 'Redirect', 'HttpError']);

/** Whether a thrown (or rejected) value is a framework's control-flow signal. */
export function isControlFlowThrow(thrown: Runtime.RemoteObject | undefined): boolean {
  if (thrown?.type !== 'object') return false;
  if (thrown.subtype === 'promise') return true;
  if (thrown.subtype === undefined) return thrown.className !== undefined && ANSWER_CLASSES.has(thrown.className);
  return thrown.subtype === 'error' && typeof thrown.description === 'string' && CONTROL_FLOW_MESSAGE.test(thrown.description);
}
