'use strict';
// Stands in for the `debug` package inside the bundled agent (require-in-the-middle logs through
// it). Same switch, DEBUG=<namespaces> with `*` wildcards and `-` exclusions, printed to stderr;
// without the original's terminal and colour detection, which costs milliseconds of start-up.
const { format } = require('node:util');

function matcher(spec) {
  const toRegExp = (p) => new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*?') + '$');
  const names = [];
  const skips = [];
  for (const part of spec.split(/[\s,]+/)) {
    if (!part) continue;
    if (part[0] === '-') skips.push(toRegExp(part.slice(1)));
    else names.push(toRegExp(part));
  }
  return (ns) => !skips.some((r) => r.test(ns)) && names.some((r) => r.test(ns));
}

function createDebug(namespace) {
  const spec = process.env.DEBUG;
  const on = typeof spec === 'string' && spec !== '' && matcher(spec)(namespace);
  const log = on ? (...args) => process.stderr.write(`${new Date().toISOString()} ${namespace} ${format(...args)}\n`) : () => {};
  log.enabled = on;
  log.namespace = namespace;
  return log;
}

module.exports = createDebug;
module.exports.default = createDebug;
