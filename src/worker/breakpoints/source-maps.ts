/**
 * Source maps of loaded scripts, read in the worker (never on the app's thread): original
 * (TypeScript, bundled) line -> generated position for installing, and back for reporting.
 */
import { readFile, stat } from 'node:fs/promises';
import {
  allGeneratedPositionsFor,
  GREATEST_LOWER_BOUND,
  LEAST_UPPER_BOUND,
  originalPositionFor,
  type TraceMap,
} from '@jridgewell/trace-mapping';
import { locateMap, MAX_MAP_BYTES, parseMap } from '../source-map-location';
import { suffixScore, toPath, type PathRequest } from './paths';
/** How far below the requested line we look for code before giving up. */
const MAX_SNAP_LINES = 200;

export interface LoadedMap {
  readonly map: TraceMap;
  /** Resolved sources as slash paths, index-aligned with map.sources. */
  readonly sourcePaths: readonly string[];
}

export interface SourceMatch {
  readonly loaded: LoadedMap;
  readonly sourceIndex: number;
  readonly score: number;
}

export interface GeneratedTarget {
  /** 0-based generated line and column. */
  readonly line: number;
  readonly column: number;
  /** 1-based original line that has code (>= the requested one). */
  readonly originalLine: number;
}

/** Reads and parses a script's source map; null when absent, unreadable or too large. Never throws. */
export async function loadSourceMap(scriptUrl: string, sourceMapURL: string): Promise<LoadedMap | null> {
  try {
    const where = locateMap(scriptUrl, sourceMapURL);
    if (!where) return null;
    let text: string;
    if ('text' in where) text = where.text;
    else {
      if ((await stat(where.file)).size > MAX_MAP_BYTES) return null;
      text = await readFile(where.file, 'utf8');
    }
    const map = parseMap(text, where.mapUrl);
    return map ? { map, sourcePaths: map.resolvedSources.map((s) => toPath(s ?? '')) } : null;
  } catch {
    return null;
  }
}

/** The map's source best matching the request (ties: the first). */
export function findSource(loaded: LoadedMap, req: PathRequest): SourceMatch | null {
  let best: SourceMatch | null = null;
  loaded.sourcePaths.forEach((path, sourceIndex) => {
    const score = suffixScore(req, path);
    if (score > 0 && (!best || score > best.score)) best = { loaded, sourceIndex, score };
  });
  return best;
}

/**
 * The first generated position for `line` (1-based, original) or, when that line has no code, for
 * the next original line that has some. Null when nothing maps within MAX_SNAP_LINES lines.
 */
export function originalToGenerated(match: SourceMatch, line: number): GeneratedTarget | null {
  const { map } = match.loaded;
  const source = map.sources[match.sourceIndex];
  if (source == null) return null;
  for (let l = line; l < line + MAX_SNAP_LINES; l++) {
    const all = allGeneratedPositionsFor(map, { source, line: l, column: 0, bias: LEAST_UPPER_BOUND });
    let first: { line: number; column: number } | null = null;
    for (const p of all) {
      if (p.line == null || p.column == null) continue;
      if (!first || p.line < first.line || (p.line === first.line && p.column < first.column)) first = { line: p.line, column: p.column };
    }
    // LEAST_UPPER_BOUND may answer with a mapping of a later line; only this line counts here.
    if (first && originalLineOf(map, first.line, first.column) === l) return { line: first.line - 1, column: first.column, originalLine: l };
  }
  return null;
}

function originalLineOf(map: TraceMap, line1: number, column: number): number | null {
  const o = originalPositionFor(map, { line: line1, column, bias: GREATEST_LOWER_BOUND });
  return o.line;
}

/** Original position (1-based line, 0-based column) of a generated 0-based position, or null. */
export function generatedToOriginal(loaded: LoadedMap, line0: number, column0: number): { path: string; line: number; column: number } | null {
  let o = originalPositionFor(loaded.map, { line: line0 + 1, column: column0, bias: GREATEST_LOWER_BOUND });
  if (o.source == null) o = originalPositionFor(loaded.map, { line: line0 + 1, column: column0, bias: LEAST_UPPER_BOUND });
  if (o.source == null || o.line == null) return null;
  const path = toPath(o.source);
  return { path, line: o.line, column: o.column ?? 0 };
}
