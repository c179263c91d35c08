/**
 * Where a script's source map is, for both users of maps in the worker: exception frames
 * (events/source-maps.ts, sync reads) and breakpoints (breakpoints/source-maps.ts, async reads).
 * Only local maps: an inline data: URL or a file; a map named by an http(s) URL is never fetched.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FlattenMap, type TraceMap } from '@jridgewell/trace-mapping';

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
    return FlattenMap(text, mapUrl);
  } catch {
    return undefined;
  }
}
