/**
 * Redaction of request data before it leaves the app's thread: secret-looking header values and
 * query parameter values become "[REDACTED]", credentials in URLs are dropped.
 */

export const REDACTED = '[REDACTED]';

// Header names whose value is a credential or a session handle.
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie)$|auth|token|secret|passw|api[-_]?key|session|signature|credential|csrf|xsrf/i;
// Query parameter names that usually carry secrets (OAuth codes, signed URLs, API keys).
const SECRET_PARAM = /^(code|key|sig)$|token|secret|passw|pwd|api[-_]?key|apikey|auth|session|signature|credential|jwt|private/i;

/** Builds a name test from the built-in pattern plus the configured extra names (AIVORY_REDACT). */
function withExtra(base: RegExp, extra: readonly string[]): (name: string) => boolean {
  if (extra.length === 0) return (name) => base.test(name);
  const lower = new Set(extra.map((n) => n.toLowerCase()));
  return (name) => base.test(name) || lower.has(name.toLowerCase());
}

export interface Redactor {
  isSecretHeader(name: string): boolean;
  isSecretParam(name: string): boolean;
}

let cached: { extra: readonly string[]; redactor: Redactor } | undefined;

/** The redactor for the configured extra names; rebuilt only when the list changes. */
export function redactorFor(extra: readonly string[]): Redactor {
  if (cached && cached.extra === extra) return cached.redactor;
  const redactor = { isSecretHeader: withExtra(SECRET_HEADER, extra), isSecretParam: withExtra(SECRET_PARAM, extra) };
  cached = { extra, redactor };
  return redactor;
}

/**
 * A request target (`/path?query`) with secret query values replaced. Works on the raw string so
 * that everything else (encoding, order, repeated keys) stays as the client sent it.
 */
export function redactTarget(target: string, redactor: Redactor): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const hash = target.indexOf('#', q);
  const query = hash < 0 ? target.slice(q + 1) : target.slice(q + 1, hash);
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    if (eq < 0) continue;
    let name = parts[i].slice(0, eq);
    try {
      name = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // keep the raw name
    }
    if (redactor.isSecretParam(name)) parts[i] = parts[i].slice(0, eq + 1) + REDACTED;
  }
  return target.slice(0, q + 1) + parts.join('&');
}
