/**
 * Redaction of request data before it leaves the app's thread: secret-looking header values and
 * query parameter values become "[REDACTED]". Names are judged by the same rules as locals
 * (serialize/redact: password, token, authorization, cookie, session, api key... plus AIVORY_REDACT);
 * query strings also hide a few short names that carry secrets in URLs (OAuth `code`, `key`, `sig`).
 */
import { createRedactor, REDACTED, type Redactor } from '../serialize/redact';

export { REDACTED };

const URL_SECRET_PARAMS = new Set(['code', 'key', 'sig']);

export interface RequestRedactor {
  isSecretHeader(name: string): boolean;
  isSecretParam(name: string): boolean;
  /** A value that contains the agent's own API key. */
  isSecretValue(text: string): boolean;
}

let cached: { extra: readonly string[]; apiKey: string; redactor: RequestRedactor } | undefined;

/** The redactor for the configured names and key; rebuilt only when they change. */
export function requestRedactor(extra: readonly string[], apiKey: string): RequestRedactor {
  if (cached && cached.extra === extra && cached.apiKey === apiKey) return cached.redactor;
  const redactor = requestRedactorOf(createRedactor(extra, apiKey));
  cached = { extra, apiKey, redactor };
  return redactor;
}

/** The request rules over a redactor of names (the serializer's, for URLs among locals). */
export function requestRedactorOf(names: Redactor): RequestRedactor {
  return {
    isSecretHeader: (name) => names.isSecretName(name),
    isSecretParam: (name) => URL_SECRET_PARAMS.has(name.toLowerCase()) || names.isSecretName(name),
    isSecretValue: (text) => names.isSecretValue(text),
  };
}

/**
 * A request target (`/path?query`) with secret query values replaced. Works on the raw string so
 * that everything else (encoding, order, repeated keys) stays as the client sent it.
 */
export function redactTarget(target: string, redactor: RequestRedactor): string {
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
    if (redactor.isSecretParam(name) || redactor.isSecretValue(parts[i])) parts[i] = parts[i].slice(0, eq + 1) + REDACTED;
  }
  return target.slice(0, q + 1) + parts.join('&') + (hash < 0 ? '' : target.slice(hash));
}
