'use strict';
// Command line of `npm run bench -- [options]`.

const SCENARIOS = [
  ['http', 'node:http hello world'],
  ['express', 'express 5 hello world'],
  ['fastify', 'fastify 5 hello world'],
  ['hono', 'Hono 4 hello world on @hono/node-server'],
  ['express-throw', 'express 5 route that throws on every request; an error handler answers 500'],
  ['express-await', 'express 5 route that awaits 20 times per request, as one calling a data layer does'],
  ['nextjs', 'a Next.js 16 page rendered on every request (builds the test fixture first; only with --only)'],
  ['grpc', 'a @grpc/grpc-js server answering a unary call (calls from a grpc-js client process)'],
  ['bp-elsewhere', 'express hello with a breakpoint set in another (loaded, never called) file'],
  ['bp-route', 'express hello with a breakpoint on the route: the round with the hits, then after it is exhausted'],
  ['bp-await', 'express-await with exception locals off: while a breakpoint is set elsewhere (the debugger on), then after it is removed'],
  ['bp-latency', 'breakpoint hit latency: line run -> snapshot at the backend, and how long the request is held'],
  ['blocked-watch', 'http hello with AIVORY_EVENT_LOOP_BLOCKED_MS=100 (the watch at its most frequent) against the agent without it (only with --only)'],
  ['startup', 'start-up time the preload adds to `node -e 0` (--import and --require)'],
  ['thread-start', "start-up time the preload adds to each of the app's worker threads"],
  ['thread-start-bp', "what a set breakpoint adds to the start of each of the app's worker threads (armed as it starts)"],
  ['memory', 'RSS of an app throwing errors at a fixed rate while the agent\'s backend is down'],
  ['instructions', 'main-thread instructions per request under valgrind (only with --only; about 10 minutes)'],
];

/** Scenarios a plain `npm run bench` leaves out: they run only when --only names them. */
const OPT_IN = new Set(['instructions', 'nextjs', 'blocked-watch']);

const HELP = `Usage: npm run bench -- [options]

Measures what the agent costs an app. Every scenario runs the same app twice, without and with
the agent (node --import aivory-monitor/register), loads both with autocannon from a separate
process in alternating rounds, and prints medians, their spread and the ratio with-agent /
without-agent next to the project's target. Results are also written to bench/results/.

Scenarios:
${SCENARIOS.map(([n, d]) => `  ${n.padEnd(14)} ${d}`).join('\n')}

Options:
  --quick               short rounds; finishes in about 2 minutes, figures are indicative only
  --only <names>        run only these scenarios (comma separated; may be repeated)
  --rounds <n>          measured rounds per side (default 6; quick 2)
  --duration <s>        seconds per round (default 5; quick 2)
  --warmup <s>          warm-up seconds per side (default 3; quick 1)
  --connections <n>     concurrent connections (default 50)
  --startup-runs <n>    runs per variant for start-up time (default 40; quick 10)
  --memory-seconds <s>  length of the memory run (default 60; quick 8)
  --error-rate <n>      errors per second in the memory run (default 1000)
  --hits <n>            breakpoint hits to time (default 200; quick 50)
  --backend <kind>      auto (default): the package's development server when available, else a
                        minimal recording backend; server; recorder. Breakpoint scenarios always
                        use the recording backend: it sends set_breakpoint and times each hit.
  --preload <file>      measure another preload module instead of this package's register
                        (loaded with --import; it gets the same AIVORY_* environment)
  --no-save             do not write bench/results/<timestamp>.json
  --no-pin              do not pin apps and the load generator to separate CPUs (taskset)
  --list                list the scenarios and exit
  -h, --help            this text

Reading the table: "ratio" is median(with) / median(without), with the range of the per-round
ratios in brackets; "±" is half the spread (max - min) of the rounds. On a busy machine the range
is wide: compare ratios from one run, not req/s across runs.`;

function fail(msg) {
  const err = new Error(msg);
  err.usage = true;
  throw err;
}

function positive(name, value, integer) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) fail(`${name} needs a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses argv into options; throws an Error with .usage = true on bad input. */
function parseOptions(argv) {
  const quick = argv.includes('--quick');
  const opts = {
    quick,
    only: [],
    rounds: quick ? 2 : 6,
    duration: quick ? 2 : 5,
    warmup: quick ? 1 : 3,
    connections: 50,
    startupRuns: quick ? 10 : 40,
    memorySeconds: quick ? 8 : 60,
    errorRate: 1000,
    hits: quick ? 50 : 200,
    hitSeconds: quick ? 15 : 45,
    backend: 'auto',
    preload: null,
    save: true,
    pin: true,
    help: false,
    list: false,
  };
  const numeric = {
    '--rounds': ['rounds', true],
    '--duration': ['duration', false],
    '--warmup': ['warmup', false],
    '--connections': ['connections', true],
    '--startup-runs': ['startupRuns', true],
    '--memory-seconds': ['memorySeconds', false],
    '--error-rate': ['errorRate', true],
    '--hits': ['hits', true],
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--quick') continue;
    if (flag === '-h' || flag === '--help') opts.help = true;
    else if (flag === '--list') opts.list = true;
    else if (flag === '--no-save') opts.save = false;
    else if (flag === '--no-pin') opts.pin = false;
    else if (flag === '--only') opts.only.push(...value().split(',').map((s) => s.trim()).filter(Boolean));
    else if (flag === '--preload') opts.preload = value();
    else if (flag === '--backend') {
      opts.backend = value();
      if (!['auto', 'server', 'recorder'].includes(opts.backend)) fail(`--backend is auto, server or recorder, got ${JSON.stringify(opts.backend)}`);
    } else if (numeric[flag]) {
      const [key, integer] = numeric[flag];
      opts[key] = positive(flag, value(), integer);
    } else fail(`unknown option ${JSON.stringify(raw)}`);
  }
  const names = SCENARIOS.map(([n]) => n);
  for (const n of opts.only) if (!names.includes(n)) fail(`unknown scenario ${JSON.stringify(n)} (scenarios: ${names.join(', ')})`);
  return opts;
}

module.exports = { OPT_IN, parseOptions, HELP, SCENARIOS };
