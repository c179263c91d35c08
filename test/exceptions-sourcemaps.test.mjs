// TypeScript apps see their .ts files and lines: via `.map` files next to the compiled JS (plain
// maps, index maps with `sections` as bundlers such as Turbopack write them, and maps naming
// their sources `webpack://<name>/<path in the project>` as webpack does), and with Node's own
// --enable-source-maps (already-mapped stacks are not mapped twice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { startBackend, agentEnv } from './helpers/backend.mjs';
import { REGISTER_CJS, ROOT, runNode, startNode } from './helpers/process.mjs';
import { EXC_FIXTURES, frameNamed, markers, values } from './helpers/exceptions.mjs';

const TS_SOURCE = join(EXC_FIXTURES, 'ts', 'app.ts');

/**
 * Compiles the fixture with the repo's TypeScript into a temp dir, as `tsc --sourceMap --outDir`
 * would: app.js ending in a sourceMappingURL comment, app.js.map pointing back at the .ts file.
 * (The compiler API in-process: a `tsc` child takes seconds on a busy machine.)
 * `indexed`: the file is a bundle, a prelude line then the module, with an index map of one
 * section each. `webpack`: the map names its source as webpack does, relative to the project (the
 * fixture's directory), and the output goes to a directory inside it, as a `dist/` would.
 */
function compile(t, { indexed = false, webpack = false } = {}) {
  const ts = createRequire(import.meta.url)('typescript');
  const out = mkdtempSync(webpack ? join(dirname(TS_SOURCE), '.out-') : join(tmpdir(), 'aivory-ts-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = ts.transpileModule(readFileSync(TS_SOURCE, 'utf8'), {
    fileName: 'app.ts',
    reportDiagnostics: true,
    compilerOptions: { sourceMap: true, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, strict: true },
  });
  assert.deepEqual(r.diagnostics, []);
  const map = JSON.parse(r.sourceMapText);
  map.sources = [webpack ? `webpack://billing-app/./${basename(TS_SOURCE)}` : relative(out, TS_SOURCE)];
  const prelude = '// bundle prelude\n';
  const index = {
    version: 3,
    sources: [],
    sections: [
      { offset: { line: 0, column: 0 }, map: { version: 3, sources: [], names: [], mappings: '' } },
      { offset: { line: 1, column: 0 }, map },
    ],
  };
  writeFileSync(join(out, 'app.js'), indexed ? prelude + r.outputText : r.outputText);
  writeFileSync(join(out, 'app.js.map'), JSON.stringify(indexed ? index : map));
  assert.match(r.outputText, /\/\/# sourceMappingURL=app\.js\.map\s*$/);
  return join(out, 'app.js');
}

for (const [nodeMaps, indexed, webpack] of [[false, false, false], [true, false, false], [false, true, false], [false, false, true]]) {
  const how = nodeMaps ? ' (--enable-source-maps)' : indexed ? ' (bundled, index map)' : webpack ? ' (webpack:// sources)' : '';
  test(`TypeScript compiled with source maps reports .ts paths and lines${how}`, async (t) => {
    const compiled = compile(t, { indexed, webpack });
    const backend = await startBackend({ t });
    const lines = markers(TS_SOURCE);
    const env = agentEnv(backend, { PKG_ROOT: ROOT, READY_MODULE: join(EXC_FIXTURES, 'ready.cjs') });
    const args = [...(nodeMaps ? ['--enable-source-maps'] : []), '--require', REGISTER_CJS, compiled];
    const app = startNode(args, { env, t });
    const ev = await backend.waitFor('exception', (e) => e.context?.case === 'typescript');
    assert.equal(ev.exception_type, 'RangeError');
    const top = frameNamed(ev, 'totalOf');
    assert.equal(top.file_path, TS_SOURCE);
    assert.equal(top.file_name, 'app.ts');
    assert.equal(top.line_number, lines.throw);
    assert.equal(top.in_app, true);
    // The locals found their .ts frame through the maps (pause positions are generated ones).
    assert.equal(top.local_variables.line.children.sku.value, 'B-2');
    assert.equal(top.local_variables.totals.children.count.value, '1');
    const run = frameNamed(ev, 'run');
    assert.equal(run.class_name, 'Billing');
    assert.equal(run.line_number, lines.run);
    assert.deepEqual(Object.keys(values(run.local_variables)).sort(), ['id', 'invoice']);
    if (!nodeMaps) {
      // Mapped by the agent: the generated position is kept alongside.
      assert.equal(top.generated.file_path, compiled);
      assert.notEqual(top.generated.line_number, top.line_number);
    }
    assert.equal((await app.exited).code, 0, app.stderr());
  });
}

test('the fingerprint is the same with and without --enable-source-maps', async (t) => {
  const compiled = compile(t);
  const backend = await startBackend({ t });
  const env = agentEnv(backend, { PKG_ROOT: ROOT, READY_MODULE: join(EXC_FIXTURES, 'ready.cjs') });
  await runNode(['--require', REGISTER_CJS, compiled], { env });
  await runNode(['--enable-source-maps', '--require', REGISTER_CJS, compiled], { env });
  const first = await backend.waitFor('exception', (e) => e.context?.case === 'typescript');
  const second = await backend.waitFor('exception', (e) => e.context?.case === 'typescript' && e.agent_id !== first.agent_id);
  assert.equal(first.fingerprint, second.fingerprint);
});
