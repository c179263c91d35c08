/**
 * Dependencies bundled into the app's own files (esbuild, webpack, a Next.js build's chunks): a
 * bundle is one app script, so the `node_modules` blackbox pattern cannot tell a dependency's code
 * in it from the app's, and every throw a bundled dependency catches itself (a parser probing its
 * input, a library's feature test) paused the app and took from the locals budget as if the app
 * had thrown it. The bundle's source map says which of its code came from `node_modules`.
 *
 * When an exception pause has its first app frame in a script with a source map, that map is read
 * once, in the background after the pause (`learn`). The generated ranges that map to dependency
 * sources (`node_modules`, or ignore-listed by the bundler) are then blackboxed (`Debugger.setBlackboxedRanges`): V8 no longer pauses for throws
 * they catch themselves, as for any `node_modules` file, and the pause handler and the locals
 * capture treat frames there as a dependency's (`contains`).
 */
import type { Debugger } from 'node:inspector';
import { decodedMappings } from '@jridgewell/trace-mapping';
import { setBounded } from '../../shared/bounded-map';
import type { Logger } from '../../shared/log';
import { loadSourceMap, type LoadedMap } from '../breakpoints/source-maps';
import { isAppUrl, isDependency } from './app-frames';
import type { InspectorSession } from './session';

/** Scripts whose ranges are kept (a bundle or a chunk each: few in practice). */
const MAX_SCRIPTS = 1000;
/** Ranges per script: V8 gets them in one message; a bundle has one per dependency module or so. */
const MAX_RANGES = 20_000;

export interface BundledDependencies {
  /** Whether a position lies in a bundled dependency's code (known once its script's map was read). */
  contains(location: Debugger.Location): boolean;
  /** Reads the source map of `scriptId` once, in the background, and blackboxes its dependencies' code. */
  learn(scriptId: string): void;
}

/**
 * The generated ranges of a map that come from dependencies' sources, as flat
 * [startLine, startColumn, endLine, endColumn, ...] (0-based, end exclusive, sorted); undefined
 * when none does. A dependency's source is one under `node_modules`, or one the bundler put in the
 * map's `ignoreList` (third-party code by its account: Turbopack lists its runtime there too).
 * Segments without a source keep the range they are in.
 */
export function dependencyRanges(loaded: LoadedMap): Int32Array | undefined {
  const ignored = new Set(loaded.map.ignoreList ?? []);
  const fromDependency = loaded.sourcePaths.map((path, i) => ignored.has(i) || isDependency(path));
  if (!fromDependency.includes(true)) return undefined;
  const lines = decodedMappings(loaded.map);
  const out: number[] = [];
  let inDependency = false;
  for (let line = 0; line < lines.length && out.length < MAX_RANGES * 4; line++) {
    for (const segment of lines[line]) {
      if (segment.length < 4) continue;
      const dependency = fromDependency[segment[1] as number] === true;
      if (dependency === inDependency) continue;
      out.push(line, segment[0]);
      inDependency = dependency;
    }
  }
  // An open range ends after the last line; a cut-off list ends with the range it is in.
  if (out.length % 4 === 2) out.push(lines.length, 0);
  return out.length > 0 ? Int32Array.from(out) : undefined;
}

/** Whether (line, column) lies in one of `ranges` (dependencyRanges' layout). Binary search. */
export function inRanges(ranges: Int32Array, line: number, column: number): boolean {
  let lo = 0;
  let hi = ranges.length / 4 - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const l = ranges[mid * 4];
    const c = ranges[mid * 4 + 1];
    if (l < line || (l === line && c <= column)) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found < 0) return false;
  const endLine = ranges[found * 4 + 2];
  const endColumn = ranges[found * 4 + 3];
  return line < endLine || (line === endLine && column < endColumn);
}

export function createBundledDependencies(session: InspectorSession, logger: Logger): BundledDependencies {
  // scriptId -> its dependency ranges; null while its map is read, or when it has none.
  const known = new Map<string, Int32Array | null>();

  const read = async (scriptId: string, url: string): Promise<void> => {
    // After the pause: the app's thread must not wait for a file read and a map parse.
    await new Promise((resolve) => setImmediate(resolve));
    const loaded = await loadSourceMap(url, session.sourceMapURLOf(url) ?? '');
    const ranges = loaded ? dependencyRanges(loaded) : undefined;
    if (!ranges) return;
    const positions: Debugger.ScriptPosition[] = [];
    for (let i = 0; i < ranges.length; i += 2) positions.push({ lineNumber: ranges[i], columnNumber: ranges[i + 1] });
    await session.post('Debugger.setBlackboxedRanges', { scriptId, positions });
    if (known.has(scriptId)) known.set(scriptId, ranges);
    logger.debug(`${ranges.length / 4} range(s) of bundled dependencies in ${url} are treated as dependencies' code`);
  };

  return {
    contains(location) {
      const ranges = known.get(location.scriptId);
      return ranges ? inRanges(ranges, location.lineNumber, location.columnNumber ?? 0) : false;
    },
    learn(scriptId) {
      if (known.has(scriptId)) return;
      const url = session.scripts.get(scriptId);
      if (url === undefined || !isAppUrl(url)) return;
      setBounded(known, scriptId, null, MAX_SCRIPTS);
      read(scriptId, url).catch((err: Error) => logger.debug(`bundled dependencies of ${url}: ${err?.message}`));
    },
  };
}
