/**
 * Where a script's source map is, for both users of maps in the worker: exception frames
 * (events/source-maps.ts, sync reads) and breakpoints (breakpoints/source-maps.ts, async reads).
 * Only local maps: an inline data: URL or a file; a map named by an http(s) URL is never fetched.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FlattenMap, type TraceMap } from '@jridgewell/trace-mapping';
import { setBounded } from '../shared/bounded-map';

/** Larger maps are ignored: parsing them would cost the worker seconds. */
export const MAX_MAP_BYTES = 50 * 1024 * 1024;

/** The map's text when it is inline, else the file to read; `mapUrl` resolves the map's sources. */
export type MapLocation = { readonly text: string; readonly mapUrl: string } | { readonly file: string; readonly mapUrl: string };

/** A script's URL from its V8 url or path (file:// URLs, absolute paths; node:, data: and other URLs as they are). */
function scriptUrl(script: string): URL | undefined {
  try {
    return /^[a-z][a-z0-9+.-]+:/i.test(script) ? new URL(script) : pathToFileURL(script);
  } catch {
    return undefined;
  }
}

function decodeDataUrl(url: string): string | undefined {
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const meta = url.slice(5, comma);
  const body = url.slice(comma + 1);
  try {
    return meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
  } catch {
    return undefined;
  }
}

/**
 * The map a script's `sourceMappingURL` names (inline, or a file relative to the script), or
 * without one `<script>.map`. Undefined when there is no local map to read.
 */
export function locateMap(script: string, ref: string | undefined): MapLocation | undefined {
  const base = scriptUrl(script);
  if (!base) return undefined;
  if (ref?.startsWith('data:')) {
    const text = decodeDataUrl(ref);
    return text === undefined ? undefined : { text, mapUrl: base.href };
  }
  try {
    if (!ref) {
      if (base.protocol !== 'file:') return undefined;
      const file = fileURLToPath(base) + '.map';
      return { file, mapUrl: pathToFileURL(file).href };
    }
    const url = new URL(ref, base);
    return url.protocol === 'file:' ? { file: fileURLToPath(url), mapUrl: url.href } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a map, plain or indexed (`sections`, as Turbopack writes for Next.js server chunks: one
 * section per module); undefined when it is not one.
 */
export function parseMap(text: string, mapUrl: string): TraceMap | undefined {
  if (text.length > MAX_MAP_BYTES) return undefined;
  try {
    const map = FlattenMap(text, mapUrl);
    resolveWebpackSources(map, mapUrl);
    return map;
  } catch {
    return undefined;
  }
}

/** `webpack://<namespace>/<path in the project>[?query]`: the namespace (often the package name) and the path. */
const WEBPACK_SOURCE = /^webpack:\/\/[^/]*\/(?:\.\/)?([^?#]+)/;
/** How many directories above a map its project may be (Next.js: `.next/server/app/<route dirs>`). */
const MAX_PROJECT_DEPTH = 16;
/** Sources tried before a map's project is given up on. */
const MAX_PROJECT_TRIES = 5;
/** Project directory found per map directory (many chunks share one), null for none; bounded. */
const projectOfMapDir = new Map<string, string | null>();

/**
 * webpack names sources `webpack://<namespace>/<path relative to its context>` (Next.js 15's
 * webpack builds, most webpack bundles), not paths. The context is the project, somewhere above
 * the bundle: the nearest ancestor of the map's directory that holds one of the map's first few
 * sources (your files first, then dependencies) is taken as it, and every `webpack://` source of
 * the map that exists under it becomes that file. Sources not found on disk (webpack's runtime,
 * externals, a deployment without the sources) keep their `webpack://` name.
 */
function resolveWebpackSources(map: TraceMap, mapUrl: string): void {
  const sources = map.resolvedSources as Array<string | null>;
  const rels = sources.map((s) => (s?.startsWith('webpack://') ? WEBPACK_SOURCE.exec(s)?.[1] : undefined));
  if (!rels.some((r) => r !== undefined)) return;
  let mapDir: string;
  try {
    mapDir = dirname(fileURLToPath(mapUrl));
  } catch {
    return; // a map that is not a file: nothing to resolve against
  }
  let project = projectOfMapDir.get(mapDir);
  if (project === undefined) {
    project = findProject(mapDir, rels) ?? null;
    setBounded(projectOfMapDir, mapDir, project, 100);
  }
  if (project === null) return;
  for (let i = 0; i < sources.length; i++) {
    const rel = rels[i];
    if (rel === undefined || !isProjectPath(rel, true)) continue;
    const file = join(project, rel);
    if (isFile(file)) sources[i] = file;
  }
}

/** A path webpack could have read from the project (or, with `outside`, next to it): not its runtime nor an external. */
function isProjectPath(rel: string, outside: boolean): boolean {
  return !rel.startsWith('webpack/') && !/["' ]/.test(rel) && (outside || !rel.startsWith('../'));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The nearest directory at or above `from` that holds one of the first few of `rels` (your files
 * tried first, then dependencies'). A file of yours that has a map of its own is passed over: it is
 * generated (Next.js writes `.next/server/app/page.js` for `app/page.js`), not the source.
 */
function findProject(from: string, rels: ReadonlyArray<string | undefined>): string | undefined {
  const usable = rels.filter((r): r is string => r !== undefined && isProjectPath(r, false));
  const own = usable.filter((r) => !r.startsWith('node_modules/'));
  const candidates = [...own, ...usable.filter((r) => r.startsWith('node_modules/'))].slice(0, MAX_PROJECT_TRIES);
  for (const rel of candidates) {
    const generatedMayMirror = !rel.startsWith('node_modules/');
    let dir = from;
    for (let i = 0; i < MAX_PROJECT_DEPTH; i++) {
      const file = join(dir, rel);
      if (isFile(file) && !(generatedMayMirror && existsSync(`${file}.map`))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return undefined;
}
