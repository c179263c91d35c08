// Pure parts of the breakpoints: condition validation, path matching, payload compilation, source maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './helpers/process.mjs';

const require = createRequire(import.meta.url);
const { validateCondition } = require('../dist/worker/breakpoints/condition.js');
const paths = require('../dist/worker/breakpoints/paths.js');
const { compileBreakpoint, resolveLimits } = require('../dist/worker/breakpoints/compile.js');
const maps = require('../dist/worker/breakpoints/source-maps.js');
const { conditionFor } = require('../dist/worker/breakpoints/gate.js');

test('conditions: read-only expressions pass', () => {
  for (const c of [
    'user.id === 42 && cart.total > 100',
    "name.startsWith('a') || tags.includes('x')",
    'typeof x === "undefined" ? false : x.length > 3',
    'Math.abs(a - b) < 0.5 && !done',
    'items[0].price >= 10n',
    'String(id) === "7"',
    'map.has(k) && set.size > 2',
    'obj?.deep?.value != null',
    'x instanceof Error',
    'Object.keys(o).length > 2',
    'get === set', // contextual words are ordinary names
  ]) {
    const r = validateCondition(c, 1000);
    assert.equal(r.ok, true, `${c}: ${r.message}`);
  }
});

test('conditions: writes, calls, code generation and escapes are rejected with a reason', () => {
  const cases = {
    'user.name = "x"': /assignment/,
    'count += 1': /assignment/,
    'i++': /increment/,
    'x ??= 1': /assignment/,
    'process.exit(1)': /process/,
    "require('fs')": /require/,
    "import('fs')": /import/,
    'globalThis.x': /globalThis/,
    "Function('return 1')()": /Function/,
    "eval('1')": /eval/,
    'new Date()': /new/,
    'delete o.x': /delete/,
    'arr.push(1)': /calling `push`/,
    'save()': /calling `save`/,
    'String(x)()': /only calls to read-only built-ins/,
    'a[0](1)': /only calls to read-only built-ins/,
    'x.constructor.constructor("return process")()': /constructor/,
    '(() => 1)()': /function/,
    'function () {}': /function/,
    '`${x}`': /template/,
    'x // y': /comments/,
    'x /* y */': /comments/,
    '\\u0065val("1")': /escapes/,
    '1); process.exit(1); (1': /unbalanced/,
    'a ? b : c; d': /statement/,
    'a)': /unbalanced/,
    '({ a: 1 })': /object literal/,
    '[...a]': /spread/,
    '': /empty/,
    'x +': /not a valid expression/,
    'x <!-- y': /comments/,
  };
  for (const [c, re] of Object.entries(cases)) {
    const r = validateCondition(c, 1000);
    assert.equal(r.ok, false, `${c} should be rejected`);
    assert.match(r.message, re, c);
  }
  assert.match(validateCondition('a'.repeat(1001), 1000).message, /longer than 1000/);
  assert.match(validateCondition(42, 1000).message, /string/);
});

