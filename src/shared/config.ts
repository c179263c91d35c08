import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { types } from 'node:util';
import { DEFAULTS } from './defaults';
import { resolveGitContext } from './git-context';
import { ignoreEntryError, splitIgnoreList } from './ignore-errors';
import type { GitContext } from './protocol';

/** Options accepted by `init()`. Each overrides its `AIVORY_*` variable. */
export interface InitOptions {
  /** AIVORY_API_KEY. Required: without it monitoring is off. */
  apiKey?: string;
  /** AIVORY_BACKEND_URL, a ws:// or wss:// URL. Default `wss://api.aivory.net/ws/agent`. */
  backendUrl?: string;
  /** AIVORY_ENVIRONMENT. Default `production`. */
  environment?: string;
  /** AIVORY_SAMPLING_RATE, 0..1. Default 1. */
  samplingRate?: number;
  /** AIVORY_MAX_DEPTH. Default 10. */
  maxCaptureDepth?: number;
  /** AIVORY_MAX_STRING_LENGTH. Default 1000. */
  maxStringLength?: number;
  /** AIVORY_MAX_COLLECTION_SIZE. Default 100. */
  maxCollectionSize?: number;
  /** AIVORY_ENABLE_BREAKPOINTS. Default true. */
  enableBreakpoints?: boolean;
  /** AIVORY_DEBUG. Default false. */
  debug?: boolean;
  /** AIVORY_RELEASE: `name@1.2.3` or a commit sha. */
  release?: string;
  /** AIVORY_HEARTBEAT_INTERVAL_MS. Default 30000. */
  heartbeatIntervalMs?: number;
  /** AIVORY_MAX_QUEUE_LENGTH: messages kept while disconnected. Default 1000. */
  maxQueueLength?: number;
  /** AIVORY_MAX_QUEUE_BYTES: bytes kept while disconnected. Default 10 MiB. */
  maxQueueBytes?: number;
  /** AIVORY_RECONNECT_BASE_MS: first reconnect delay ceiling (doubles per failure, full jitter). Default 1000. */
  reconnectBaseMs?: number;
  /** AIVORY_RECONNECT_MAX_MS: largest reconnect delay ceiling. Default 60000. */
  reconnectMaxMs?: number;
  /** AIVORY_EXIT_FLUSH_TIMEOUT_MS: how long a crash waits for delivery. Default 2000. */
  exitFlushTimeoutMs?: number;
  /** AIVORY_MAX_PAUSES_PER_SECOND: exception captures with locals per second. Default 10. */
  maxPausesPerSecond?: number;
  /** AIVORY_LOCALS_AFTER_FIRST_ERROR: attach the debugger when the first error is reported, not at start. Default false. */
  localsAfterFirstError?: boolean;
  /** AIVORY_EVENT_LOOP_BLOCKED_MS: report the event loop blocked at least this long (ms), with the blocking code's stack and locals. Default 0 (off); at least 100. */
  eventLoopBlockedMs?: number;
  /** AIVORY_REDACT: extra names to redact (comma separated in the env). */
  redactNames?: string[];
  /**
   * AIVORY_IGNORE_ERRORS: errors not to report: a type (`AbortError`), a `code` (`ECONNRESET`), or
   * a regular expression tested against `Type: message` (comma separated in the env, where a
   * regular expression is written `/.../flags`).
   */
  ignoreErrors?: Array<string | RegExp>;
}

/** The validated configuration every part of the agent reads. Frozen; structured-clone safe. */
export interface AgentConfig {
  readonly enabled: boolean;
  readonly apiKey: string;
  readonly backendUrl: string;
  readonly environment: string;
  readonly samplingRate: number;
  readonly maxCaptureDepth: number;
  readonly maxStringLength: number;
  readonly maxCollectionSize: number;
  readonly enableBreakpoints: boolean;
  readonly debug: boolean;
  readonly heartbeatIntervalMs: number;
  readonly maxQueueLength: number;
  readonly maxQueueBytes: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly exitFlushTimeoutMs: number;
  readonly maxPausesPerSecond: number;
  readonly localsAfterFirstError: boolean;
  readonly eventLoopBlockedMs: number;
  readonly maxPausesPerSitePerMinute: number;
  readonly maxEventsPerFingerprintPerMinute: number;
  readonly redactNames: readonly string[];
  /** Entries as text: names, and regular expressions written `/.../flags` (ignore-errors.ts). */
  readonly ignoreErrors: readonly string[];
  readonly gitContext?: GitContext;
}

export interface ResolvedConfig {
  config: AgentConfig;
  /** One line each, to print on stderr. Never contains the API key. */
  warnings: string[];
}

