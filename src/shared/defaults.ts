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
  locals: Symbol.for('aivory-monitor.locals'),
  serializer: Symbol.for('aivory-monitor.serializer'),
  agent: Symbol.for('aivory-monitor.agent'),
});
