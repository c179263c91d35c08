// Checks on what the agent's load hook does to a framework's file: statements appended to the end
// of existing lines, so that no line or column of the framework's code moves.
import assert from 'node:assert/strict';
import * as acorn from 'acorn';

/**
 * Asserts that `out` is `source` with text appended to some of its lines only, and that it parses
 * (`sourceType`: 'script' or 'module'); returns the original text of the changed lines, trimmed.
 */
export function appendedLines(source, out, sourceType, label = '') {
  assert.ok(out, `rewritten ${label}`);
  const before = source.split('\n');
  const after = out.split('\n');
  assert.equal(after.length, before.length, `no line added ${label}`);
  const changed = before.filter((line, i) => {
    assert.ok(after[i].startsWith(line), `${label} line ${i + 1} keeps its text and columns`);
    return after[i] !== line;
  });
  acorn.parse(out, { ecmaVersion: 'latest', sourceType, allowReturnOutsideFunction: sourceType === 'script' });
  return changed.map((line) => line.trim());
}
