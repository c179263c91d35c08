/**
 * Every default of the agent, in one frozen literal. Code that uses a value reads it from the
 * resolved config; nothing else writes fallbacks.
 */
export const DEFAULTS = Object.freeze({
  /** Where the agent connects. */
  backendUrl: 'wss://api.aivory.net/ws/agent',
  /** Name of the deployment environment sent with every event. */
  environment: 'production',
  /** Fraction of exception events sent, 0..1. */
  samplingRate: 1.0,
  /** How deep object graphs in locals are walked. */
  maxCaptureDepth: 10,
  /** Longest string value sent, in characters. */
  maxStringLength: 1000,
  /** Most elements/keys sent per array, map, set or object. */
  maxCollectionSize: 100,
  /** Whether the backend may set non-breaking breakpoints. */
  enableBreakpoints: true,
  /** Breakpoint limits: set_breakpoint defaults and caps, and the guards that keep breakpoints cheap. */
  breakpoints: Object.freeze({
    /** Hits captured when set_breakpoint gives no max_hits. */
    maxHits: 1,
    /** Largest max_hits accepted; bigger values are capped. */
    maxHitsCap: 50,
    /** Lifetime when set_breakpoint gives neither ttl_seconds nor expires_at, ms. */
    ttlMs: 60 * 60 * 1000,
    /** Longest lifetime accepted, ms (7 days). */
    maxTtlMs: 7 * 24 * 60 * 60 * 1000,
    /** Hits per second per breakpoint; more are skipped inside the V8 condition (never pause). */
    hitsPerSecond: 10,
    /** Active breakpoints at once; more are refused with status error. */
    maxActive: 100,
    /** Longest condition accepted, characters. */
    maxConditionLength: 1000,
    /**
     * Estimated main-thread CPU per breakpoint-location evaluation, µs (V8 debug-evaluates the
     * condition every time the line runs: measured 70-200 µs on Node 20/24/26).
     */
    evalCostUs: 100,
    /** Estimated main-thread CPU per hit (pause, snapshot, resume), µs. */
    hitCostUs: 1000,
    /** Main-thread CPU all breakpoints may cost per second, ms; past it they are removed (exhausted). */
    cpuBudgetMsPerSecond: 50,
    /**
     * How long a hit's pause handler waits for the snapshot before it lets the session resume, ms.
     * A guard against a lost answer only: the resume is processed after the serializer anyway.
     */
    captureDeadlineMs: 250,
  }),
  /** Diagnostic lines on stderr. */
  debug: false,
  /** Heartbeat interval while registered, ms. */
  heartbeatIntervalMs: 30_000,
  /** Messages kept while not connected. */
  maxQueueLength: 1000,
  /** Bytes kept while not connected. */
  maxQueueBytes: 10 * 1024 * 1024,
  /** First reconnect delay ceiling, ms; doubles per failed attempt (full jitter). */
  reconnectBaseMs: 1000,
  /** Largest reconnect delay ceiling, ms. */
  reconnectMaxMs: 60_000,
  /** How long a crashing process waits for its last events to be sent, ms. */
  exitFlushTimeoutMs: 2000,
  /** Exception pauses (locals captures) per second across the process. */
  maxPausesPerSecond: 10,
  localsAfterFirstError: false,
  /** Report the app's event loop blocked at least this long, ms; 0: off. */
  eventLoopBlockedMs: 0,
  /** The shortest AIVORY_EVENT_LOOP_BLOCKED_MS taken (a smaller non-zero value is raised to it), ms. */
  eventLoopBlockedMinMs: 100,
  /** Blocked-loop captures (each pauses the blocked app once) at most this often, ms. */
  eventLoopBlockedCooldownMs: 10_000,
  /** A blocked-loop event waits for the loop to come back (to say how long it was blocked) at most this long, ms. */
  eventLoopBlockedReportWaitMs: 5000,
  /**
   * How long a blocked-loop capture waits for the app's thread to reach JavaScript (a thread
   * blocked in native code pauses only when it returns to JS): past it, the event goes without a stack.
   */
  eventLoopBlockedPauseWaitMs: 10_000,
  /**
   * Under `--import` the app's entry loads through the ESM loader, a few event-loop turns after the
   * preload: the worker waits this long (ms) instead of one turn, so that short-lived processes
   * (`node -e`, CLIs inheriting NODE_OPTIONS) never boot it and pay ~9 ms to stop it at exit.
   */
  workerStartDelayEsmMs: 50,
  /**
   * Events posted to the worker and not yet taken by it. A worker that cannot keep up (or is stuck)
   * must not grow the app's memory: past this, events are dropped and counted like a full queue.
   */
  maxEventsInFlight: 500,
  /** Captures with locals per throw site per minute. */
  maxPausesPerSitePerMinute: 5,
  /** Events with the same fingerprint sent in full per minute; later ones are counted. */
  maxEventsPerFingerprintPerMinute: 20,
  /** Variables (nodes) per locals capture across all frames; bounds the time the app stays paused. */
  maxCaptureNodes: 2000,
  /** Characters of string values per locals capture across all frames. */
  maxCaptureChars: 200_000,
  /** In-app frames whose locals are captured per exception (innermost first). */
  maxCaptureFrames: 10,
  /** Extra variable names to redact, beyond the built-in list. */
  redactNames: Object.freeze([] as string[]),
});

/** The development key accepted by the local backend (`aivory-monitor server`). */
export const DEV_API_KEY = 'ilscipio-dev-2024';
/** The local development backend's default port. */
export const DEV_SERVER_PORT = 19999;
/** The local development backend's agent endpoint. */
export const DEV_BACKEND_URL = `ws://localhost:${DEV_SERVER_PORT}/ws/monitor/agent`;

/** Keys on globalThis that the agent uses; Symbol.for so that copies of the package agree. */
export const GLOBAL_KEYS = Object.freeze({
  started: Symbol.for('aivory-monitor.started'),
  /** Set by register.mjs: the preload came through `--import` (the app's entry then loads asynchronously). */
  esmPreload: Symbol.for('aivory-monitor.esm-preload'),
  locals: Symbol.for('aivory-monitor.locals'),
  serializer: Symbol.for('aivory-monitor.serializer'),
  /** A function returning the current event context (read by breakpoint hits during their pause). */
  context: Symbol.for('aivory-monitor.context'),
  /** A function taking an in-line breakpoint hit (a JSON string) to the agent worker, by message. */
  hits: Symbol.for('aivory-monitor.hits'),
  agent: Symbol.for('aivory-monitor.agent'),
  /**
   * In one of the app's worker threads: a function the agent's worker calls (through the
   * inspector) to have the thread start its agent and install its serializer ('ready' once done).
   */
  threadLocals: Symbol.for('aivory-monitor.thread-locals'),
  /** In a worker thread: how to remove its crash hooks, once they are installed (thread-hooks.ts). */
  threadHooks: Symbol.for('aivory-monitor.thread-hooks'),
  /** In a worker thread: the locals captured for a recent error of that rate-limit key (captured-in-thread.ts). */
  threadLocalsOf: Symbol.for('aivory-monitor.thread-locals-of'),
});
