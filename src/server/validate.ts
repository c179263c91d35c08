/**
 * Shape checks for what agents send. Payloads are kept as received (extensions included); only
 * the fields the server itself reads are checked.
 */
import type { NewBreakpoint } from './store/breakpoints';

type Obj = Record<string, unknown>;

export type AgentFrameIn =
  | { type: 'register'; payload: Obj & { agent_id: string; api_key?: string } }
  | { type: 'heartbeat'; payload: Obj & { dropped_messages?: number } }
  | { type: 'exception'; payload: Obj & { id: string; exception_type: string; message: string } }
  | { type: 'breakpoint_hit'; payload: Obj & { breakpoint_id: string } }
  | { type: 'breakpoint_status'; payload: Obj & { breakpoint_id: string; status: string; message?: string; actual_line?: number } };

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown, max = 10_000): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/** One agent frame, or undefined when it is not JSON, not `{type, payload}`, or misses a field the server needs. */
export function parseAgentFrame(text: string): AgentFrameIn | undefined {
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(f) || typeof f.type !== 'string' || !isObj(f.payload)) return undefined;
  const p = f.payload;
  switch (f.type) {
    case 'register':
      if (!isStr(p.agent_id, 128)) return undefined;
      if (p.api_key !== undefined && typeof p.api_key !== 'string') return undefined;
      return { type: 'register', payload: p as Extract<AgentFrameIn, { type: 'register' }>['payload'] };
    case 'heartbeat':
      if (p.dropped_messages !== undefined && !(Number.isSafeInteger(p.dropped_messages) && (p.dropped_messages as number) >= 0)) delete p.dropped_messages;
      return { type: 'heartbeat', payload: p };
    case 'exception':
      if (!isStr(p.id, 200) || typeof p.exception_type !== 'string' || typeof p.message !== 'string') return undefined;
      return { type: 'exception', payload: p as Extract<AgentFrameIn, { type: 'exception' }>['payload'] };
    case 'breakpoint_hit':
      if (!isStr(p.breakpoint_id, 200)) return undefined;
      return { type: 'breakpoint_hit', payload: p as Extract<AgentFrameIn, { type: 'breakpoint_hit' }>['payload'] };
    case 'breakpoint_status':
      if (!isStr(p.breakpoint_id, 200) || !isStr(p.status, 50)) return undefined;
      if (p.message !== undefined && typeof p.message !== 'string') delete p.message;
      if (p.actual_line !== undefined && !Number.isSafeInteger(p.actual_line)) delete p.actual_line;
      if (typeof p.message === 'string') p.message = p.message.slice(0, 2000);
      return { type: 'breakpoint_status', payload: p as Extract<AgentFrameIn, { type: 'breakpoint_status' }>['payload'] };
    default:
      return undefined;
  }
}

/** A validated POST /api/breakpoints body, or the reason it was refused. */
export function parseNewBreakpoint(
  body: unknown,
  limits: { maxHitsCap: number; maxTtlSeconds: number; maxConditionLength: number; maxPathLength: number },
): { ok: true; value: NewBreakpoint } | { ok: false; error: string } {
  if (!isObj(body)) return { ok: false, error: 'body must be a JSON object' };
  const { file_path, line_number, condition, max_hits, ttl_seconds, agent_id, stack_locals } = body;
  if (!isStr(file_path, limits.maxPathLength) || file_path.trim() === '') return { ok: false, error: 'file_path must be a non-empty string' };
  if (!Number.isSafeInteger(line_number) || (line_number as number) < 1) return { ok: false, error: 'line_number must be an integer >= 1' };
  if (condition !== undefined && condition !== null && condition !== '' && !isStr(condition, limits.maxConditionLength)) {
    return { ok: false, error: `condition must be a string of at most ${limits.maxConditionLength} characters` };
  }
  if (max_hits !== undefined && max_hits !== null && (!Number.isSafeInteger(max_hits) || (max_hits as number) < 1 || (max_hits as number) > limits.maxHitsCap)) {
    return { ok: false, error: `max_hits must be an integer from 1 to ${limits.maxHitsCap}` };
  }
  if (ttl_seconds !== undefined && ttl_seconds !== null && (!Number.isSafeInteger(ttl_seconds) || (ttl_seconds as number) < 1 || (ttl_seconds as number) > limits.maxTtlSeconds)) {
    return { ok: false, error: `ttl_seconds must be an integer from 1 to ${limits.maxTtlSeconds}` };
  }
  if (agent_id !== undefined && agent_id !== null && agent_id !== '' && !isStr(agent_id, 128)) return { ok: false, error: 'agent_id must be a string or null' };
  if (stack_locals !== undefined && stack_locals !== null && typeof stack_locals !== 'boolean') return { ok: false, error: 'stack_locals must be true or false' };
  const value: NewBreakpoint = {
    agent_id: typeof agent_id === 'string' && agent_id !== '' ? agent_id : null,
    file_path: file_path.trim(),
    line_number: line_number as number,
    max_hits: typeof max_hits === 'number' ? max_hits : 1,
  };
  if (typeof condition === 'string' && condition.trim() !== '') value.condition = condition;
  if (typeof ttl_seconds === 'number') value.ttl_seconds = ttl_seconds;
  if (stack_locals === true) value.stack_locals = true;
  return { ok: true, value };
}
