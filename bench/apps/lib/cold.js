'use strict';
// A module that is loaded but whose function the benchmarked routes never call: the
// "breakpoint set in another file" scenario puts its breakpoint here.
function rarelyCalled(input) {
  const doubled = input * 2; // BREAKPOINT cold
  return doubled + 1;
}

module.exports = { rarelyCalled };
