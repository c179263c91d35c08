'use strict';
// Runs every test/**/*.test.mjs with node's built-in runner (Node 20 takes no globs).
const { readdirSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');
const { spawnSync } = require('node:child_process');
const os = require('node:os');

const root = join(__dirname, '..');
function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (/\.test\.m?js$/.test(name)) out.push(p);
  }
  return out;
}
const only = process.argv.slice(2);
const files = [...find(join(root, 'test')), ...find(join(root, 'bench', 'test'))]
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => relative(root, f));
const concurrency = Math.max(2, Math.min(4, os.cpus().length * 2));
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
