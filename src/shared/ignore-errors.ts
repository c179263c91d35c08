/**
 * AIVORY_IGNORE_ERRORS: errors the app does not want reported (a client that went away, an aborted
 * request). Each entry names an error's type (`AbortError`), or its `code` (`ECONNRESET`), or is a
 * `/regular expression/flags` tested against `Type: message`. The configuration keeps the entries
 * as text (it crosses to the agent's worker by structured clone); the matcher is made where events
 * are built.
 */

const REGEX_ENTRY = /^\/(.+)\/([a-z]*)$/s;

/** The entries of a comma-separated list; a `/regular expression/` may hold commas. */
export function splitIgnoreList(text: string): string[] {
  const out: string[] = [];
  const entry = /\s*(\/(?:\\.|[^/\\])+\/[a-z]*(?=\s*(?:,|$))|[^,]*)\s*(?:,|$)/gy;
  for (let m = entry.exec(text); m !== null && entry.lastIndex <= text.length; m = entry.exec(text)) {
    const value = m[1].trim();
    if (value !== '') out.push(value);
    if (entry.lastIndex === text.length) break;
  }
  return out;
}

function regexOf(entry: string): RegExp | undefined {
  const m = REGEX_ENTRY.exec(entry);
  if (m === null) return undefined;
  // Stateless tests: no `g`/`y`, whose lastIndex would carry from one error to the next.
  return new RegExp(m[1], m[2].replace(/[gy]/g, ''));
}

/** Whether an entry can be used: a name, or a regular expression that compiles. */
export function ignoreEntryError(entry: string): string | undefined {
  if (!REGEX_ENTRY.test(entry)) return undefined;
  try {
    regexOf(entry);
    return undefined;
  } catch (err) {
    return (err as Error)?.message ?? 'not a regular expression';
  }
}

export type IgnoreMatcher = (type: string, message: string, code: unknown) => boolean;

/** The matcher for valid entries; undefined when there are none (nothing to check per error). */
export function ignoreMatcher(entries: readonly string[]): IgnoreMatcher | undefined {
  const names = new Set<string>();
  const patterns: RegExp[] = [];
  for (const entry of entries) {
    let re: RegExp | undefined;
    try {
      re = regexOf(entry);
    } catch {
      continue;
    }
    if (re) patterns.push(re);
    else names.add(entry);
  }
  if (names.size === 0 && patterns.length === 0) return undefined;
  return (type, message, code) => {
    if (names.has(type) || (typeof code === 'string' && names.has(code))) return true;
    if (patterns.length === 0) return false;
    const text = `${type}: ${message}`;
    return patterns.some((re) => re.test(text));
  };
}
