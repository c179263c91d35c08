import { join } from 'node:path';
import { LIMITS } from '../limits';
import { openJsonl, type JsonlLog } from './jsonl';

/** An agent as GET /api/agents lists it. */
export interface AgentView {
  agent_id: string;
  hostname: string;
  environment: string;
  runtime: string;
  runtimeVersion: string;
  agent_version: string;
  platform: string;
  arch: string;
  git_context?: unknown;
  capabilities?: unknown;
  connected: boolean;
  connected_at: string;
  last_heartbeat: string | null;
  dropped_messages?: number;
}

const str = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 500) : '');

/** Agents seen, persisted in agents.jsonl (one `register` record per connection, one `seen` per disconnect). */
export class AgentStore {
  readonly #agents = new Map<string, AgentView>();
  readonly #log: JsonlLog;

  constructor(dataDir: string, warn: (line: string) => void) {
    this.#log = openJsonl(join(dataDir, 'agents.jsonl'), (rec) => this.#replay(rec), warn);
  }

  #replay(rec: Record<string, unknown>): void {
    if (rec.op === 'register' && rec.agent && typeof rec.agent === 'object') {
      const a = rec.agent as AgentView;
      if (typeof a.agent_id !== 'string') throw new Error('bad record');
      this.#put({ ...a, connected: false });
    } else if (rec.op === 'seen' && typeof rec.agent_id === 'string') {
      const a = this.#agents.get(rec.agent_id);
      if (a) {
        if (typeof rec.last_heartbeat === 'string') a.last_heartbeat = rec.last_heartbeat;
        if (typeof rec.dropped_messages === 'number') a.dropped_messages = rec.dropped_messages;
      }
    } else throw new Error('bad record');
  }

  #put(a: AgentView): void {
    this.#agents.delete(a.agent_id);
    this.#agents.set(a.agent_id, a);
    if (this.#agents.size > LIMITS.maxAgents) {
      for (const [id, old] of this.#agents) {
        if (!old.connected) {
          this.#agents.delete(id);
          break;
        }
      }
    }
  }

  /** Records a `register` payload of a connection that was just accepted. */
  register(agentId: string, payload: Record<string, unknown>): AgentView {
    const previous = this.#agents.get(agentId);
    const a: AgentView = {
      agent_id: agentId,
      hostname: str(payload.hostname),
      environment: str(payload.environment),
      runtime: str(payload.runtime),
      runtimeVersion: str(payload.runtimeVersion),
      agent_version: str(payload.agent_version),
      platform: str(payload.platform),
      arch: str(payload.arch),
      connected: true,
      connected_at: new Date().toISOString(),
      last_heartbeat: previous?.last_heartbeat ?? null,
    };
    if (payload.git_context && typeof payload.git_context === 'object') a.git_context = payload.git_context;
    if (payload.capabilities && typeof payload.capabilities === 'object') a.capabilities = payload.capabilities;
    if (previous?.dropped_messages !== undefined) a.dropped_messages = previous.dropped_messages;
    this.#put(a);
    const { connected: _c, ...stored } = a;
    this.#log.append({ op: 'register', agent: stored });
    return a;
  }

  heartbeat(agentId: string, droppedMessages: number | undefined): AgentView | undefined {
    const a = this.#agents.get(agentId);
    if (!a) return undefined;
    a.last_heartbeat = new Date().toISOString();
    // dropped_messages counts drops since the previous heartbeat: keep a running total.
    if (droppedMessages !== undefined && droppedMessages > 0) a.dropped_messages = (a.dropped_messages ?? 0) + droppedMessages;
    this.#appendSeen(a);
    return a;
  }

  disconnect(agentId: string): AgentView | undefined {
    const a = this.#agents.get(agentId);
    if (!a) return undefined;
    a.connected = false;
    this.#appendSeen(a);
    return a;
  }

  #appendSeen(a: AgentView): void {
    const seen: Record<string, unknown> = { op: 'seen', agent_id: a.agent_id, last_heartbeat: a.last_heartbeat };
    if (a.dropped_messages !== undefined) seen.dropped_messages = a.dropped_messages;
    this.#log.append(seen);
  }

  get(agentId: string): AgentView | undefined {
    return this.#agents.get(agentId);
  }

  /** Newest connection first. */
  list(): AgentView[] {
    return [...this.#agents.values()].sort((x, y) => (x.connected_at < y.connected_at ? 1 : x.connected_at > y.connected_at ? -1 : 0));
  }

  connectedCount(): number {
    let n = 0;
    for (const a of this.#agents.values()) if (a.connected) n++;
    return n;
  }

  close(): void {
    this.#log.close();
  }
}
