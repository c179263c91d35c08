import { existsSync, readFileSync } from 'node:fs';
import nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from '../../shared/log';
import { satisfies } from './versions';

/**
 * The one in-thread module load hook (`module.registerHooks`), for frameworks the require hook
 * cannot reach or offers nothing to patch from outside: ES-module-only packages (NestJS 12), or
 * code whose error path is private (Hono's `#handleError`). Each instrumentation gets the source
 * of the files it names and adds statements at the end of existing lines, so that no line or
 * column of the framework's own code moves; the statements hand a value to the agent through a
 * global Symbol.for key and never throw.
 *
 * Registered only when the app has such a package, in a version an instrumentation supports
 * (looked up from the working directory and the main script's), and only where Node runs module
 * hooks on the app's own thread: every other app loads its modules exactly as before. And only
 * until the files it waits for have loaded: any load hook, even one that passes everything on,
 * slows each module load down (express and fastify's 267 modules: 171 -> 184 ms on Node 24).
 */
export interface SourceInstrumentation {
  name: string;
  /** The package whose installed version decides whether the hook is registered. */
  package: string;
  versions: string;
  /** The module formats (`module`, `commonjs`) of the files it rewrites. */
  formats: ReadonlySet<string>;
  /** Which of its files the URL is (a key such as `compose`), or undefined: a cheap test run for every module loaded. */
  fileOf(url: string): string | undefined;
  /** The keys of the files it waits for, given the app's directories: once each has loaded, it needs the hook no more. */
  expected(dirs: readonly string[]): ReadonlySet<string>;
  /** The new source of its file `file` (as `fileOf` named it) at `url`, or undefined to leave it as loaded. */
  rewrite(file: string, url: string, source: string): string | undefined;
  /** Sets up what the added statements call, once, when the hook is registered; returns its undo. */
  install(version: string, logger: Logger): () => void;
  /** Said in debug mode where Node cannot run the hook on the app's thread: what the app gets then. */
  withoutHook: string;
}

/**
 * A statement for rewritten code: calls the agent's function published at `key` (publishGlobal)
 * with `args`, and never throws, whatever the receiver does or whether the agent is there.
 */
export function handOffStatement(key: symbol, args: string): string {
  return `try{globalThis[Symbol.for(${JSON.stringify(key.description)})]?.(${args})}catch{}`;
}

/** Replaces the one match of the global `pattern` in `source`; undefined when there is not exactly one. */
export function replaceOnce(source: string, pattern: RegExp, replace: (match: RegExpExecArray) => string): string | undefined {
  const matches = [...source.matchAll(pattern)];
  if (matches.length !== 1) return undefined;
  const m = matches[0] as RegExpExecArray;
  return source.slice(0, m.index) + replace(m) + source.slice(m.index + m[0].length);
}

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | ArrayBufferView | null;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context?: unknown) => LoadResult;
interface HooksHandle {
  deregister(): void;
}
type RegisterHooks = (hooks: { load(url: string, context: unknown, nextLoad: NextLoad): LoadResult }) => HooksHandle;

/**
 * Whether `module.registerHooks` takes a load hook that passes CommonJS results on unchanged: its
 * check rejected their empty source until Node 22.22.3, 24.11.1, 25.1.0 and 26.0.0 (nodejs/node#59929).
 */
export function inThreadHooksWork(version = process.versions.node): boolean {
  const [major, minor, patch] = version.split('.').map((n) => parseInt(n, 10));
  if (major >= 26) return true;
  if (major === 25) return minor >= 1;
  if (major === 24) return minor > 11 || (minor === 11 && patch >= 1);
  if (major === 22) return minor > 22 || (minor === 22 && patch >= 3);
  return false;
}

/**
 * The version of `pkg` the app would load, if it has it: the first node_modules/<pkg> up from each
 * directory. Looked up with existsSync, which throws nothing: a failed require.resolve costs every
 * process without the package about half a millisecond.
 */
export function installedVersion(pkg: string, dirs: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const start of dirs) {
    for (let dir = start; !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      const file = join(dir, 'node_modules', ...pkg.split('/'), 'package.json');
      if (existsSync(file)) {
        try {
          const version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
          return typeof version === 'string' ? version : undefined;
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}

function sourceText(source: string | ArrayBuffer | ArrayBufferView): string {
  if (typeof source === 'string') return source;
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return new TextDecoder().decode(bytes);
}

/** Registers the load hook for the instrumentations whose package the app has; returns its uninstaller, or undefined. */
export function hookSources(instrumentations: readonly SourceInstrumentation[], logger: Logger, dirs: readonly string[] = appDirs()): (() => void) | undefined {
  const register = (nodeModule as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  const hooksWork = typeof register === 'function' && inThreadHooksWork();
  // Without the hook the packages are looked up only to say so (reading Hono's package.json takes about a millisecond).
  if (!hooksWork && !logger.debugEnabled) return undefined;
  const wanted: Array<{ inst: SourceInstrumentation; version: string }> = [];
  for (const inst of instrumentations) {
    const version = installedVersion(inst.package, dirs);
    if (version !== undefined && satisfies(version, inst.versions)) wanted.push({ inst, version });
  }
  if (wanted.length === 0) return undefined;
  if (!hooksWork || register === undefined) {
    for (const { inst, version } of wanted) logger.debug(`${inst.name} ${version} on Node ${process.version}: ${inst.withoutHook}`);
    return undefined;
  }
  const undo: Array<() => void> = [];
  const active: Array<{ inst: SourceInstrumentation; waiting: Set<string> }> = [];
  for (const { inst, version } of wanted) {
    try {
      const waiting = new Set(inst.expected(dirs));
      undo.push(inst.install(version, logger));
      active.push({ inst, waiting });
    } catch (err) {
      logger.debug(`could not instrument ${inst.name} ${version}: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  if (!active.some((a) => a.waiting.size > 0)) return () => undo.reverse().forEach((fn) => fn());
  let handle: HooksHandle | undefined;
  const deregister = (): void => {
    handle?.deregister();
    handle = undefined;
  };
  // After the hook call that loaded the last file waited for: not from inside the hook chain.
  const doneWith = (): void => {
    if (active.every((a) => a.waiting.size === 0)) {
      queueMicrotask(deregister);
      logger.debug('module load hook removed: every file it waited for has loaded');
    }
  };
  handle = register({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      if (result.source == null) return result;
      // No format: a `.js` file under a package.json without "type" (BullMQ's builds), required
      // as CommonJS; Node tells the two syntaxes apart later. The statements added suit both.
      const format = typeof result.format === 'string' ? result.format : 'commonjs';
      for (const { inst, waiting } of active) {
        if (!inst.formats.has(format)) continue;
        const file = inst.fileOf(url);
        if (file === undefined) continue;
        // A package's other build, loaded while the hook is still there, is rewritten too.
        const last = waiting.delete(file) && waiting.size === 0;
        let source: string | undefined;
        try {
          source = inst.rewrite(file, url, sourceText(result.source));
        } catch (err) {
          logger.debug(`could not instrument ${inst.name} in ${url}: ${(err as Error)?.message ?? String(err)}`);
        }
        if (last) doneWith();
        return source === undefined ? result : { ...result, source };
      }
      return result;
    },
  });
  logger.debug(`module load hook registered for ${active.map((a) => a.inst.name).join(', ')}`);
  return () => {
    deregister();
    for (const fn of undo.reverse()) fn();
  };
}

function appDirs(): string[] {
  const dirs = [process.cwd()];
  const main = process.argv[1];
  if (typeof main === 'string' && main !== '') dirs.push(dirname(main));
  return dirs;
}
