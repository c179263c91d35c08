// Helpers shared by the exception tests: fixture paths, `// LINE:name` markers, reading Variables.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './process.mjs';

export const EXC_FIXTURES = join(ROOT, 'test', 'fixtures', 'exceptions');

/** 1-based line numbers of the `// LINE:<name>` markers of a fixture file. */
export function markers(file) {
  const out = {};
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    const m = /\/\/ LINE:(\w+)/.exec(text);
    if (m) out[m[1]] = i + 1;
  });
  return out;
}

/** The first stack frame whose method name is `name` (throws a readable error when missing). */
export function frameNamed(event, name) {
  const f = event.stack_trace.find((fr) => fr.method_name === name);
  if (!f) throw new Error(`no frame ${name} in ${event.stack_trace.map((x) => x.method_name).join(', ')}`);
  return f;
}

/** `{ name: value }` of a locals record (string renderings), for compact assertions. */
export function values(locals) {
  const out = {};
  for (const [k, v] of Object.entries(locals ?? {})) out[k] = v.value;
  return out;
}
