import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { LIMITS } from '../limits';
import { openJsonl, type JsonlLog, type RecordRef } from './jsonl';

export interface BreakpointStatusView {
  status: string;
  message?: string;
  actual_line?: number;
  at: string;
}

/** A breakpoint as GET /api/breakpoints lists it. */
export interface BreakpointView {
  id: string;
  /** null: every agent. */
  agent_id: string | null;
  file_path: string;
  line_number: number;
  condition?: string;
  max_hits: number;
  ttl_seconds?: number;
  /** Extension: locals of every in-app frame (the app pauses for the hit). */
  stack_locals?: boolean;
  created_at: string;
  /** created_at + ttl (default 1 h): after it agents no longer get it. */
  expires_at: string;
  removed: boolean;
  statuses: Record<string, BreakpointStatusView>;
  hit_count: number;
}

/** A validated POST /api/breakpoints body. */
export type NewBreakpoint = Pick<BreakpointView, 'agent_id' | 'file_path' | 'line_number' | 'condition' | 'max_hits' | 'ttl_seconds' | 'stack_locals'>;

export interface SetBreakpointFrame {
  id: string;
  file_path: string;
  line_number: number;
  condition?: string;
  max_hits: number;
  ttl_seconds: number;
  stack_locals?: boolean;
}

interface Entry {
  view: BreakpointView;
  hits: RecordRef[];
}

/** States after which an agent must not get the breakpoint again. */
const FINAL_STATUSES = new Set(['exhausted', 'expired', 'removed']);

/** Breakpoints (breakpoints.jsonl: create/remove/status records) and their hits (hits.jsonl). */
export class BreakpointStore {
  readonly #entries = new Map<string, Entry>();
  readonly #log: JsonlLog;
  readonly #hits: JsonlLog;
  readonly #onFrames: (frames: unknown) => void;

