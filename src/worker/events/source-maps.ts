/**
 * Generated position -> original position, so TypeScript (and bundled) apps see their own files
 * and lines. Maps come from the script's `sourceMappingURL` comment (inline data: URL or a file)
 * or a `.map` next to it. Apps run with `--enable-source-maps` already have mapped stacks: their
 * frames point at .ts files, which have no map, so mapping twice is a no-op.
 * Runs in the worker (sync reads never touch the app's thread); cached and bounded.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LEAST_UPPER_BOUND, originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';

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
}

const MAX_CACHED = 200;
const MAX_SCRIPT_BYTES = 20 * 1024 * 1024;
const MAX_MAP_BYTES = 50 * 1024 * 1024;
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

function decodeDataUrl(url: string): string | undefined {
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const meta = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
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
  if (path.includes('/node_modules/') || path.includes('\\node_modules\\')) return undefined;
  const code = readSmallFile(path, MAX_SCRIPT_BYTES);
  if (code === undefined) return undefined;
  const ref = lastMappingUrl(code);
  let text: string | undefined;
  let mapPath = path + '.map';
  if (ref?.startsWith('data:')) {
    text = decodeDataUrl(ref);
    mapPath = path;
  } else if (ref) {
    try {
      mapPath = ref.startsWith('file://') ? fileURLToPath(ref) : resolve(dirname(path), decodeURIComponent(ref));
    } catch {
      return undefined;
    }
    text = readSmallFile(mapPath, MAX_MAP_BYTES);
  } else {
    text = readSmallFile(mapPath, MAX_MAP_BYTES);
  }
  if (text === undefined) return undefined;
  try {
    return new TraceMap(text, pathToFileURL(mapPath).href);
  } catch {
    return undefined;
  }
}

export function createSourceMapper(): SourceMapper {
  const cache = new Map<string, TraceMap | null>();

  const mapFor = (path: string): TraceMap | undefined => {
    let m = cache.get(path);
    if (m === undefined) {
      m = loadMap(path) ?? null;
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
      cache.set(path, m);
    }
    return m ?? undefined;
  };

  return {
    map(file, line, column) {
      if (line < 1) return undefined;
      const path = scriptPath(file);
      if (!path) return undefined;
      const map = mapFor(path);
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
    },
  };
}
