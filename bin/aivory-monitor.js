#!/usr/bin/env node
'use strict';
const { main } = require('../dist/cli.js');

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`aivory-monitor: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
