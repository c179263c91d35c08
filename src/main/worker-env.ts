import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../shared/package-root';

/**
 * The environment of the agent worker: the app's env without our preload in NODE_OPTIONS, so the
 * preload never runs again inside the worker (which would start an agent per agent, forever).
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  if (out.NODE_OPTIONS) {
    const kept = removePreload(out.NODE_OPTIONS);
    if (kept) out.NODE_OPTIONS = kept;
    else delete out.NODE_OPTIONS;
  }
  return out;
}

interface Token {
  /** The text as written (quotes and escapes kept), to put back unchanged. */
  raw: string;
  /** The value Node sees. */
  value: string;
}

/**
 * Splits NODE_OPTIONS the way Node does: spaces separate, double quotes group, and inside quotes a
 * backslash escapes the next character.
 */
export function tokenizeNodeOptions(text: string): Token[] {
  const tokens: Token[] = [];
  let raw = '';
  let value = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\' && i + 1 < text.length) {
      raw += c + text[i + 1];
      value += text[++i];
    } else if (c === '"') {
      quoted = !quoted;
      raw += c;
      started = true;
    } else if (!quoted && /\s/.test(c)) {
      if (started) tokens.push({ raw, value });
      raw = value = '';
      started = false;
    } else {
      raw += c;
      value += c;
      started = true;
    }
  }
  if (started) tokens.push({ raw, value });
  return tokens;
}

const PRELOAD_FLAG = /^(--require|--import|-r)$/;
const PRELOAD_INLINE = /^(--require|--import|-r)=(.*)$/s;

/** NODE_OPTIONS without `--require`/`--import`/`-r` of aivory-monitor's register entry. */
export function removePreload(nodeOptions: string): string {
  const tokens = tokenizeNodeOptions(nodeOptions);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const { raw, value } = tokens[i];
    if (PRELOAD_FLAG.test(value) && i + 1 < tokens.length && isOurPreload(tokens[i + 1].value)) {
      i++;
      continue;
    }
    const inline = PRELOAD_INLINE.exec(value);
    if (inline && isOurPreload(inline[2])) continue;
    out.push(raw);
  }
  return out.join(' ');
}

/** Whether NODE_OPTIONS already preloads aivory-monitor (in any of the forms removePreload knows). */
export function hasPreload(nodeOptions: string): boolean {
  return removePreload(nodeOptions) !== tokenizeNodeOptions(nodeOptions).map((t) => t.raw).join(' ');
}

const OWN_ENTRIES = new Set(
  ['register.js', 'register.mjs'].flatMap((f) => {
    const path = resolve(PACKAGE_ROOT, f);
    return [path, pathToFileURL(path).href];
  }),
);

/** `aivory-monitor/register` (by package name, as a path into an installed copy, or a URL), or this copy's entry files. */
function isOurPreload(spec: string): boolean {
  return /(^|[\\/])aivory-monitor[\\/]register(\.m?js)?$/.test(spec) || OWN_ENTRIES.has(spec);
}
