'use strict';
// Small statistics for noisy machines: medians and spreads, never means of a handful of rounds.

function sorted(xs) {
  return xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
}

function median(xs) {
  return percentile(xs, 50);
}

/** Linear-interpolated percentile, p in 0..100. NaN for no data. */
function percentile(xs, p) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

/** (max - min) / median, as a fraction: how far apart the rounds were. */
function spread(xs) {
  const s = sorted(xs);
  if (s.length < 2) return 0;
  const m = median(s);
  return m === 0 ? 0 : (s[s.length - 1] - s[0]) / m;
}

function range(xs) {
  const s = sorted(xs);
  return s.length ? [s[0], s[s.length - 1]] : [NaN, NaN];
}

module.exports = { median, percentile, spread, range };
