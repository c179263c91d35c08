/**
 * `aivory-monitor check`: what a deployment wants to know before it relies on the agent. It
 * resolves the settings the agent would use here (the same environment and `.env`, with the same
 * warnings), then connects to the backend and registers as an agent does (through the same proxy
 * settings), and disconnects. Exit code 0 once the backend accepted the registration, 1 otherwise:
 * no key, a refused key, or no registration within the timeout (with the last reason the connection
 * gave). The key is never printed, not even in part.
 */
import { resolveConfig, type AgentConfig } from '../shared/config';
import { createAgentId } from '../shared/ids';
import { redactUrl, type Logger } from '../shared/log';
import { AGENT_VERSION } from '../shared/version';

const DEFAULT_TIMEOUT_S = 15;
const POLL_MS = 25;

interface Output {
  write(text: string): unknown;
}

function parseTimeout(args: readonly string[]): number | string {
  let seconds = DEFAULT_TIMEOUT_S;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--timeout(?:=(.*))?$/.exec(a);
    if (m === null) return `unknown option ${JSON.stringify(a)}`;
    const value = m[1] ?? args[++i];
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n) || n <= 0 || n > 600) return `--timeout needs a number of seconds, more than 0 and at most 600, not ${JSON.stringify(value ?? '')}`;
    seconds = n;
  }
  return seconds;
}

/** Whether a debugger of the app's own is asked for: then the agent leaves it alone, and locals are off. */
const OWN_DEBUGGER = /(^|\s)--inspect(-brk|-wait)?(=|\s|$)/;

/** What this process's Node and NODE_OPTIONS mean for the agent started here. */
function runtimeLines(env: NodeJS.ProcessEnv): string[] {
  const nodeOptions = env.NODE_OPTIONS ?? '';
  const { hasPreload } = require('./worker-env') as typeof import('./worker-env');
  return [
    `  preload:          ${hasPreload(nodeOptions) ? 'in NODE_OPTIONS' : 'not in NODE_OPTIONS (start your app with --import aivory-monitor/register, or use aivory-monitor run)'}`,
    `  locals:           ${
      !process.features.inspector
        ? 'unavailable: this Node.js has no inspector (errors are reported without locals)'
        : OWN_DEBUGGER.test(nodeOptions)
          ? 'off: NODE_OPTIONS opens a debugger of your own (--inspect), which the agent leaves alone'
          : 'available (the inspector is there)'
    }`,
  ];
}

function settingsLines(config: AgentConfig): string[] {
  const locals = config.maxPausesPerSecond === 0 ? 'off' : config.localsAfterFirstError ? `after the first error (${config.maxPausesPerSecond} a second)` : `on (${config.maxPausesPerSecond} a second)`;
  return [
    `  backend:          ${redactUrl(config.backendUrl)}`,
    `  API key:          ${config.enabled ? 'set' : 'not set'}`,
    `  environment:      ${config.environment}`,
    `  sampling rate:    ${config.samplingRate}`,
    `  exception locals: ${locals}`,
    `  breakpoints:      ${config.enableBreakpoints ? 'on' : 'off'}`,
    ...(config.ignoreErrors.length ? [`  ignored errors:   ${config.ignoreErrors.join(', ')}`] : []),
    ...(config.eventLoopBlockedMs > 0 ? [`  blocked loops:    reported from ${config.eventLoopBlockedMs} ms`] : []),
    ...(config.gitContext?.version || config.gitContext?.commit_short ? [`  release:          ${[config.gitContext.version, config.gitContext.commit_short].filter(Boolean).join(' @ ')}`] : []),
  ];
}

/** Runs the check; resolves with the exit code. */
export async function checkCommand(args: readonly string[], out: Output = process.stdout, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<number> {
  const timeout = parseTimeout(args);
  if (typeof timeout === 'string') {
    out.write(`aivory-monitor check: ${timeout}\nUsage: aivory-monitor check [--timeout SECONDS]\n`);
    return 1;
  }
  const { config, warnings } = resolveConfig({}, env, cwd);
  out.write(`aivory-monitor ${AGENT_VERSION} on Node.js ${process.version}: the settings here\n`);
  for (const line of [...settingsLines(config), ...runtimeLines(env)]) out.write(line + '\n');
  for (const w of warnings) out.write(`  warning: ${w}\n`);
  if (!config.enabled) {
    out.write('not checked: AIVORY_API_KEY is not set, so the agent is off\n');
    return 1;
  }

  // What the connection says on the way: the last reason is the one a failure gives.
  let lastReason = '';
  let refused = '';
  const logger: Logger = {
    warn: (m) => {
      if (m.includes('refused the API key')) refused = m;
      else out.write(`  warning: ${m}\n`);
    },
    debug: (m) => {
      // "closed (1006)" follows the failure that says why: it does not replace it.
      if (/^connection to .* closed \(/.test(m)) lastReason ||= m;
      else if (/^(cannot connect|connection to|no 'registered'|backend error)/.test(m)) lastReason = m;
    },
    debugEnabled: true,
    setDebug: () => undefined,
  };
  const agentId = createAgentId();
  out.write(`connecting to ${redactUrl(config.backendUrl)} ...\n`);
  const started = Date.now();
  const { createTransport } = require('../worker/transport') as typeof import('../worker/transport');
  // A single try: the agent's reconnect back-off would only make the answer come later.
  const transport = createTransport({ config: { ...config, reconnectBaseMs: 250, reconnectMaxMs: 1000 }, logger, agentId, agentVersion: AGENT_VERSION, handlers: { onMessage: () => undefined } });
  const deadline = started + timeout * 1000;
  let phase = transport.status().phase;
  while (phase !== 'registered' && phase !== 'stopped' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    phase = transport.status().phase;
  }
  const ms = Date.now() - started;
  await transport.close(1000).catch(() => undefined);
  if (phase === 'registered') {
    out.write(`registered as ${agentId} in ${ms} ms: this backend accepts the key, and an agent started here reports to it\n`);
    return 0;
  }
  if (refused !== '') out.write(`not registered: ${refused}\n`);
  else out.write(`not registered within ${timeout} s${lastReason ? `: ${lastReason}` : ''}\n`);
  return 1;
}
