/**
 * Generated position -> original position, so TypeScript (and bundled) apps see their own files
 * and lines. Maps come from the script's `sourceMappingURL` comment (inline data: URL or a file)
 * or a `.map` next to it. Apps run with `--enable-source-maps` already have mapped stacks: their
 * frames point at .ts files, which have no map, so mapping twice is a no-op.
 * Runs in the worker (sync reads never touch the app's thread); cached and bounded.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEAST_UPPER_BOUND, originalPositionFor, type TraceMap } from '@jridgewell/trace-mapping';
import { isDependency } from '../inspector/app-frames';
import { locateMap, MAX_MAP_BYTES, parseMap } from '../source-map-location';
import { setBounded } from '../../shared/bounded-map';

export interface MappedPosition {
  /** Absolute path of the original source (or its URL when it is not a file). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface SourceMapper {
  /** Maps a 1-based generated position of `file` (a path or file:// URL); undefined when unmapped. */
  map(file: string, line: number, column: number): MappedPosition | undefined;
  /**
   * Maps a 1-based position in the code V8 runs for `file` (a pause position): through the source
   * map V8 was given for that script when it had one, else like `map`.
   */
  mapScript(file: string, line: number, column: number): MappedPosition | undefined;
}

/** The sourceMappingURL V8 saw for the script loaded from `url`, if any. */
export type ScriptMapLookup = (url: string) => string | undefined;

const MAX_CACHED = 200;
const MAX_SCRIPT_BYTES = 20 * 1024 * 1024;
const MAPPING_URL = /\/\/[#@]\s*sourceMappingURL=([^\s'"]+)\s*$/;

/** Path of a script url: file:// URLs and absolute paths; undefined for node:, data:, eval... */
export function scriptPath(file: string): string | undefined {
  if (file.startsWith('file://')) {
    try {
      return fileURLToPath(file);
    } catch {
      return undefined;
    }
  }
  return isAbsolute(file) ? file : undefined;
}

function lastMappingUrl(code: string): string | undefined {
  // The comment is at the end; look only at the last lines (a big inline map is one long line).
  let end = code.length;
  for (let i = 0; i < 5 && end > 0; i++) {
    const start = code.lastIndexOf('\n', end - 1) + 1;
    const m = MAPPING_URL.exec(code.slice(start, end));
    if (m) return m[1];
    end = start - 1;
  }
  return undefined;
}

function readSmallFile(path: string, maxBytes: number): string | undefined {
  try {
    if (statSync(path).size > maxBytes) return undefined;
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function loadMap(path: string): TraceMap | undefined {
  if (isDependency(path)) return undefined;
  const code = readSmallFile(path, MAX_SCRIPT_BYTES);
  if (code === undefined) return undefined;
  return mapOfRef(path, lastMappingUrl(code));
}

/** The map a script's sourceMappingURL names (inline, or a file relative to the script); without one, `<script>.map`. */
function mapOfRef(path: string, ref: string | undefined): TraceMap | undefined {
  const where = locateMap(path, ref);
  if (!where) return undefined;
  const text = 'text' in where ? where.text : readSmallFile(where.file, MAX_MAP_BYTES);
  return text === undefined ? undefined : parseMap(text, where.mapUrl);
}

export function createSourceMapper(scriptMapOf?: ScriptMapLookup): SourceMapper {
  const cache = new Map<string, TraceMap | null>();

  const cached = (key: string, load: () => TraceMap | undefined): TraceMap | undefined => {
    let m = cache.get(key);
    if (m === undefined) {
      m = load() ?? null;
      setBounded(cache, key, m, MAX_CACHED);
    }
    return m ?? undefined;
  };

  const mapFor = (path: string): TraceMap | undefined => cached(path, () => loadMap(path));

  /** The map V8 was given for the script at `path` (keyed by its reference too: a reloaded script may differ). */
  const scriptMapFor = (file: string, path: string): TraceMap | undefined => {
    const ref = isDependency(path) ? undefined : scriptMapOf?.(file);
    if (!ref) return mapFor(path);
    return cached(`${path}\0${ref.length}:${ref.slice(-64)}`, () => mapOfRef(path, ref));
  };

  const through = (map: TraceMap | undefined, line: number, column: number): MappedPosition | undefined => {
    if (!map) return undefined;
    let pos;
    try {
      pos = originalPositionFor(map, { line, column: Math.max(0, column - 1) });
      // A column between segments maps to nothing with the default bias: try the segment after.
      if (pos.source === null) pos = originalPositionFor(map, { line, column: Math.max(0, column - 1), bias: LEAST_UPPER_BOUND });
    } catch {
      return undefined;
    }
    if (pos.source === null || pos.line === null) return undefined;
    return { file: scriptPath(pos.source) ?? pos.source, line: pos.line, column: (pos.column ?? 0) + 1 };
  };

  return {
    map(file, line, column) {
      const path = line >= 1 ? scriptPath(file) : undefined;
      return path ? through(mapFor(path), line, column) : undefined;
    },
    mapScript(file, line, column) {
      const path = line >= 1 ? scriptPath(file) : undefined;
      return path ? through(scriptMapFor(file, path), line, column) : undefined;
    },
  };
}