test('conditions: the V8 condition wraps the expression so that it cannot escape', () => {
  const src = conditionFor('bp-1', 'user.id === 42');
  assert.match(src, /\.check\("bp-1", \(\) => \(\nuser\.id === 42\n\), null\)$/);
  assert.match(conditionFor('bp-"2', undefined), /\.check\("bp-\\"2", null, null\)$/);
  // In-line hits: each variable copied on its own, under a guard (a `let` before its line throws).
  const inline = conditionFor('bp-3', undefined, ['id', '__proto__', 'notDeclared']);
  assert.match(inline, /\.check\("bp-3", null, \(o\) => \{ try \{ o\["id"\] = id; \} catch \{\} try \{ o\["__proto__"\] = __proto__; \} catch \{\}/);
  const into = Object.create(null);
  const copy = new Function('id', '__proto__', `return ${inline.slice(inline.indexOf('(o) =>'), -1)}`)(7, 'p');
  copy(into);
  assert.deepEqual(Object.entries(into), [['id', 7], ['__proto__', 'p']], 'an unreadable name is skipped, the others copied as own keys');
});

test('frame names: what a pause would show at the line, read from the source', () => {
  const { frameNamesAt } = require('../dist/worker/breakpoints/frame-names.js');
  const src = [
    "'use strict';",
    "const express = require('express');",
    'function outer(p1, { p2, ...rest }) {',
    '  var hoisted = 1;',
    '  const unused = 2, usedOuter = 3;',
    '  return function handleUser(req, res) {',
    '    const id = Number(req.params.id);',
    '    if (id) {',
    '      let inBlock = usedOuter + p1;',
    '      for (const item of [1]) {',
    '        const marker = item; // HERE',
    '      }',
    '    }',
    '    const later = 1;',
    '    return res.send(later);',
    '  };',
    '}',
    'const top = 1; // TOP',
  ].join('\n');
  const at = (tag) => {
    const lines = src.split('\n');
    const line = lines.findIndex((l) => l.includes(`// ${tag}`));
    return frameNamesAt(src, line, lines[line].search(/\S/));
  };
  const here = at('HERE');
  assert.equal(here.functionName, 'handleUser');
  // innermost first; enclosing functions give only what the function uses; module level left out
  assert.deepEqual(here.names, ['marker', 'item', 'inBlock', 'id', 'later', 'req', 'res', 'usedOuter', 'p1']);
  // let/const whose declaration has not run when the line runs (the line's own included)
  assert.deepEqual(here.uninitialized, ['marker', 'later']);
  assert.deepEqual(at('TOP'), { names: ['express', 'outer', 'top'], uninitialized: ['top'], functionName: '' }, 'top-level code: the module\'s own names');
  // A line that creates a function: V8 breaks where the literal starts, in the enclosing function.
  const creating = 'function run(a) {\n  const b = a;\n  const cb = () => { const c = b; return c; };\n  return cb;\n}\n';
  assert.deepEqual(frameNamesAt(creating, 2, 13), { names: ['b', 'cb', 'a'], uninitialized: ['cb'], functionName: 'run' });
  assert.deepEqual(frameNamesAt(creating, 2, 21), { names: ['c', 'b'], uninitialized: ['c'], functionName: 'cb' }, 'inside the literal: its own frame');
  // In the middle of a declaration list, the declarators before the line's are set; a class is set once declared.
  const list = 'function g() {\n  const a = 1, b = a + 1;\n  class K {}\n  return [a, b, K];\n}\n';
  assert.deepEqual(frameNamesAt(list, 1, 19).uninitialized, ['b', 'K']);
  assert.deepEqual(frameNamesAt(list, 3, 2).uninitialized, []);
  const esm = frameNamesAt('import x from "y";\nexport const z = 1;\nfunction f(a) { return a + z + x; }\n', 2, 16);
  assert.deepEqual(esm, { names: ['a'], uninitialized: [], functionName: 'f' }, 'ES modules parse too');
  assert.equal(frameNamesAt('this is not javascript', 0, 0), undefined, 'unparsable: undefined (hits then pause)');
  assert.equal(frameNamesAt('let a = 1;', 5, 0), undefined, 'a line past the end');
});

test('paths: longest suffix, absolute, relative, file:// URLs', () => {
  const req = paths.parseRequestPath('src/routes/users.ts');
  assert.deepEqual(req.segments, ['src', 'routes', 'users.ts']);
  assert.equal(paths.suffixScore(req, '/app/src/routes/users.ts'), 3);
  assert.equal(paths.suffixScore(req, 'file:///app/lib/routes/users.ts'), 2);
  assert.equal(paths.suffixScore(req, '/app/users.js'), 0);
  assert.deepEqual(paths.parseRequestPath('./a/../b.js').segments, ['a', 'b.js']);
  assert.deepEqual(paths.parseRequestPath('file:///srv/my%20app/x.js').segments, ['srv', 'my app', 'x.js']);
  assert.deepEqual(paths.parseRequestPath('C:\\work\\app\\x.js').segments, ['C:', 'work', 'app', 'x.js']);
  assert.equal(paths.parseRequestPath('  / '), null);
  assert.equal(paths.pendingThreshold(paths.parseRequestPath('/home/dev/proj/src/a.js')), 2);
  assert.equal(paths.pendingThreshold(paths.parseRequestPath('a.js')), 1);
});

test('paths: library files match only when the request names node_modules', () => {
  const app = paths.parseRequestPath('index.js');
  assert.equal(paths.isCandidate(app, '/app/node_modules/x/index.js'), false);
  assert.equal(paths.isCandidate(app, '/app/index.js'), true);
  assert.equal(paths.isCandidate(app, 'node:internal/x'), false);
  const lib = paths.parseRequestPath('node_modules/x/index.js');
  assert.equal(paths.isCandidate(lib, '/app/node_modules/x/index.js'), true);
});

test('paths: the pending regex matches what V8 will see, and nothing else', () => {
  const re = new RegExp(paths.suffixUrlRegex(paths.parseRequestPath('routes/my users.js')));
  assert.ok(re.test('file:///app/src/routes/my%20users.js'));
  assert.ok(re.test('/app/src/routes/my users.js'));
  assert.ok(re.test('C:\\app\\routes\\my users.js'));
  assert.ok(!re.test('file:///app/src/myroutes/my%20users.js'));
  assert.ok(!re.test('file:///app/node_modules/x/routes/my%20users.js'));
  assert.ok(!re.test('file:///app/src/routes/my users.jsx'));
  const exact = new RegExp(paths.uniqueRegex(paths.exactUrlRegex('file:///a/b.js'), 'id-1'));
  assert.ok(exact.test('file:///a/b.js'));
  assert.ok(!exact.test('file:///a/b.jsx'));
  assert.notEqual(paths.uniqueRegex('x', 'id-1'), paths.uniqueRegex('x', 'id-2'));
  // V8's breakpoint ids embed the regex: ours are recognised by it (a pause may beat the set's answer).
  const v8Id = `2:5:4:${paths.uniqueRegex(paths.exactUrlRegex('file:///a/b.js'), 'bp-1.(x)|y')}`;
  assert.equal(paths.breakpointIdInV8Id(v8Id), 'bp-1.(x)|y');
  assert.equal(paths.breakpointIdInV8Id('2:5:4:^file:\\/\\/\\/a\\/b\\.js$'), undefined);
  assert.equal(paths.breakpointIdInV8Id('1:10:0:file:///a/b.js'), undefined);
});

test('compile: defaults, caps, expiry, and refusal of bad payloads without touching the input', () => {
  const limits = resolveLimits();
  const now = 1_000_000;
  const input = Object.freeze({ id: 'a', file_path: 'src/x.ts', line_number: 3 });
  const r = compileBreakpoint(input, limits, now);
  assert.equal(r.ok, true);
  assert.equal(r.breakpoint.maxHits, 1);
  assert.equal(r.breakpoint.expiresAt, now + 3600_000);
  assert.equal(r.breakpoint.condition, undefined);
  assert.ok(Object.isFrozen(r.breakpoint));
  const capped = compileBreakpoint({ id: 'b', file_path: 'x.js', line_number: 1, max_hits: 500, ttl_seconds: 2 }, limits, now);
  assert.equal(capped.breakpoint.maxHits, 50);
  assert.deepEqual(capped.notes, ['max_hits capped at 50']);
  assert.equal(capped.breakpoint.expiresAt, now + 2000);
  const at = compileBreakpoint({ id: 'c', file_path: 'x.js', line_number: 1, expires_at: new Date(now + 5000).toISOString() }, limits, now);
  assert.equal(at.breakpoint.expiresAt, now + 5000);
  for (const [payload, re] of [
    [{ file_path: 'x.js', line_number: 1 }, /id/],
    [{ id: 'd', line_number: 1 }, /file_path/],
    [{ id: 'd', file_path: 'x.js', line_number: 0 }, /line_number/],
    [{ id: 'd', file_path: 'x.js', line_number: 1.5 }, /line_number/],
    [{ id: 'd', file_path: 'x.js', line_number: 1, max_hits: 0 }, /max_hits/],
    [{ id: 'd', file_path: 'x.js', line_number: 1, ttl_seconds: -1 }, /ttl_seconds/],
    [{ id: 'd', file_path: 'x.js', line_number: 1, expires_at: 'soon' }, /expires_at/],
    [{ id: 'd', file_path: 'x.js', line_number: 1, condition: 'a = 1' }, /assignment/],
    [null, /id/],
  ]) {
    const bad = compileBreakpoint(payload, limits, now);
    assert.equal(bad.ok, false, JSON.stringify(payload));
    assert.match(bad.message, re);
  }
});

test('source maps: original line -> generated position, snapping to the next line with code, and back', async () => {
  const dist = join(ROOT, 'test', 'fixtures', 'breakpoints', 'app', 'ts', 'dist', 'calc.js');
  const loaded = await maps.loadSourceMap(pathToFileURL(dist).href, 'calc.js.map');
  assert.ok(loaded);
  const match = maps.findSource(loaded, paths.parseRequestPath('src/calc.ts'));
  assert.equal(match.score, 2);
  const at10 = maps.originalToGenerated(match, 10); // `const total = ...` in calc.ts
  assert.deepEqual([at10.line, at10.originalLine], [5, 10]); // 0-based line 5 of calc.js
  const at9 = maps.originalToGenerated(match, 9); // blank line: snaps to 10
  assert.equal(at9.originalLine, 10);
  assert.equal(maps.originalToGenerated(match, 500), null);
  const back = maps.generatedToOriginal(loaded, at10.line, at10.column);
  assert.equal(back.line, 10);
  assert.match(back.path, /\/ts\/src\/calc\.ts$/);
  assert.equal(await maps.loadSourceMap(pathToFileURL(dist).href, 'missing.map'), null);
  assert.equal(await maps.loadSourceMap(pathToFileURL(dist).href, 'https://example.com/x.map'), null);
});
