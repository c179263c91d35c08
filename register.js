'use strict';
// Preload entry for `node --require aivory-monitor/register` and NODE_OPTIONS.
require('./dist/register.js');
