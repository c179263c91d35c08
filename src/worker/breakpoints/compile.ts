/**
 * set_breakpoint payload -> CompiledBreakpoint, once, at set time: the inbound protocol object is
 * never changed. Everything the hit path needs (condition source, limits, expiry) is decided here.
 */
import { DEFAULTS } from '../../shared/defaults';
import type { SetBreakpointPayload } from '../../shared/protocol';
import { validateCondition } from './condition';
import { parseRequestPath, type PathRequest } from './paths';

/** Breakpoint limits; DEFAULTS.breakpoints unless a test or the manager's caller says otherwise. */
export type BreakpointLimits = { -readonly [K in keyof typeof DEFAULTS.breakpoints]: number };

export interface CompiledBreakpoint {
  readonly id: string;
  /** file_path as the backend sent it (for messages). */
  readonly requestedPath: string;
  readonly path: PathRequest;
  /** 1-based line in the original source. */
  readonly line: number;
  /** The validated condition expression, or undefined for "always". */
  readonly condition?: string;
  readonly maxHits: number;
  /** Epoch ms. */
  readonly expiresAt: number;
  /** Capture every in-app frame's locals during a pause instead of the hit frame's in-line. */
  readonly stackLocals: boolean;
  /** A stable text of what was asked, to tell a re-sent set_breakpoint from a changed one. */
  readonly signature: string;
}

const MAX_PATH_LENGTH = 4096;
/** V8 takes 0-based int32 line numbers. */
const MAX_LINE = 2 ** 31 - 1;
const CONTROL = /[\u0000-\u001f\u007f]/;

export type CompileResult = { ok: true; breakpoint: CompiledBreakpoint; notes: string[] } | { ok: false; id: string; message: string };

function readExpiry(p: SetBreakpointPayload, limits: BreakpointLimits, now: number): number | string {
  if (p.ttl_seconds !== undefined && p.ttl_seconds !== null) {
    if (typeof p.ttl_seconds !== 'number' || !Number.isFinite(p.ttl_seconds) || p.ttl_seconds <= 0) return 'ttl_seconds must be a positive number';
    return now + Math.min(p.ttl_seconds * 1000, limits.maxTtlMs);
  }
  if (p.expires_at !== undefined && p.expires_at !== null) {
    const at = typeof p.expires_at === 'number' ? p.expires_at : typeof p.expires_at === 'string' ? Date.parse(p.expires_at) : NaN;
    if (!Number.isFinite(at)) return 'expires_at must be an ISO 8601 date or epoch milliseconds';
    return Math.min(at, now + limits.maxTtlMs);
  }
  return now + limits.ttlMs;
}

/** Validates and compiles one set_breakpoint payload. Never throws. */
export function compileBreakpoint(input: unknown, limits: BreakpointLimits, now: number = Date.now()): CompileResult {
  const p = (input !== null && typeof input === 'object' ? input : {}) as SetBreakpointPayload;
  const id = typeof p.id === 'string' ? p.id : typeof p.id === 'number' ? String(p.id) : '';
  if (id === '' || id.length > 200) return { ok: false, id, message: 'id must be a non-empty string' };
  if (typeof p.file_path !== 'string' || p.file_path.length > MAX_PATH_LENGTH) return { ok: false, id, message: `file_path must be a string of at most ${MAX_PATH_LENGTH} characters` };
  // No file name has these; a NUL or `..` would otherwise be dropped or matched loosely (`../x.js` as any x.js).
  if (CONTROL.test(p.file_path)) return { ok: false, id, message: 'file_path contains control characters' };
  if (/(?:^|[/\\])\.\.(?:[/\\]|$)/.test(p.file_path)) return { ok: false, id, message: 'file_path must not contain ".." segments' };
  const path = parseRequestPath(p.file_path);
  if (!path) return { ok: false, id, message: `file_path ${JSON.stringify(p.file_path)} names no file` };
  if (typeof p.line_number !== 'number' || !Number.isInteger(p.line_number) || p.line_number < 1 || p.line_number > MAX_LINE) {
    return { ok: false, id, message: `line_number must be an integer from 1 to ${MAX_LINE}` };
  }
  const notes: string[] = [];
  let maxHits = limits.maxHits;
  if (p.max_hits !== undefined && p.max_hits !== null) {
    if (typeof p.max_hits !== 'number' || !Number.isInteger(p.max_hits) || p.max_hits < 1) return { ok: false, id, message: 'max_hits must be an integer >= 1' };
    maxHits = Math.min(p.max_hits, limits.maxHitsCap);
    if (p.max_hits > limits.maxHitsCap) notes.push(`max_hits capped at ${limits.maxHitsCap}`);
  }
  let condition: string | undefined;
  if (p.condition !== undefined && p.condition !== null && !(typeof p.condition === 'string' && p.condition.trim() === '')) {
    const check = validateCondition(p.condition, limits.maxConditionLength);
    if (!check.ok) return { ok: false, id, message: check.message };
    condition = check.expression;
  }
  const expiresAt = readExpiry(p, limits, now);
  if (typeof expiresAt === 'string') return { ok: false, id, message: expiresAt };
  // Extension: the locals of every in-app frame, at the price of pausing the app for the hit.
  if (p.stack_locals !== undefined && p.stack_locals !== null && typeof p.stack_locals !== 'boolean') return { ok: false, id, message: 'stack_locals must be true or false' };
  const stackLocals = p.stack_locals === true;
  const breakpoint: CompiledBreakpoint = Object.freeze({
    id,
    requestedPath: p.file_path,
    path,
    line: p.line_number,
    condition,
    maxHits,
    expiresAt,
    stackLocals,
    signature: JSON.stringify([p.file_path, p.line_number, condition ?? null, maxHits, stackLocals]),
  });
  return { ok: true, breakpoint, notes };
}

/** The limits in force: DEFAULTS.breakpoints with overrides (tests, benchmarks). */
export function resolveLimits(overrides: Partial<BreakpointLimits> = {}): BreakpointLimits {
  return { ...DEFAULTS.breakpoints, ...overrides };
}
