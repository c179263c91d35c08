import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { LIMITS } from '../limits';

export interface SourceLines {
  file: string;
  lines: { number: number; text: string }[];
}

/**
 * The source files the server may show: only paths that agents sent as a frame's file_path (so
 * the API can never be used to read arbitrary files), absolute, existing, and not too large.
 */
export class SourceFiles {
  readonly #known = new Set<string>();

  /** Learns the file_path of each frame in `frames` (a stack_trace as received; anything else is ignored). */
  learn(frames: unknown): void {
    if (!Array.isArray(frames)) return;
    for (const f of frames) {
      const p = f && typeof f === 'object' ? (f as { file_path?: unknown }).file_path : undefined;
      if (typeof p !== 'string' || p.length > LIMITS.maxPathLength || !isAbsolute(p) || this.#known.has(p)) continue;
      if (this.#known.size >= LIMITS.maxSourceFiles) this.#known.delete(this.#known.values().next().value as string);
      this.#known.add(p);
    }
  }

  /** Lines around `line` (1-based), or undefined when the file is not one an agent reported. */
  async read(file: string, line: number, context: number): Promise<SourceLines | undefined> {
    if (!this.#known.has(file)) return undefined;
    try {
      const st = await stat(file);
      if (!st.isFile() || st.size > LIMITS.maxSourceFileBytes) return undefined;
      const all = (await readFile(file, 'utf8')).split(/\r?\n/);
      const from = Math.max(1, line - context);
      const to = Math.min(all.length, line + context);
      const lines: SourceLines['lines'] = [];
      for (let n = from; n <= to; n++) lines.push({ number: n, text: all[n - 1] as string });
      return { file, lines };
    } catch {
      return undefined;
    }
  }
}