  constructor(dataDir: string, warn: (line: string) => void, onFrames: (frames: unknown) => void) {
    this.#onFrames = onFrames;
    this.#log = openJsonl(join(dataDir, 'breakpoints.jsonl'), (rec) => this.#replay(rec), warn);
    this.#hits = openJsonl(join(dataDir, 'hits.jsonl'), (rec, ref) => {
      if (typeof rec.breakpoint_id !== 'string' || typeof rec.received_at !== 'string') throw new Error('bad record');
      this.#indexHit(rec, ref);
    }, warn);
  }

  #replay(rec: Record<string, unknown>): void {
    if (rec.op === 'create' && rec.breakpoint && typeof rec.breakpoint === 'object') {
      const v = rec.breakpoint as BreakpointView;
      if (typeof v.id !== 'string' || typeof v.file_path !== 'string' || typeof v.line_number !== 'number') throw new Error('bad record');
      this.#put({ ...v, removed: false, statuses: {}, hit_count: 0 });
    } else if (rec.op === 'remove' && typeof rec.id === 'string') {
      const e = this.#entries.get(rec.id);
      if (e) e.view.removed = true;
    } else if (rec.op === 'status' && typeof rec.id === 'string' && typeof rec.agent_id === 'string' && rec.status && typeof rec.status === 'object') {
      const e = this.#entries.get(rec.id);
      if (e) e.view.statuses[rec.agent_id] = rec.status as BreakpointStatusView;
    } else throw new Error('bad record');
  }

  #put(view: BreakpointView): void {
    this.#entries.set(view.id, { view, hits: [] });
    if (this.#entries.size > LIMITS.maxBreakpoints) {
      // Forget the oldest removed one first; else the oldest.
      let victim: string | undefined;
      for (const [id, e] of this.#entries) {
        if (e.view.removed) {
          victim = id;
          break;
        }
      }
      this.#entries.delete(victim ?? (this.#entries.keys().next().value as string));
    }
  }

  create(input: NewBreakpoint): BreakpointView {
    const now = Date.now();
    const ttl = input.ttl_seconds ?? LIMITS.defaultTtlSeconds;
    const view: BreakpointView = {
      id: `bp-${now.toString(16)}-${randomBytes(4).toString('hex')}`,
      agent_id: input.agent_id,
      file_path: input.file_path,
      line_number: input.line_number,
      max_hits: input.max_hits,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + ttl * 1000).toISOString(),
      removed: false,
      statuses: {},
      hit_count: 0,
    };
    if (input.condition !== undefined) view.condition = input.condition;
    if (input.ttl_seconds !== undefined) view.ttl_seconds = input.ttl_seconds;
    if (input.stack_locals) view.stack_locals = true;
    this.#put(view);
    const { removed: _r, statuses: _s, hit_count: _h, ...stored } = view;
    this.#log.append({ op: 'create', breakpoint: stored });
    return view;
  }

  /** Marks it removed; undefined when unknown. */
  remove(id: string): BreakpointView | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (!e.view.removed) {
      e.view.removed = true;
      this.#log.append({ op: 'remove', id, at: new Date().toISOString() });
    }
    return e.view;
  }

  setStatus(id: string, agentId: string, status: BreakpointStatusView): BreakpointView | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    e.view.statuses[agentId] = status;
    if (Object.keys(e.view.statuses).length > 1000) delete e.view.statuses[Object.keys(e.view.statuses)[0] as string];
    this.#log.append({ op: 'status', id, agent_id: agentId, status });
    return e.view;
  }

  /** Stores a hit payload; undefined when the breakpoint is unknown. */
  addHit(agentId: string, payload: Record<string, unknown>): { hit: Record<string, unknown>; breakpoint: BreakpointView } | undefined {
    const e = this.#entries.get(payload.breakpoint_id as string);
    if (!e) return undefined;
    const hit = { ...payload, agent_id: agentId, received_at: new Date().toISOString() };
    const ref = this.#hits.append(hit);
    this.#indexHit(hit, ref);
    return { hit, breakpoint: e.view };
  }

  #indexHit(hit: Record<string, unknown>, ref: RecordRef): void {
    const e = this.#entries.get(hit.breakpoint_id as string);
    if (!e) return;
    e.view.hit_count++;
    e.hits.push(ref);
    if (e.hits.length > LIMITS.maxHitsPerBreakpoint) e.hits.shift();
    this.#onFrames(hit.stack_trace);
    if (typeof hit.file_path === 'string') this.#onFrames([{ file_path: hit.file_path }]);
  }

  get(id: string): BreakpointView | undefined {
    return this.#entries.get(id)?.view;
  }

  /** Newest first. */
  list(): BreakpointView[] {
    return [...this.#entries.values()].map((e) => e.view).reverse();
  }

  /** Hit payloads, newest first; undefined when the breakpoint is unknown. */
  hits(id: string): unknown[] | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    const out: unknown[] = [];
    for (let i = e.hits.length - 1; i >= 0; i--) {
      const h = this.#hits.readAt(e.hits[i] as RecordRef);
      if (h !== undefined) out.push(h);
    }
    return out;
  }

  /** The `set_breakpoint` frames an agent should get now (on connect, or when created). */
  framesFor(agentId: string, only?: BreakpointView): SetBreakpointFrame[] {
    const now = Date.now();
    const out: SetBreakpointFrame[] = [];
    for (const v of only ? [only] : this.list().reverse()) {
      if (v.removed || (v.agent_id !== null && v.agent_id !== agentId)) continue;
      const left = Math.ceil((Date.parse(v.expires_at) - now) / 1000);
      if (left <= 0) continue;
      const st = v.statuses[agentId]?.status;
      if (st !== undefined && FINAL_STATUSES.has(st)) continue;
      const frame: SetBreakpointFrame = { id: v.id, file_path: v.file_path, line_number: v.line_number, max_hits: v.max_hits, ttl_seconds: left };
      if (v.condition !== undefined) frame.condition = v.condition;
      if (v.stack_locals) frame.stack_locals = true;
      out.push(frame);
    }
    return out;
  }

  close(): void {
    this.#log.close();
    this.#hits.close();
  }
}
