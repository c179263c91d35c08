/**
 * Which names hold secrets. Names are compared case- and separator-insensitively ("API-Key",
 * "apiKey" and "api_key" are one name). Long words match anywhere in a name ("dbPassword"); short
 * ones only as a whole word ("ssn", not "className").
 */

export const REDACTED = '[REDACTED]';

const CONTAINED = [
  'password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'authorization', 'cookie',
  'session', 'privatekey', 'creditcard', 'cardnumber', 'accesskey', 'credential', 'signature',
];
const WHOLE_WORDS = ['pwd', 'ssn', 'cvv', 'cvc', 'pin', 'auth', 'jwt', 'otp', 'iban'];

function squash(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Words of a name: camelCase humps and runs between separators, lower-cased. */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export interface Redactor {
  /** Whether a variable/property/header/map-key name looks secret. */
  isSecretName(name: string): boolean;
  /** Whether a string value must not leave (it contains the agent's own API key). */
  isSecretValue(text: string): boolean;
}

/**
 * `extraNames` (config.redactNames, AIVORY_REDACT) are matched like the long built-in words.
 * `apiKey` is the agent's own key: any string containing it is redacted.
 */
export function createRedactor(extraNames: readonly string[], apiKey: string): Redactor {
  const contained = [...CONTAINED, ...extraNames.map(squash).filter((n) => n.length > 0)];
  const whole = new Set(WHOLE_WORDS);
  const cache = new Map<string, boolean>();
  // A key shorter than 6 characters would redact half the strings of the app; it is not a real key.
  const key = apiKey.length >= 6 ? apiKey : '';
  return {
    isSecretName(name) {
      let hit = cache.get(name);
      if (hit !== undefined) return hit;
      const s = squash(name);
      hit = contained.some((w) => s.includes(w)) || wordsOf(name).some((w) => whole.has(w));
      if (cache.size < 5000) cache.set(name, hit);
      return hit;
    },
    isSecretValue(text) {
      return key !== '' && text.length >= key.length && text.includes(key);
    },
  };
}
