/**
 * Event context (setContext, captureException's second argument, breakpoint hits' request scope)
 * with the values of secret-looking keys replaced, by the same name rules as locals: the app may
 * well call `setContext({ authorization })` or `captureException(err, { token })`. Request headers
 * and query values are already redacted on the app's thread; this covers the rest.
 */
import type { AgentConfig } from '../../shared/config';
import { createRedactor, REDACTED, type Redactor } from '../../main/serialize/redact';

/** Context is plain data already (toPlainData bounds its depth at 6). */
const MAX_DEPTH = 8;

function redact(value: unknown, redactor: Redactor, depth: number): unknown {
  if (typeof value === 'string') return redactor.isSecretValue(value) ? REDACTED : value;
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, redactor, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = v !== null && v !== undefined && typeof v !== 'object' && redactor.isSecretName(key) ? REDACTED : redact(v, redactor, depth + 1);
  }
  return out;
}

/** A function redacting one context object; built once per config. */
export function createContextRedaction(config: Pick<AgentConfig, 'redactNames' | 'apiKey'>): <T>(context: T) => T {
  const redactor = createRedactor(config.redactNames, config.apiKey);
  return <T>(context: T): T => {
    try {
      return redact(context, redactor, 0) as T;
    } catch {
      return {} as T;
    }
  };
}
