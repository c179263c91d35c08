'use strict';
// Number formatting for the table.

function rps(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

function ratio(n) {
  return Number.isFinite(n) ? n.toFixed(3) : '-';
}

function ms(n, digits = 1) {
  return Number.isFinite(n) ? `${n.toFixed(digits)} ms` : '-';
}

function mb(bytes) {
  return Number.isFinite(bytes) ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : '-';
}

function pct(fraction) {
  return Number.isFinite(fraction) ? `±${Math.round((fraction * 100) / 2)}%` : '';
}

/** "12,345 ±3%": a median and half its min-max spread. */
function rpsSpread(side) {
  return `${rps(side.reqPerSec)} ${pct(side.spread)}`.trim();
}

function verdict(ok) {
  return ok ? 'PASS' : 'FAIL';
}

module.exports = { rps, ratio, ms, mb, pct, rpsSpread, verdict };
