/**
 * The worker's catalogue of the app's loaded scripts (from Debugger.scriptParsed) and the search
 * for where a breakpoint goes: a script whose path ends like the request, or a script whose source
 * map has such a source.
 */
import { existsSync } from 'node:fs';
import type { Debugger } from 'node:inspector';
import { basename } from 'node:path';
import { scriptPath } from '../events/source-maps';
import { isCandidate, suffixScore, toPath, type PathRequest } from './paths';
import { findSource, loadSourceMap, type LoadedMap, type SourceMatch } from './source-maps';
import { setBounded } from '../../shared/bounded-map';

export interface ScriptInfo {
  readonly scriptId: string;
  readonly url: string;
  /** Slash path of the URL. */
  readonly path: string;
  readonly sourceMapURL?: string;
}

/** Where a breakpoint can be installed: a script, directly or through its source map. */
export type Target =
  | { kind: 'plain'; script: ScriptInfo; score: number }
  | { kind: 'mapped'; script: ScriptInfo; match: SourceMatch; score: number };

export interface ScriptCatalogue {
  add(script: Debugger.ScriptParsedEventDataType): ScriptInfo | undefined;
  get(scriptId: string): ScriptInfo | undefined;
  /** The script loaded from this path or URL (the last one, when a file was loaded twice). */
  byFile(pathOrUrl: string): ScriptInfo | undefined;
  /** The best targets among loaded scripts (several only on a tie); empty when none matches. */
  findTargets(req: PathRequest): Promise<Target[]>;
  /** How a newly parsed script matches, at least `threshold` trailing segments, or null. */
  matchScript(req: PathRequest, script: ScriptInfo, threshold: number): Promise<Target | null>;
  /** The source map of a script (cached); null when it has none. */
  mapOf(script: ScriptInfo): Promise<LoadedMap | null>;
}

/** Scripts remembered (as the session does). */
const MAX_SCRIPTS = 20_000;

/** Script URLs Node gives its own internals, or nothing. */
function ignorable(url: string): boolean {
  return url === '' || url.startsWith('node:') || url.startsWith('internal/') || url.startsWith('evalmachine.');
}

/**
 * The map of an app script that names none but has `<file>.map` next to it (as exception frames
 * are mapped): Next.js's route entries are such files, and must be known as generated code.
 */
function mapBeside(url: string, path: string): string | undefined {
  if (path.includes('/node_modules/')) return undefined;
  const file = scriptPath(url);
  try {
    return file !== undefined && existsSync(file + '.map') ? encodeURIComponent(basename(file)) + '.map' : undefined;
  } catch {
    return undefined;
  }
}

export function createScriptCatalogue(): ScriptCatalogue {
  const scripts = new Map<string, ScriptInfo>();
  const byPath = new Map<string, ScriptInfo>();
  const maps = new Map<string, Promise<LoadedMap | null>>();

  const mapOf = (script: ScriptInfo): Promise<LoadedMap | null> => {
    if (!script.sourceMapURL) return Promise.resolve(null);
    let p = maps.get(script.scriptId);
    if (!p) {
      p = loadSourceMap(script.url, script.sourceMapURL);
      maps.set(script.scriptId, p);
    }
    return p;
  };

  const mappedMatch = async (req: PathRequest, script: ScriptInfo): Promise<Target | null> => {
    if (!script.sourceMapURL || !isCandidate(req, script.path)) return null;
    const loaded = await mapOf(script);
    if (!loaded) return null;
    const match = findSource(loaded, req);
    return match ? { kind: 'mapped', script, match, score: match.score } : null;
  };

  /**
   * A script whose own path matches. When its source map also has the requested file (a loader
   * such as tsx runs app.ts compiled in memory under app.ts's own URL), lines go through the map.
   * A script with a source map that does not have it is generated code: it matches only through
   * its map (Next.js builds `.next/server/app/api/x/route.js`, an entry whose map is empty, and the
   * code of `app/api/x/route.js` is in a chunk whose map has it). Its own path counts when the map
   * cannot be read.
   */
  const directMatch = async (req: PathRequest, script: ScriptInfo, score: number): Promise<Target | null> => {
    const mapped = await mappedMatch(req, script);
    if (mapped && mapped.score >= score) return mapped;
    if (await mapOf(script)) return mapped;
    return { kind: 'plain', script, score };
  };

  return {
    add(s) {
      if (ignorable(s.url)) return undefined;
      const path = toPath(s.url);
      const info: ScriptInfo = { scriptId: s.scriptId, url: s.url, path, sourceMapURL: s.sourceMapURL || mapBeside(s.url, path) };
      // Apps that compile code at run time can create scripts without end: forget the oldest.
      if (scripts.size >= MAX_SCRIPTS) {
        const oldest = scripts.keys().next().value as string;
        scripts.delete(oldest);
        maps.delete(oldest);
      }
      scripts.set(s.scriptId, info);
      setBounded(byPath, info.path, info, MAX_SCRIPTS);
      return info;
    },
    get: (id) => scripts.get(id),
    byFile(pathOrUrl) {
      const info = byPath.get(toPath(pathOrUrl));
      return info && scripts.get(info.scriptId) === info ? info : undefined;
    },
    mapOf,
    async findTargets(req) {
      const last = (req.segments[req.segments.length - 1] as string).toLowerCase();
      const candidates: Array<Promise<Target | null>> = [];
      const seenUrls = new Set<string>();
      for (const script of scripts.values()) {
        if (!isCandidate(req, script.path)) continue;
        // The same file may be parsed more than once (vm contexts, re-evaluation): one target per URL.
        if (seenUrls.has(script.url)) continue;
        seenUrls.add(script.url);
        const score = script.path.toLowerCase().endsWith(last) ? suffixScore(req, script.path) : 0;
        if (score > 0) candidates.push(directMatch(req, script, score));
        else if (script.sourceMapURL) candidates.push(mappedMatch(req, script));
      }
      const found = (await Promise.all(candidates)).filter((t): t is Target => t !== null);
      const best = Math.max(0, ...found.map((t) => t.score));
      // Plain scripts first on a tie: they need no mapping.
      return found.filter((t) => t.score === best && best > 0).sort((a, b) => (a.kind === b.kind ? a.script.path.localeCompare(b.script.path) : a.kind === 'plain' ? -1 : 1));
    },
    async matchScript(req, script, threshold) {
      if (!isCandidate(req, script.path)) return null;
      const score = suffixScore(req, script.path);
      const target = score >= threshold ? await directMatch(req, script, score) : await mappedMatch(req, script);
      return target && target.score >= threshold ? target : null;
    },
  };
}
