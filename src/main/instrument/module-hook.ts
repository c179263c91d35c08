import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hook } from 'require-in-the-middle';
import type { Logger } from '../../shared/log';
import type { ModuleInstrumentation } from './types';
import { satisfies } from './versions';

/**
 * The one require-in-the-middle hook for every module instrumentation. Limited to the files the
 * instrumentations name, so every other require goes through untouched (ritm only compares names).
 * ESM apps are covered too: the top-level `import express` is not a require, but the CommonJS files
 * express and router load internally (finalhandler, layers) are.
 */
export function hookModules(instrumentations: readonly ModuleInstrumentation[], logger: Logger, cwd = process.cwd()): () => void {
  const byModule = new Map(instrumentations.map((i) => [i.module, i]));
  const aliases = packageAliases(cwd, new Set(instrumentations.map((i) => packageOf(i.module))));
  const names = [...byModule.keys()];
  for (const [alias, real] of aliases) {
    for (const m of byModule.keys()) if (packageOf(m) === real) names.push(alias + m.slice(real.length));
  }
  const patched: Array<{ inst: ModuleInstrumentation; exports: unknown }> = [];

  const hook = new Hook(names, { internals: true }, (exports, name, basedir) => {
    const inst = byModule.get(canonicalName(name, aliases));
    if (!inst || !basedir) return exports;
    try {
      const version = packageVersion(basedir);
      if (!version || !satisfies(version, inst.versions)) {
        const other = inst.coveredElsewhere;
        if (version && other && satisfies(version, other.versions)) logger.debug(`${inst.name} ${version} is covered by ${other.by}`);
        else logger.debug(`${inst.name} ${version ?? '(unknown version)'} is not supported (${inst.versions}); left unpatched`);
        return exports;
      }
      const out = inst.patch(exports, version, logger) as typeof exports;
      patched.push({ inst, exports: out });
      logger.debug(`instrumented ${inst.name} ${version} (${inst.module})`);
      return out;
    } catch (err) {
      logger.debug(`could not instrument ${inst.name}: ${(err as Error)?.message ?? String(err)}`);
      return exports;
    }
  });

  return () => {
    hook.unhook();
    for (const { inst, exports } of patched.splice(0)) {
      try {
        inst.unpatch(exports);
      } catch {
        // leave it: the wrappers are pass-throughs once the agent is stopped
      }
    }
  };
}

/** `express/lib/router/layer` -> `express`; `@scope/pkg/lib/x` -> `@scope/pkg`. */
export function packageOf(module: string): string {
  const parts = module.split('/');
  return module.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** ritm's name with `/` separators, no `.js`, and an npm alias mapped back to the real package. */
function canonicalName(name: string, aliases: ReadonlyMap<string, string>): string {
  const clean = name.replace(/\\/g, '/').replace(/(\/index)?\.js$/, '');
  const pkg = packageOf(clean);
  const real = aliases.get(pkg);
  return real ? real + clean.slice(pkg.length) : clean;
}

function packageVersion(basedir: string): string | undefined {
  const pkg = JSON.parse(readFileSync(join(basedir, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : undefined;
}

/**
 * npm aliases (`"express4": "npm:express@^4"`) in the app's package.json for the packages we
 * instrument: the package then lives in node_modules/express4 and ritm reports it by that name.
 */
function packageAliases(cwd: string, packages: ReadonlySet<string>): Map<string, string> {
  const aliases = new Map<string, string>();
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return aliases;
  }
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = manifest[field];
    if (!deps || typeof deps !== 'object') continue;
    for (const [alias, spec] of Object.entries(deps as Record<string, unknown>)) {
      const m = typeof spec === 'string' ? /^npm:((?:@[^/@]+\/)?[^@]+)@/.exec(spec) : null;
      if (m && packages.has(m[1]) && alias !== m[1]) aliases.set(alias, m[1]);
    }
  }
  return aliases;
}
