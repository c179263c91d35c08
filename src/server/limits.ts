/** Bounds of the local development backend. A misbehaving agent can cost it no more than these. */
export const LIMITS = Object.freeze({
  /** Largest WebSocket frame accepted from an agent; larger ones close that connection (1009). */
  maxFrameBytes: 8 * 1024 * 1024,
  /** Largest JSON body accepted by the HTTP API. */
  maxBodyBytes: 64 * 1024,
  /** Frames per second per connection (token bucket refill) and burst (bucket size). */
  framesPerSecond: 200,
  frameBurst: 2000,
  /** WebSocket ping period; an agent silent for two periods is disconnected. */
  pingIntervalMs: 30_000,
  /** How long a new connection may take to send `register`. */
  registerTimeoutMs: 10_000,
  /** Agents, exception groups and event ids kept in memory (oldest evicted; disk keeps all). */
  maxAgents: 10_000,
  maxGroups: 10_000,
  maxIndexedEvents: 200_000,
  /** Event summaries kept per exception group, and returned by GET /api/exceptions/:fingerprint. */
  maxEventsPerGroup: 200,
  /** Breakpoints kept, and hits listed per breakpoint. */
  maxBreakpoints: 10_000,
  maxHitsPerBreakpoint: 200,
  /** Source files the server may show, and the largest it reads. */
  maxSourceFiles: 50_000,
  maxSourceFileBytes: 5 * 1024 * 1024,
  maxSourceContext: 200,
  /** Longest line read back from a data file. */
  maxStoredLineBytes: 64 * 1024 * 1024,
  /** Live-update (SSE) clients at once, and the keep-alive comment period. */
  maxStreamClients: 100,
  streamKeepAliveMs: 15_000,
  /** Recent live-update events kept for replay to a client that (re)connects (count and bytes). */
  streamReplayEvents: 1000,
  streamReplayBytes: 8 * 1024 * 1024,
  /** Breakpoint bounds (PROTOCOL.md: max_hits default 1, capped at 50; default expiry 1 h). */
  maxHitsCap: 50,
  defaultTtlSeconds: 3600,
  maxTtlSeconds: 7 * 24 * 3600,
  maxConditionLength: 2000,
  maxPathLength: 2000,
});