type Env = Record<string, string | undefined>;

interface Spec {
  env: string;
  option: keyof InitOptions;
  snake?: string;
}

type Source = { value: unknown; from: string };

/** Reads the AIVORY_* keys of `.env` in `cwd`, without touching process.env. Missing file: empty. */
export function readDotenv(cwd: string): Env {
  let text: string;
  try {
    text = readFileSync(join(cwd, '.env'), 'utf8');
  } catch {
    return {};
  }
  const out: Env = {};
  if (!text.includes('AIVORY_')) return out;
  try {
    // Loaded only when a .env mentions us: most apps never pay for the parser at start-up.
    const { parse } = require('dotenv') as typeof import('dotenv');
    const parsed = parse(text);
    for (const key of Object.keys(parsed)) {
      if (key.startsWith('AIVORY_')) out[key] = parsed[key];
    }
  } catch {
    // A broken .env is the app's business; we just read nothing from it.
  }
  return out;
}

function pick(spec: Spec, options: InitOptions, env: Env, dotenv: Env): Source | undefined {
  const opts = options as Record<string, unknown>;
  if (opts[spec.option] !== undefined) return { value: opts[spec.option], from: `init option ${spec.option}` };
  if (spec.snake && opts[spec.snake] !== undefined) return { value: opts[spec.snake], from: `init option ${spec.snake}` };
  if (env[spec.env] !== undefined && env[spec.env] !== '') return { value: env[spec.env], from: spec.env };
  if (dotenv[spec.env] !== undefined && dotenv[spec.env] !== '') return { value: dotenv[spec.env], from: `${spec.env} (.env)` };
  return undefined;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/** A number (or numeric string) within [min, max], integral when asked; undefined otherwise. */
export function parseNumberSetting(value: unknown, min: number, max: number, integer: boolean): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n)) ? n : undefined;
}

/** true/false/1/0/yes/no/on/off in any case, or a boolean; undefined otherwise. */
export function parseBooleanSetting(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const w = value.trim().toLowerCase();
  return TRUE_WORDS.has(w) ? true : FALSE_WORDS.has(w) ? false : undefined;
}

/** Ranges of the numeric settings, shared by env/init() validation and the backend's `configure`. */
export const SETTING_RANGES = Object.freeze({
  samplingRate: [0, 1, false],
  maxCaptureDepth: [0, 100, true],
  maxStringLength: [1, 1_000_000, true],
  maxCollectionSize: [1, 100_000, true],
  // then usableBlockedLoopThreshold
  eventLoopBlockedMs: [0, 3_600_000, true],
} as const);

/**
 * The blocked-loop threshold used for a valid setting (from the environment, init() or the
 * backend's `configure`): 0 turns it off; below eventLoopBlockedMinMs, ordinary work would count
 * as blocking, so that minimum is used.
 */
