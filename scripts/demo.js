#!/usr/bin/env node
'use strict';
/*
 * `npm run demo`: the dev backend + web UI, a sample express app under the agent, and requests
 * that make it fail in the ways the seeds describe; then a summary of what the backend received.
 *
 *   node scripts/demo.js [--port 19999] [--data DIR] [--once]
 *
 * --port   backend port (default 19999; 0 = any free port). A taken port falls back to a free one.
 * --data   keep the backend's data in DIR (default: a temp folder removed at exit).
 * --once   print the summary and exit: 0 when every expected exception arrived, else 1.
 */
const { existsSync, mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative } = require('node:path');
const { connectBackend } = require('./demo/backend-client');
const { childEnv, startChild, stopAll, killAllNow } = require('./demo/processes');

const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'bin', 'aivory-monitor.js');
const REGISTER = join(ROOT, 'register.mjs');
const APP = join(__dirname, 'demo', 'app.mjs');
const THUMBNAILS = join(__dirname, 'demo', 'thumbnails.mjs');
const DEV_KEY = 'ilscipio-dev-2024';
const DEFAULT_PORT = 19999;

/** What the demo makes the app do, and what the backend should receive for it. */
const SCENARIOS = [
  { label: 'validation error', type: 'ValueError', path: '/orders/validate?sku=coffee&quantity=abc' },
  { label: 'property of null', type: 'TypeError', path: '/users/7/profile' },
  { label: 'division by zero, with setContext/setUser', type: 'RangeError', path: '/stats/average?total=120&count=0' },
  { label: 'crash of a child process', type: 'SyntaxError', path: '/jobs/report' },
  { label: 'child process out of memory', type: 'HeapOutOfMemory', path: '/jobs/import' },
  { label: 'crash of a worker thread', type: 'ImageTooLargeError', path: '/images/photo-9/thumbnail?width=5000' },
  { label: 'event loop blocked for over 0.5 s', type: 'EventLoopBlocked', path: '/ledger/reconcile' },
];
/** The app's setting for blocked-loop reports (its /ledger/reconcile blocks for 1.2 s). */
const BLOCKED_LOOP_MS = '500';

function parseArgs(argv) {
  const opts = { port: DEFAULT_PORT, data: null, once: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--once') opts.once = true;
    else if (a === '--port') opts.port = Number(argv[++i]);
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--data') opts.data = argv[++i];
    else if (a.startsWith('--data=')) opts.data = a.slice(7);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('Usage: node scripts/demo.js [--port 19999] [--data DIR] [--once]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port needs a number from 0 to 65535');
  return opts;
}

const say = (line = '') => process.stdout.write(`${line}\n`);
const warn = (line) => process.stderr.write(`${line}\n`);

/** The line of `file` marked with `marker` (1-based). */
function markedLine(file, marker) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`no "${marker}" marker in ${file}`);
  return i + 1;
}

async function startServer(port, dataDir) {
  const args = [BIN, 'server', '--port', String(port), '--host', '127.0.0.1', '--data', dataDir];
  const onLine = (stream, line) => warn(`[server] ${line}`);
  const re = /listening on (https?:\/\/[^\s)]+)/;
  try {
    return await startChild(args, { env: childEnv(), cwd: ROOT, re, timeoutMs: 15000, onLine });
  } catch (err) {
    if (port !== 0 && /EADDRINUSE|in use|already|taken/i.test(`${err.stderr}${err.stdout}`)) {
      say(`Port ${port} is taken (another aivory-monitor server, or something else?): using a free port instead.`);
      return startChild([...args.slice(0, 2), '--port', '0', ...args.slice(4)], { env: childEnv(), cwd: ROOT, re, timeoutMs: 15000, onLine });
    }
    throw err;
  }
}

