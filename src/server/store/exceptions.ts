import { join } from 'node:path';
import { LIMITS } from '../limits';
import { openJsonl, type JsonlLog, type RecordRef } from './jsonl';
import { setBounded } from '../../shared/bounded-map';

/** One exception group (same fingerprint), as GET /api/exceptions lists it. */
export interface GroupView {
  fingerprint: string;
  exception_type: string;
  message: string;
  count: number;
  first_seen: string;
  last_seen: string;
  last_event_id: string;
  agent_ids: string[];
}

/** One event of a group, as GET /api/exceptions/:fingerprint lists it. */
export interface EventSummary {
  id: string;
  captured_at: string;
  agent_id: string;
  message: string;
  mechanism?: string;
}

interface Group {
  view: GroupView;
  agents: Set<string>;
  /** Oldest first; capped. */
  events: EventSummary[];
}

/** What a newly stored event changed, for the live stream. */
export interface StoredEvent {
  payload: Record<string, unknown>;
  group: GroupView;
}

const isoOr = (v: unknown, fallback: string): string => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(Date.parse(v)).toISOString() : fallback);

/**
 * Exceptions: every payload is appended to exceptions.jsonl as received (plus received_at); memory
 * holds groups, capped summaries and the file position of each event id, not the payloads.
 */
export class ExceptionStore {
  readonly #groups = new Map<string, Group>();
  readonly #events = new Map<string, RecordRef>();
  readonly #log: JsonlLog;
  readonly #onFrames: (frames: unknown) => void;

  /** `onFrames` sees the stack_trace of every stored event (to learn which source files exist). */
  constructor(dataDir: string, warn: (line: string) => void, onFrames: (frames: unknown) => void) {
    this.#onFrames = onFrames;
    this.#log = openJsonl(join(dataDir, 'exceptions.jsonl'), (rec, ref) => {
      if (typeof rec.id !== 'string' || typeof rec.agent_id !== 'string' || typeof rec.received_at !== 'string') throw new Error('bad record');
      this.#index(rec, ref);
    }, warn);
  }

  /** Stores an exception payload from `agentId` (already shape-checked). Duplicate ids are ignored. */
  add(agentId: string, payload: Record<string, unknown>): StoredEvent | undefined {
    const id = payload.id as string;
    if (this.#events.has(id)) return undefined;
    const record = { ...payload, agent_id: agentId, received_at: new Date().toISOString() };
    const ref = this.#log.append(record);
    const group = this.#index(record, ref);
    return { payload: record, group };
  }

  #index(rec: Record<string, unknown>, ref: RecordRef): GroupView {
    const id = rec.id as string;
    const agentId = rec.agent_id as string;
    const receivedAt = rec.received_at as string;
    const capturedAt = isoOr(rec.captured_at, receivedAt);
    const type = typeof rec.exception_type === 'string' ? rec.exception_type : 'Error';
    const message = typeof rec.message === 'string' ? rec.message : '';
    const fingerprint = typeof rec.fingerprint === 'string' && rec.fingerprint !== '' ? rec.fingerprint : `${type}:${message}`.slice(0, 200);

    setBounded(this.#events, id, ref, LIMITS.maxIndexedEvents);

    let g = this.#groups.get(fingerprint);
    if (!g) {
      g = {
        view: { fingerprint, exception_type: type, message, count: 0, first_seen: capturedAt, last_seen: capturedAt, last_event_id: id, agent_ids: [] },
        agents: new Set(),
        events: [],
      };
      this.#groups.set(fingerprint, g);
      if (this.#groups.size > LIMITS.maxGroups) this.#evictOldestGroup();
    }
    const v = g.view;
    v.count++;
    if (capturedAt < v.first_seen) v.first_seen = capturedAt;
    if (capturedAt >= v.last_seen) {
      v.last_seen = capturedAt;
      v.last_event_id = id;
      v.message = message;
    }
    if (!g.agents.has(agentId) && g.agents.size < 1000) {
      g.agents.add(agentId);
      v.agent_ids.push(agentId);
    }
    const summary: EventSummary = { id, captured_at: capturedAt, agent_id: agentId, message };
    if (typeof rec.mechanism === 'string') summary.mechanism = rec.mechanism;
    g.events.push(summary);
    if (g.events.length > LIMITS.maxEventsPerGroup) g.events.shift();
    this.#onFrames(rec.stack_trace);
    return v;
  }

  #evictOldestGroup(): void {
    let oldest: Group | undefined;
    for (const g of this.#groups.values()) if (!oldest || g.view.last_seen < oldest.view.last_seen) oldest = g;
    if (oldest) this.#groups.delete(oldest.view.fingerprint);
  }

  /** Groups, most recently seen first. */
  listGroups(): GroupView[] {
    return [...this.#groups.values()].map((g) => g.view).sort((a, b) => (a.last_seen < b.last_seen ? 1 : a.last_seen > b.last_seen ? -1 : 0));
  }

  group(fingerprint: string): { group: GroupView; events: EventSummary[] } | undefined {
    const g = this.#groups.get(fingerprint);
    if (!g) return undefined;
    const events = [...g.events].sort((a, b) => (a.captured_at < b.captured_at ? 1 : a.captured_at > b.captured_at ? -1 : 0));
    return { group: g.view, events };
  }

  /** The full payload as received, read back from disk. */
  event(id: string): unknown {
    const ref = this.#events.get(id);
    return ref ? this.#log.readAt(ref) : undefined;
  }

  close(): void {
    this.#log.close();
  }
}
