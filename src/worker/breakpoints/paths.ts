/**
 * Matching a requested `file_path` (absolute, relative, file:// URL, or a suffix such as
 * `src/routes/users.ts`) against the URLs of loaded scripts and the sources of their source maps:
 * the candidate sharing the longest run of trailing path segments wins.
 */

/** A requested path, split once at set time. */
export interface PathRequest {
  /** Normalised segments, e.g. ['src', 'routes', 'users.ts']. */
  readonly segments: readonly string[];
  /** The request names a file inside node_modules: library files may then match. */
  readonly allowLibraries: boolean;
}

const caseInsensitive = process.platform === 'win32' || process.platform === 'darwin';

/** A script URL or path as a slash-separated path: file:// decoded, backslashes turned round. */
export function toPath(urlOrPath: string): string {
  let p = urlOrPath;
  if (p.startsWith('file://')) {
    try {
      p = decodeURIComponent(new URL(p).pathname);
    } catch {
      p = p.slice('file://'.length);
    }
    if (/^\/[A-Za-z]:\//.test(p)) p = p.slice(1); // file:///C:/x -> C:/x
  }
  return p.replace(/\\/g, '/');
}

function segmentsOf(path: string): string[] {
  return toPath(path).split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
}

/** Splits a set_breakpoint file_path; null when nothing file-like is left. */
export function parseRequestPath(filePath: string): PathRequest | null {
  const segments = segmentsOf(filePath.trim());
  if (segments.length === 0) return null;
  return { segments, allowLibraries: segments.includes('node_modules') };
}

function same(a: string, b: string): boolean {
  return caseInsensitive ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** Trailing segments the candidate shares with the request (0: not even the file name). */
export function suffixScore(req: PathRequest, candidate: string): number {
  const cand = segmentsOf(candidate);
  let n = 0;
  while (n < req.segments.length && n < cand.length && same(req.segments[req.segments.length - 1 - n] as string, cand[cand.length - 1 - n] as string)) n++;
  return n;
}

/** Whether a script path may be matched: not Node's internals, not a library unless the request names one. */
export function isCandidate(req: PathRequest, path: string): boolean {
  if (path === '' || path.startsWith('node:') || path.startsWith('internal/') || path.startsWith('evalmachine')) return false;
  return req.allowLibraries || !path.includes('/node_modules/');
}

/**
 * The least score a script loaded later must reach to take a pending breakpoint: the whole request
 * when it is short, else two segments (a request `/home/dev/app/src/a.js` from a developer's machine
 * still finds `/srv/app/src/a.js`, while a lone `index.js` elsewhere does not).
 */
export function pendingThreshold(req: PathRequest): number {
  return Math.min(req.segments.length, 2);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function segmentRegex(seg: string): string {
  const raw = escapeRegex(seg);
  const encoded = escapeRegex(encodeURIComponent(seg));
  const alternatives = raw === encoded ? raw : `(?:${raw}|${encoded})`;
  return caseInsensitive ? alternatives.replace(/[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`) : alternatives;
}

/**
 * A V8 `urlRegex` matching every script URL that ends with the whole request (plain paths and
 * file:// URLs, / or \\ separators). Library files are excluded unless the request names one.
 * V8 applies it when a script is compiled, so a module loaded later gets the breakpoint before
 * any of its code runs.
 */
export function suffixUrlRegex(req: PathRequest): string {
  const body = req.segments.map(segmentRegex).join('[/\\\\]');
  const guard = req.allowLibraries ? '' : '(?!.*[/\\\\]node_modules[/\\\\])';
  return `^${guard}(?:.*[/\\\\])?${body}$`;
}

/** A V8 `urlRegex` matching exactly one URL. */
export function exactUrlRegex(url: string): string {
  return `^${escapeRegex(url)}$`;
}

/**
 * Makes a V8 breakpoint request unique per breakpoint: V8 refuses a second breakpoint with the
 * same url/line/column ("already exists"), yet two breakpoints on one line, each with its own
 * condition and hit count, must both work. The added alternative can never match a URL.
 */
export function uniqueRegex(regex: string, breakpointId: string): string {
  return `${regex}${UNIQUE_MARKER}${escapeRegex(breakpointId)}$`;
}

/** What precedes the breakpoint id in a uniqueRegex (and so in V8's breakpoint id). */
const UNIQUE_MARKER = '|^\\u0000';

/** Our breakpoint id inside a V8 breakpoint id (V8's ids embed the urlRegex), or undefined when it is not ours. */
export function breakpointIdInV8Id(v8Id: string): string | undefined {
  const at = v8Id.lastIndexOf(UNIQUE_MARKER);
  if (at < 0 || !v8Id.endsWith('$')) return undefined;
  return v8Id.slice(at + UNIQUE_MARKER.length, -1).replace(/\\(.)/g, '$1');
}
