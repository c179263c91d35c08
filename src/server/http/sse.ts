import type { IncomingMessage, ServerResponse } from 'node:http';
import { LIMITS } from '../limits';

/** The live-update event names of GET /api/stream. */
export type StreamEventName = 'agent' | 'exception' | 'breakpoint' | 'breakpoint_status' | 'breakpoint_hit';

/** Server-Sent Events fan-out: every client gets every event, as `event: <name>` + one JSON `data:` line. */
export class EventStream {
  readonly #clients = new Set<ServerResponse>();
  readonly #timer: NodeJS.Timeout;

  constructor() {
    // Comments keep proxies and browsers from timing the stream out.
    this.#timer = setInterval(() => {
      for (const res of this.#clients) res.write(': keep-alive\n\n');
    }, LIMITS.streamKeepAliveMs);
    this.#timer.unref();
  }

  /** Answers GET /api/stream. */
  attach(req: IncomingMessage, res: ServerResponse): void {
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
    this.#clients.add(res);
    const drop = (): void => {
      this.#clients.delete(res);
    };
    res.on('close', drop);
    res.on('error', drop);
  }

  emit(name: StreamEventName, data: unknown): void {
    if (this.#clients.size === 0) return;
    const text = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
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
}
