import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { LIMITS } from '../limits';

/** The live-update event names of GET /api/stream. */
export type StreamEventName = 'agent' | 'exception' | 'breakpoint' | 'breakpoint_status' | 'breakpoint_hit';

interface HeldEvent {
  seq: number;
  text: string;
  bytes: number;
}

/**
 * Server-Sent Events fan-out: every client gets every event, as `id: <run>-<seq>`, `event: <name>`
 * and one JSON `data:` line. Recent events are held (bounded), so a client that reconnects with
 * `Last-Event-ID` (EventSource does) or asks `?since=<id>` gets what it missed; an id of another
 * server run, or `since=0`, replays everything held: what happened between the server starting to
 * listen and a client attaching is not lost.
 */
export class EventStream {
  readonly #clients = new Set<ServerResponse>();
  readonly #timer: NodeJS.Timeout;
  /** Tells this server run's event ids from those of an earlier run (which restarted at 1). */
  readonly #run = randomBytes(4).toString('hex');
  #seq = 0;
  readonly #held: HeldEvent[] = [];
  #heldBytes = 0;

  constructor() {
    // Comments keep proxies and browsers from timing the stream out.
    this.#timer = setInterval(() => {
      for (const res of this.#clients) res.write(': keep-alive\n\n');
    }, LIMITS.streamKeepAliveMs);
    this.#timer.unref();
  }

  /** Answers GET /api/stream (`since`: the query parameter of that name, if any). */
  attach(req: IncomingMessage, res: ServerResponse, since?: string | null): void {
    if (this.#clients.size >= LIMITS.maxStreamClients) {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'too many stream clients' }));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    req.socket.setNoDelay(true);
    res.write(': connected\n\n');
    const lastId = req.headers['last-event-id'] ?? since;
    if (typeof lastId === 'string') this.#replay(res, lastId);
    this.#clients.add(res);
    const drop = (): void => {
      this.#clients.delete(res);
    };
    res.on('close', drop);
    res.on('error', drop);
  }

  emit(name: StreamEventName, data: unknown): void {
    const seq = ++this.#seq;
    const text = `id: ${this.#run}-${seq}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    this.#hold(seq, text);
    for (const res of this.#clients) {
      // A client that does not read is dropped rather than buffered without bound.
      if (res.writableLength > 8 * 1024 * 1024) {
        this.#clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #hold(seq: number, text: string): void {
    const bytes = Buffer.byteLength(text);
    if (bytes > LIMITS.streamReplayBytes) return;
    this.#held.push({ seq, text, bytes });
    this.#heldBytes += bytes;
    while (this.#held.length > LIMITS.streamReplayEvents || this.#heldBytes > LIMITS.streamReplayBytes) {
      this.#heldBytes -= (this.#held.shift() as HeldEvent).bytes;
    }
  }

  /** Writes the held events after `lastId`; all of them when the id is not one of this run's. */
  #replay(res: ServerResponse, lastId: string): void {
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastId.trim());
    const after = m !== null && m[1] === this.#run ? Number(m[2]) : 0;
    const first = this.#held[0];
    if (first !== undefined && first.seq > after + 1) res.write(`: ${first.seq - after - 1} earlier events are no longer held\n\n`);
    for (const e of this.#held) if (e.seq > after) res.write(e.text);
  }
}
