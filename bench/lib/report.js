'use strict';
// The printed table (Markdown, so it can be pasted as is) and the JSON file.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { RESULTS } = require('./paths');

const COLUMNS = [
  ['scenario', 'title'],
  ['without agent', 'without'],
  ['with agent', 'with'],
  ['ratio (range) / result', 'result'],
  ['p99 without', 'p99Without'],
  ['p99 with', 'p99With'],
  ['target', 'target'],
  ['', 'verdict'],
];

function escapeCell(s) {
  return String(s ?? '').replace(/\|/g, '\\|');
}

/** Rows as an aligned Markdown table. */
function formatTable(rows) {
  const cells = rows.map((r) => COLUMNS.map(([, key]) => escapeCell(r[key])));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(COLUMNS.map(([h]) => h)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function timestampName(date) {
  return date.toISOString().replace(/[:.]/g, '-');
}

/** Writes the run to bench/results/<timestamp>.json and returns the path. */
function saveResults(run) {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${timestampName(new Date(run.startedAt))}.json`);
  writeFileSync(file, JSON.stringify(run, null, 2) + '\n');
  return file;
}

module.exports = { formatTable, saveResults };