export function usableBlockedLoopThreshold(ms: number): number {
  return ms > 0 && ms < DEFAULTS.eventLoopBlockedMinMs ? DEFAULTS.eventLoopBlockedMinMs : ms;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '...' : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/**
 * Builds the agent's configuration: init() options > process env > AIVORY_* keys of ./.env > defaults.
 * Never throws; every rejected value yields one warning naming it and the value used instead.
 */
export function resolveConfig(options: InitOptions = {}, env: Env = process.env, cwd: string = process.cwd()): ResolvedConfig {
  const warnings: string[] = [];
  const dotenv = readDotenv(cwd);
  const safeOptions: InitOptions = options !== null && typeof options === 'object' ? options : {};

  const str = (spec: Spec, fallback: string): string => {
    const s = pick(spec, safeOptions, env, dotenv);
    if (!s) return fallback;
    if (typeof s.value === 'string' && s.value.trim() !== '') return s.value.trim();
    warnings.push(`${s.from}=${describe(s.value)} is not a non-empty string; using ${JSON.stringify(fallback)}`);
    return fallback;
  };
  const num = (spec: Spec, fallback: number, min: number, max: number, integer: boolean): number => {
    const s = pick(spec, safeOptions, env, dotenv);
    if (!s) return fallback;
    const n = parseNumberSetting(s.value, min, max, integer);
    if (n !== undefined) return n;
    const what = integer ? `an integer from ${min} to ${max}` : `a number from ${min} to ${max}`;
    warnings.push(`${s.from}=${describe(s.value)} is not ${what}; using ${fallback}`);
    return fallback;
  };
  const bool = (spec: Spec, fallback: boolean): boolean => {
    const s = pick(spec, safeOptions, env, dotenv);
    if (!s) return fallback;
    const b = parseBooleanSetting(s.value);
    if (b !== undefined) return b;
    warnings.push(`${s.from}=${describe(s.value)} is not a boolean (true/false/1/0/yes/no); using ${fallback}`);
    return fallback;
  };

  // The key is never described in a warning: it is a secret.
  let apiKey = '';
  const keySource = pick({ env: 'AIVORY_API_KEY', option: 'apiKey', snake: 'api_key' }, safeOptions, env, dotenv);
  if (keySource) {
    if (typeof keySource.value === 'string' && keySource.value.trim() !== '') apiKey = keySource.value.trim();
    else warnings.push(`${keySource.from} is not a non-empty string; monitoring is off`);
  }

  let backendUrl = str({ env: 'AIVORY_BACKEND_URL', option: 'backendUrl', snake: 'backend_url' }, DEFAULTS.backendUrl);
  if (!/^wss?:\/\/[^\s/]+/i.test(backendUrl) || !isParsableUrl(backendUrl)) {
    warnings.push(`AIVORY_BACKEND_URL ${describe(redactForWarning(backendUrl))} is not a ws:// or wss:// URL; using ${DEFAULTS.backendUrl}`);
    backendUrl = DEFAULTS.backendUrl;
  }

  let redactNames: string[] = [...DEFAULTS.redactNames];
  const redact = pick({ env: 'AIVORY_REDACT', option: 'redactNames', snake: 'redact_names' }, safeOptions, env, dotenv);
  if (redact) {
    if (Array.isArray(redact.value) && redact.value.every((v) => typeof v === 'string')) redactNames = redact.value as string[];
    else if (typeof redact.value === 'string') redactNames = redact.value.split(',').map((s) => s.trim()).filter(Boolean);
    else warnings.push(`${redact.from}=${describe(redact.value)} is not a list of names; using none`);
  }

  const ignoreErrors: string[] = [];
  const ignore = pick({ env: 'AIVORY_IGNORE_ERRORS', option: 'ignoreErrors', snake: 'ignore_errors' }, safeOptions, env, dotenv);
  if (ignore) {
    const v = ignore.value;
    const entries =
      typeof v === 'string'
        ? splitIgnoreList(v)
        : Array.isArray(v) && v.every((e) => typeof e === 'string' || types.isRegExp(e))
          ? v.map((e) => (typeof e === 'string' ? e.trim() : regexEntry(e as RegExp))).filter(Boolean)
          : undefined;
    if (entries === undefined) warnings.push(`${ignore.from}=${describe(v)} is not a list of error types, codes or /regular expressions/; ignoring none`);
    for (const entry of entries ?? []) {
      const error = ignoreEntryError(entry);
      if (error === undefined) ignoreErrors.push(entry);
      else warnings.push(`${ignore.from}: ${describe(entry)} is not a usable regular expression (${error}); left out`);
    }
  }

  const blockedSpec: Spec = { env: 'AIVORY_EVENT_LOOP_BLOCKED_MS', option: 'eventLoopBlockedMs', snake: 'event_loop_blocked_ms' };
  const blockedSetting = num(blockedSpec, DEFAULTS.eventLoopBlockedMs, ...SETTING_RANGES.eventLoopBlockedMs);
  const eventLoopBlockedMs = usableBlockedLoopThreshold(blockedSetting);
  if (eventLoopBlockedMs !== blockedSetting) {
    warnings.push(`${pick(blockedSpec, safeOptions, env, dotenv)?.from}=${blockedSetting} is below ${eventLoopBlockedMs} ms; using ${eventLoopBlockedMs}`);
  }

  const config: AgentConfig = Object.freeze({
    enabled: apiKey !== '',
    apiKey,
    backendUrl,
    environment: str({ env: 'AIVORY_ENVIRONMENT', option: 'environment' }, DEFAULTS.environment),
    samplingRate: num({ env: 'AIVORY_SAMPLING_RATE', option: 'samplingRate', snake: 'sampling_rate' }, DEFAULTS.samplingRate, ...SETTING_RANGES.samplingRate),
    maxCaptureDepth: num({ env: 'AIVORY_MAX_DEPTH', option: 'maxCaptureDepth', snake: 'max_capture_depth' }, DEFAULTS.maxCaptureDepth, ...SETTING_RANGES.maxCaptureDepth),
    maxStringLength: num({ env: 'AIVORY_MAX_STRING_LENGTH', option: 'maxStringLength', snake: 'max_string_length' }, DEFAULTS.maxStringLength, ...SETTING_RANGES.maxStringLength),
    maxCollectionSize: num({ env: 'AIVORY_MAX_COLLECTION_SIZE', option: 'maxCollectionSize', snake: 'max_collection_size' }, DEFAULTS.maxCollectionSize, ...SETTING_RANGES.maxCollectionSize),
    enableBreakpoints: bool({ env: 'AIVORY_ENABLE_BREAKPOINTS', option: 'enableBreakpoints', snake: 'enable_breakpoints' }, DEFAULTS.enableBreakpoints),
    debug: bool({ env: 'AIVORY_DEBUG', option: 'debug' }, DEFAULTS.debug),
    heartbeatIntervalMs: num({ env: 'AIVORY_HEARTBEAT_INTERVAL_MS', option: 'heartbeatIntervalMs' }, DEFAULTS.heartbeatIntervalMs, 10, 3_600_000, true),
    maxQueueLength: num({ env: 'AIVORY_MAX_QUEUE_LENGTH', option: 'maxQueueLength' }, DEFAULTS.maxQueueLength, 1, 1_000_000, true),
    maxQueueBytes: num({ env: 'AIVORY_MAX_QUEUE_BYTES', option: 'maxQueueBytes' }, DEFAULTS.maxQueueBytes, 1024, 1024 ** 3, true),
    reconnectBaseMs: num({ env: 'AIVORY_RECONNECT_BASE_MS', option: 'reconnectBaseMs' }, DEFAULTS.reconnectBaseMs, 10, 60_000, true),
    reconnectMaxMs: num({ env: 'AIVORY_RECONNECT_MAX_MS', option: 'reconnectMaxMs' }, DEFAULTS.reconnectMaxMs, 10, 3_600_000, true),
    exitFlushTimeoutMs: num({ env: 'AIVORY_EXIT_FLUSH_TIMEOUT_MS', option: 'exitFlushTimeoutMs' }, DEFAULTS.exitFlushTimeoutMs, 0, 60_000, true),
    maxPausesPerSecond: num({ env: 'AIVORY_MAX_PAUSES_PER_SECOND', option: 'maxPausesPerSecond' }, DEFAULTS.maxPausesPerSecond, 0, 10_000, true),
    localsAfterFirstError: bool({ env: 'AIVORY_LOCALS_AFTER_FIRST_ERROR', option: 'localsAfterFirstError', snake: 'locals_after_first_error' }, DEFAULTS.localsAfterFirstError),
    eventLoopBlockedMs,
    maxPausesPerSitePerMinute: DEFAULTS.maxPausesPerSitePerMinute,
    maxEventsPerFingerprintPerMinute: DEFAULTS.maxEventsPerFingerprintPerMinute,
    redactNames: Object.freeze(redactNames),
    ignoreErrors: Object.freeze(ignoreErrors),
    gitContext: resolveGitContext(safeOptions.release, { ...dotenv, ...stripEmpty(env) }),
  });
  return { config, warnings };
}

/** A RegExp given to init() as an entry's text (`/source/flags`); '' when it cannot be read. */
function regexEntry(re: RegExp): string {
  try {
    return `/${String(re.source)}/${String(re.flags)}`;
  } catch {
    return '';
  }
}

function isParsableUrl(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

function redactForWarning(url: string): string {
  return url.replace(/\?.*$/, '?...').replace(/\/\/[^@/]*@/, '//...@');
}

function stripEmpty(env: Env): Env {
  const out: Env = {};
  for (const k of Object.keys(env)) if (env[k] !== undefined && env[k] !== '') out[k] = env[k];
  return out;
}

/**
 * A plain copy of user-given init() options that runs no user code: own data properties only,
 * no getters, no Proxy traps. Anything unreadable is left out.
 */
export function copyOptions(input: unknown): InitOptions {
  const out: Record<string, unknown> = {};
  if (input === null || typeof input !== 'object' || types.isProxy(input)) return out;
  let keys: string[];
  try {
    keys = Object.keys(input);
  } catch {
    return out;
  }
  for (const key of keys) {
    try {
      const d = Object.getOwnPropertyDescriptor(input, key);
      if (d && 'value' in d) out[key] = Array.isArray(d.value) ? [...(d.value as unknown[])] : d.value;
    } catch {
      // unreadable: left out
    }
  }
  return out as InitOptions;
}

/** Two option objects ask for the same agent when their own keys and values match. */
export function sameOptions(a: InitOptions, b: InitOptions): boolean {
  const ka = Object.keys(a ?? {}).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b ?? {}).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  try {
    return ka.every((k) => JSON.stringify((a as Record<string, unknown>)[k]) === JSON.stringify((b as Record<string, unknown>)[k]));
  } catch {
    return false; // unserialisable values (BigInt, cycles): treat as different
  }
}
