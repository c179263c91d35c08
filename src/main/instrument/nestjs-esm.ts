import { existsSync, readFileSync } from 'node:fs';
import nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from '../../shared/log';
import { NEST_HANDLER_CLASSES, type NestHandlerClass } from './nestjs';
import { satisfies } from './versions';

/**
 * NestJS 12 and later ship ES modules only: no Nest file passes through `require`, so the require
 * hook never sees the exceptions handler classes (nestjs.ts, nestjs-transports.ts). Where Node
 * runs module hooks on the app's own thread (`module.registerHooks`), one load hook appends a
 * statement to each of Nest's exceptions handler modules that hands its class to the agent once
 * the module has run; the class is then patched as for Nest 8-11. Lines and columns of the files
 * are unchanged.
 *
 * The hook is registered only when the app's `@nestjs/core` (resolved from the working directory
 * or the main script's) is version 12 or later: every other app loads its modules exactly as
 * before. import-in-the-middle would do the same job by generating and parsing a re-exporting
 * module around Nest's; a reference to one class needs one appended statement.
 */

const VERSIONS = '>=12.0.0 <13.0.0';
const RECEIVER = Symbol.for('aivory-monitor.nestjs-exceptions-handler');

/** Appended to a handler module: runs at its end and never throws, whatever the module declares. */
function handOff(className: string): string {
  const name = JSON.stringify(className);
  return `\n;try { globalThis[Symbol.for(${JSON.stringify(RECEIVER.description)})]?.(${name}, typeof ${className} === 'function' ? ${className} : undefined); } catch {}\n`;
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
function inThreadHooksWork(version = process.versions.node): boolean {
  const [major, minor, patch] = version.split('.').map((n) => parseInt(n, 10));
  if (major >= 26) return true;
  if (major === 25) return minor >= 1;
  if (major === 24) return minor > 11 || (minor === 11 && patch >= 1);
  if (major === 22) return minor > 22 || (minor === 22 && patch >= 3);
  return false;
}

/**
 * The version of the `@nestjs/core` the app would load, if it has one: the first
 * node_modules/@nestjs/core up from each directory. Looked up with existsSync, which throws
 * nothing: a failed require.resolve costs every process without Nest about half a millisecond.
 */
function nestCoreVersion(dirs: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const start of dirs) {
    for (let dir = start; !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      const file = join(dir, 'node_modules', '@nestjs', 'core', 'package.json');
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

/** Registers the load hook when the app has NestJS 12+; returns its uninstaller, or undefined. */
export function hookNestEsm(logger: Logger, dirs: readonly string[] = appDirs()): (() => void) | undefined {
  const version = nestCoreVersion(dirs);
  if (version === undefined || !satisfies(version, VERSIONS)) return undefined;
  const register = (nodeModule as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (typeof register !== 'function' || !inThreadHooksWork()) {
    logger.debug(
      `NestJS ${version} is ES modules only; on Node ${process.version} its errors are reported from their 5xx answers, not those of its microservices and gateways (Node 22.22.3+, 24.11.1+ and 26+ report them all)`,
    );
    return undefined;
  }
  const patched: Array<{ handler: NestHandlerClass; cls: unknown }> = [];
  Object.defineProperty(globalThis, RECEIVER, {
    value: (className: unknown, cls: unknown) => {
      const handler = NEST_HANDLER_CLASSES.find((h) => h.className === className);
      if (handler?.patch(cls)) {
        patched.push({ handler, cls });
        logger.debug(`instrumented NestJS ${version} ${handler.className} (ES modules)`);
      }
    },
    enumerable: false,
    configurable: true,
    writable: false,
  });
  const handle = register({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      if (result.format !== 'module' || result.source == null) return result;
      const handler = NEST_HANDLER_CLASSES.find((h) => url.endsWith(`/${h.module}.js`));
      return handler ? { ...result, source: sourceText(result.source) + handOff(handler.className) } : result;
    },
  });
  logger.debug(`NestJS ${version}: load hook for its exceptions handlers registered`);
  return () => {
    handle.deregister();
    delete (globalThis as Record<symbol, unknown>)[RECEIVER];
    for (const { handler, cls } of patched.splice(0)) handler.unpatch(cls);
  };
}

function appDirs(): string[] {
  const dirs = [process.cwd()];
  const main = process.argv[1];
  if (typeof main === 'string' && main !== '') dirs.push(dirname(main));
  return dirs;
}
