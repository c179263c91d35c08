import type { BackendFrame, SetBreakpointPayload } from '../../shared/protocol';

/** Largest frame accepted from the backend; bigger ones make ws close the connection (1009). */
export const MAX_BACKEND_FRAME_BYTES = 1024 * 1024;

export type ParsedFrame = { ok: true; frame: BackendFrame } | { ok: false; reason: string };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 200;

/**
 * Checks one frame from the backend: JSON text `{type, payload}` with the fields each known type
 * needs. Anything else is a reason to ignore it (never to throw).
 */
export function parseBackendFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ParsedFrame {
  if (isBinary) return { ok: false, reason: 'a binary frame' };
  const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'a frame that is not JSON' };
  }
  if (!isObj(f) || typeof f.type !== 'string') return { ok: false, reason: 'a frame without a type' };
  const type = f.type.slice(0, 50);
  const p = f.payload === undefined && type === 'registered' ? {} : f.payload;
  if (!isObj(p)) return { ok: false, reason: `a ${type} frame without an object payload` };
  const timestamp = typeof f.timestamp === 'number' ? f.timestamp : Date.now();
  switch (type) {
    case 'registered':
      return { ok: true, frame: { type, payload: p, timestamp } };
    case 'error':
      if (typeof p.code !== 'string') return { ok: false, reason: 'an error frame without a code' };
      return { ok: true, frame: { type, payload: { code: p.code, message: typeof p.message === 'string' ? p.message : undefined }, timestamp } };
    case 'set_breakpoint':
      if (!isId(p.id) || typeof p.file_path !== 'string' || p.file_path === '' || !Number.isSafeInteger(p.line_number) || (p.line_number as number) < 1) {
        return { ok: false, reason: 'a set_breakpoint frame without id, file_path or line_number' };
      }
      return { ok: true, frame: { type, payload: toSetBreakpoint(p as Record<string, unknown> & { id: string; file_path: string; line_number: number }), timestamp } };
    case 'remove_breakpoint':
      if (!isId(p.id)) return { ok: false, reason: 'a remove_breakpoint frame without id' };
      return { ok: true, frame: { type, payload: { id: p.id }, timestamp } };
    case 'configure':
      return { ok: true, frame: { type, payload: p, timestamp } };
    default:
      return { ok: false, reason: `a frame of unknown type ${JSON.stringify(type)}` };
  }
}

/** A fresh object with the known fields only (inbound objects are never passed on as they are). */
function toSetBreakpoint(p: Record<string, unknown> & { id: string; file_path: string; line_number: number }): SetBreakpointPayload {
  const bp: SetBreakpointPayload = { id: p.id, file_path: p.file_path, line_number: p.line_number };
  if (typeof p.condition === 'string' && p.condition !== '') bp.condition = p.condition;
  if (typeof p.max_hits === 'number' && Number.isFinite(p.max_hits)) bp.max_hits = p.max_hits;
  if (typeof p.ttl_seconds === 'number' && Number.isFinite(p.ttl_seconds)) bp.ttl_seconds = p.ttl_seconds;
  if (typeof p.expires_at === 'string' || (typeof p.expires_at === 'number' && Number.isFinite(p.expires_at))) bp.expires_at = p.expires_at;
  if (typeof p.stack_locals === 'boolean') bp.stack_locals = p.stack_locals;
  return bp;
}