async function hit(appUrl, path) {
  try {
    const res = await fetch(new URL(path, appUrl), { signal: AbortSignal.timeout(15000) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return `failed (${err.message})`;
  }
}

function localsSummary(ev) {
  const frames = Array.isArray(ev.stack_trace) ? ev.stack_trace : [];
  const names = new Set(Object.keys(ev.local_variables || {}));
  let framesWithLocals = names.size ? 1 : 0;
  for (const f of frames) {
    const keys = Object.keys(f.local_variables || {});
    if (keys.length) framesWithLocals++;
    if (names.size === 0) for (const k of keys) names.add(k);
  }
  if (names.size === 0) return { ok: false, text: `locals: none${ev.locals_status ? ` (${ev.locals_status})` : ''}` };
  const list = [...names];
  return { ok: true, text: `locals: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}` };
}

function contextSummary(ev) {
  const ctx = ev.context || {};
  const parts = [];
  if (ctx.request && ctx.request.method) parts.push(`request ${ctx.request.method} ${ctx.request.route || ctx.request.url || ''}`.trim());
  if (ctx.user && (ctx.user.id || ctx.user.email)) parts.push(`user ${ctx.user.id || ctx.user.email}`);
  const custom = Object.keys(ctx).filter((k) => k !== 'request' && k !== 'user');
  if (custom.length) parts.push(`context ${custom.join(', ')}`);
  return parts.join('; ');
}

/**
 * The breakpoints the demo sets (max_hits 1), and the request that runs their line. One is in
 * the thumbnail worker thread's code: its breakpoint is installed once the agent armed the thread
 * (a second after the thread started: the crash scenario replaced it), so the request waits for that.
 */
const BREAKPOINTS = [
  { label: 'breakpoint', file: APP, marker: '// demo-breakpoint', route: '/checkout?apples=6' },
  { label: 'breakpoint in a worker thread', file: THUMBNAILS, marker: '// demo-thread-breakpoint', route: '/images/photo-3/thumbnail?width=1600', installedFirst: true },
];

async function runBreakpoint(backend, appUrl, appAgentId, { label, file, marker, route, installedFirst }) {
  const filePath = relative(ROOT, file).split('\\').join('/');
  const where = `${filePath}:${markedLine(file, marker)}`;
  let bp;
  try {
    bp = await backend.post('/api/breakpoints', { file_path: filePath, line_number: markedLine(file, marker), max_hits: 1, agent_id: appAgentId });
  } catch (err) {
    return `${label}: could not be set (${err.message})`;
  }
  const current = async () => (await backend.get('/api/breakpoints')).find((b) => b.id === bp.id);
  // 'received' means the agent got the message; installed/pending/error mean it acted on it
  const status = await backend.waitFor(async () => {
    const s = (await current())?.statuses?.[appAgentId];
    return s && s.status !== 'received' && !(installedFirst && s.status === 'pending') ? s : null;
  }, { events: ['breakpoint_status', 'breakpoint'], timeoutMs: installedFirst ? 10000 : 5000, label: `${label} status` }).catch(() => null);
  if (status && status.status === 'error') return `${label}: set on ${where}, the agent reported an error: ${status.message || 'no message'}`;
  await hit(appUrl, route);
  const hits = await backend.waitFor(async () => {
    const list = await backend.get(`/api/breakpoints/${encodeURIComponent(bp.id)}/hits`);
    return Array.isArray(list) && list.length ? list : null;
  }, { events: ['breakpoint_hit'], timeoutMs: status ? 10000 : 3000, label: `${label} hit` }).catch(() => null);
  if (hits) {
    const names = Object.keys(hits[0].local_variables || {});
    const thread = hits[0].context?.thread;
    return `${label}: hit on ${where} (${names.length ? `locals: ${names.slice(0, 6).join(', ')}` : 'no locals'}${thread ? `; worker thread ${thread.id}` : ''})`;
  }
  if (!status) return `${label}: set on ${where}, no hit (agent does not support breakpoints yet)`;
  return `${label}: set on ${where} (${status.status}), no hit within 10 s`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run demo does it)');
  const dataDir = opts.data || mkdtempSync(join(tmpdir(), 'aivory-demo-'));
  const tempData = !opts.data;
  let cleaning = null;
  const cleanup = () => {
    cleaning ??= stopAll().finally(() => {
      if (tempData) rmSync(dataDir, { recursive: true, force: true });
    });
    return cleaning;
  };
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      say('\nStopping the demo…');
      void cleanup().then(() => process.exit(0));
    });
  }

  let backend;
  try {
    const server = await startServer(opts.port, dataDir);
    const baseUrl = server.match[1].replace(/\/$/, '');
    const wsUrl = `${baseUrl.replace(/^http/, 'ws')}/ws/monitor/agent`;
    backend = connectBackend(baseUrl);
    server.child.on('exit', (code) => {
      if (!cleaning) {
        warn(`The backend exited unexpectedly (${code}).`);
        void cleanup().then(() => process.exit(1));
      }
    });
    say(`Dev backend and UI: ${baseUrl}/`);

    const before = new Set((await backend.get('/api/agents')).map((a) => a.agent_id));
    const appEnv = childEnv({ AIVORY_API_KEY: DEV_KEY, AIVORY_BACKEND_URL: wsUrl, AIVORY_ENVIRONMENT: 'demo', AIVORY_EVENT_LOOP_BLOCKED_MS: BLOCKED_LOOP_MS, PORT: '0' });
    const app = await startChild(['--import', REGISTER, APP], {
      env: appEnv, cwd: ROOT, re: /listening on (http:\/\/\S+)/, timeoutMs: 15000,
      onLine: (stream, line) => (stream === 'stderr' ? warn(`[app] ${line}`) : say(`[app] ${line}`)),
    });
    const appUrl = app.match[1];
    app.child.on('exit', (code) => {
      if (!cleaning) warn(`The demo app exited unexpectedly (${code}).`);
    });
    say(`Sample app (express, under the agent): ${appUrl}/`);

    const agent = await backend.waitFor(async () => (await backend.get('/api/agents')).find((a) => a.connected && !before.has(a.agent_id)),
      { events: ['agent'], timeoutMs: 15000, label: 'the app’s agent to register' });
    say(`Agent registered: ${agent.agent_id} (${agent.runtime} ${agent.runtimeVersion}, agent ${agent.agent_version})`);

    for (const s of SCENARIOS) say(`  GET ${s.path} -> ${await hit(appUrl, s.path)}   (${s.label})`);

    const wanted = new Set(SCENARIOS.map((s) => s.type));
    const groups = await backend.waitFor(async () => {
      const list = await backend.get('/api/exceptions');
      return SCENARIOS.every((s) => list.some((g) => g.exception_type === s.type)) ? list : null;
    }, { events: ['exception'], timeoutMs: 20000, label: 'the exceptions' }).catch(() => null);
    const received = groups || (await backend.get('/api/exceptions'));

    const bpTexts = [];
    for (const bp of BREAKPOINTS) bpTexts.push(await runBreakpoint(backend, appUrl, agent.agent_id, bp));

    const agents = await backend.get('/api/agents');
    const events = received.reduce((n, g) => n + (g.count || 0), 0);
    say('');
    say('Summary');
    say(`  UI:          ${baseUrl}/`);
    const connected = agents.filter((a) => a.connected).length;
    say(`  agents:      ${agents.length} registered, ${connected} still connected`);
    say(`  exceptions:  ${events} ${events === 1 ? 'event' : 'events'} in ${received.length} ${received.length === 1 ? 'group' : 'groups'}`);
    let allArrived = true;
    for (const s of SCENARIOS) {
      const g = received.find((x) => x.exception_type === s.type);
      if (!g) {
        allArrived = false;
        say(`    ✗ ${s.type.padEnd(18)} missing (${s.label})`);
        continue;
      }
      let detail = '';
      try {
        const ev = await backend.get(`/api/events/${encodeURIComponent(g.last_event_id)}`);
        const ctx = contextSummary(ev);
        detail = `   ${localsSummary(ev).text}${ev.mechanism ? `; via ${ev.mechanism}` : ''}${ctx ? `; ${ctx}` : ''}`;
      } catch (err) {
        detail = `   (event not readable: ${err.message})`;
      }
      say(`    ✓ ${s.type.padEnd(18)} ${JSON.stringify(g.message)} ×${g.count}${detail}`);
    }
    const others = received.filter((g) => !wanted.has(g.exception_type));
    for (const g of others) say(`    + ${String(g.exception_type).padEnd(18)} ${JSON.stringify(g.message)} ×${g.count}`);
    for (const text of bpTexts) say(`  ${text}`);
    say('');
    if (!allArrived) say('Some expected exceptions did not reach the backend: this build of the agent may not capture them yet.');

    if (opts.once) {
      backend.close();
      await cleanup();
      process.exit(allArrived ? 0 : 1);
    }
    say(`Open ${baseUrl}/ to explore. Make more errors with e.g. curl ${appUrl}/users/7/profile`);
    say('Press Ctrl-C to stop.');
  } catch (err) {
    warn(`demo failed: ${err.message}`);
    const detail = [err.stderr, err.stdout].filter(Boolean).join('\n').trim();
    if (detail) warn(detail.split('\n').slice(-15).join('\n'));
    backend?.close();
    await cleanup();
    process.exit(1);
  }
}

main().catch((err) => {
  warn(`demo failed: ${err.message}`);
  killAllNow();
  process.exit(1);
});
