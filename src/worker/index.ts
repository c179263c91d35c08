/**
 * The agent worker's entry: owns the transport (and, as they land, the inspector session and
 * breakpoints). Started by src/main/agent.ts with execArgv [] and without our preload.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/log';
import { SHARED, type CapturedError, type MainToWorker, type WorkerData, type WorkerToMain } from '../shared/messages';
import { startBreakpoints, type Breakpoints } from './breakpoints';
import { receiveFromThreads } from './from-threads';
import { postOnce, threadRepliesChannel } from '../shared/thread-messages';
import { parseConfigure } from './configure';
import { captureLimits } from './inspector/exception-pauses';
import { createExceptionEvents } from './events/exception-events';
import { createContextRedaction } from './events/redact-context';
import { startAgentInspector } from './inspector';
import { createTransport } from './transport';
import { createBlockedLoopWatch } from './blocked-loop';
import { heapLimitHandler } from './heap-limit';

const data = workerData as WorkerData;
const { config, agentId } = data;
const logger = createLogger(config.debug);
const flags = new Int32Array(data.shared);
const cwd = process.cwd();
const redactContext = createContextRedaction(config);
// One limits object for exception locals and breakpoint hits, so `configure` changes both at once.
const limits = captureLimits(config);
// A heap at its limit is reported during the pause V8 makes for the debugger, written before the app goes on (usually to its crash).
const HEAP_LIMIT_HOLD_MS = Math.min(1000, config.exitFlushTimeoutMs);
const heapLimits = { logger, limits, emit: sendException, deliver: (ms: number) => transport.flushForExit(ms), holdMs: HEAP_LIMIT_HOLD_MS };
const mainHeapLimits = { ...heapLimits, handOverToNode: data.heapSnapshotsNearLimit === true };
const agentInspector = startAgentInspector({
  config,
  logger,
  flags,
  userInspector: data.userInspector === true,
  limits,
  // The app's worker threads with the agent's debugger armed: breakpoints are set there too.
  onThread: (id, s) => breakpoints.thread(id, s),
  breakpointsLive: () => breakpoints.live(),
  // A thread's heap at its limit (its `resourceLimits`, or the process's): V8 pauses that thread the same way.
  threadHeapLimit: (s, id) => heapLimitHandler(s, { ...heapLimits, emit: (event) => sendException({ ...event, context: { ...event.context, thread: { id } } }) }),
  onSession: (s) => s.addPauseHandler(heapLimitHandler(s, mainHeapLimits)),
});
// Locals come from pauses of the inspector session, which knows the source map V8 had for each script.
const exceptionEvents = createExceptionEvents(config, agentId, cwd, (url) => agentInspector.current()?.sourceMapURLOf(url));

const transport = createTransport({
  config,
  logger,
  agentId,
  agentVersion: data.agentVersion,
  takeDroppedElsewhere: () => Atomics.exchange(flags, SHARED.mainDropped, 0),
  // Registered means armed: an app that starts its work when the agent shows up gets locals from the first error.
  startAfter: agentInspector.ready,
  handlers: {
    onMessage(frame) {
      if (frame.type === 'set_breakpoint') breakpoints.set(frame.payload);
      else if (frame.type === 'remove_breakpoint') breakpoints.remove(frame.payload);
      else if (frame.type === 'configure') applyConfigure(frame.payload);
      else logger.debug(`backend message ${frame.type} ignored`);
    },
  },
});

// Breakpoints share the inspector session; with AIVORY_ENABLE_BREAKPOINTS=false they never touch it.
const startBreakpointManager = (enabled: boolean): Breakpoints => {
  const started = startBreakpoints({
    config: { ...config, enableBreakpoints: enabled },
    logger,
    agentId,
    capture: limits,
    send: (type, payload) => {
      if (type === 'breakpoint_hit' && 'context' in payload && payload.context) payload.context = redactContext(payload.context);
      transport.send(type, payload);
    },
    getSession: () =>
      agentInspector.session().then(
        (s) => s ?? Promise.reject(new Error(data.userInspector ? 'the app runs its own debugger (--inspect): breakpoints are off' : 'the inspector is not available')),
      ),
    release: () => agentInspector.breakpointsIdle(),
  });
  for (const [id, s] of agentInspector.armedThreads()) started.thread(id, s);
  return started;
};
let breakpointsEnabled = config.enableBreakpoints;
let breakpoints = startBreakpointManager(breakpointsEnabled);
// The app's worker threads post their in-line hits here directly (not through the main thread),
// and, once armed, their events and flush requests.
const fromThreads = receiveFromThreads({
  hit: (json, threadId) => breakpoints.inlineHit(json, threadId),
  event: takeEvent,
  flush: (threadId, requestId, timeoutMs) => void flushed(timeoutMs).then((ok) => postOnce(threadRepliesChannel(threadId), { kind: 'flushed', requestId, ok })),
});

/** The backend's `configure`: applies the settings that are safe to change live, validated like env values. */
function applyConfigure(payload: unknown): void {
  const { settings, rejected, ignored, adjusted } = parseConfigure(payload);
  // First, so that turning debug on also shows what this very message refused.
  if (settings.debug !== undefined) logger.setDebug(settings.debug);
  if (rejected.length) logger.debug(`configure: refused ${rejected.join(', ')}`);
  if (ignored.length) logger.debug(`configure: not changed live: ${ignored.join(', ')}`);
  if (adjusted.length) logger.debug(`configure: ${adjusted.join(', ')}`);
  if (settings.maxCaptureDepth !== undefined) limits.maxDepth = settings.maxCaptureDepth;
  if (settings.maxStringLength !== undefined) limits.maxStringLength = settings.maxStringLength;
  if (settings.maxCollectionSize !== undefined) limits.maxCollectionSize = settings.maxCollectionSize;
  if (settings.enableBreakpoints !== undefined && settings.enableBreakpoints !== breakpointsEnabled) {
    breakpointsEnabled = settings.enableBreakpoints;
    void breakpoints.close(breakpointsEnabled ? undefined : 'breakpoints were turned off by the backend');
    breakpoints = startBreakpointManager(breakpointsEnabled);
  }
  // The app's thread starts the monitor for a new threshold and answers with `loop_delay`.
  let eventLoopBlockedMs: number | undefined;
  if (settings.eventLoopBlockedMs !== undefined && settings.eventLoopBlockedMs !== blockedLoopThresholdMs) {
    eventLoopBlockedMs = blockedLoopThresholdMs = settings.eventLoopBlockedMs;
    // Stopped before the app's thread stops the monitor it reads: a count that no longer grows is not a blocked loop.
    blockedLoops.use(undefined, 0);
  }
  if (settings.samplingRate !== undefined || settings.debug !== undefined || eventLoopBlockedMs !== undefined) {
    reply({ kind: 'configure', samplingRate: settings.samplingRate, debug: settings.debug, eventLoopBlockedMs });
  }
  logger.debug(`configure applied: ${JSON.stringify(settings)}`);
}

/** Events waiting for the worker threads' answer (each bounded by thread-sessions.ts's timeout). */
const lookups = new Set<Promise<void>>();

/**
 * An event without locals from a process whose app runs worker threads: its error may be a copy
 * of one a thread threw and captured locals for (a pool hands a task's error to the main thread).
 */
function sendWithThreadLocals(event: CapturedError): void {
  const key = event.repeatKey as string;
  delete event.repeatKey;
  const lookup = agentInspector
    .threadLocalsOf({ type: event.exceptionType, message: event.message, key })
    .then(
      (found) => {
        if (!found) return;
        event.snapshot = found.snapshot;
        event.localsStatus = 'captured';
        event.context.thread = { id: found.threadId };
      },
      () => undefined,
    )
    .finally(() => {
      lookups.delete(lookup);
      sendException(event);
    });
  lookups.add(lookup);
}

/**
 * A worker thread's agent does not know why its event has no locals (the pause budget and the
 * arming are this worker's): says 'budget' or 'not_ready' instead of 'unavailable' when one is why.
 */
function explainThreadLocals(event: CapturedError): void {
  const thread = event.context.thread as { id?: unknown } | undefined;
  if (event.localsStatus !== 'unavailable' || typeof thread?.id !== 'number') return;
  const why = agentInspector.threadMissingLocals(thread.id);
  if (why) event.localsStatus = why;
}

/** Longest the exit waits for those lookups (the app's thread waits exitFlushTimeoutMs + 250 ms). */
const EXIT_LOOKUP_MS = 150;

/** Resolves once no event waits for a lookup. */
function lookedUp(): Promise<unknown> {
  return Promise.all([...lookups]);
}

/** Delivers what is pending, events still waiting for the threads' locals included. */
function flushed(timeoutMs: number): Promise<boolean> {
  return lookedUp().then(() => transport.flush(timeoutMs));
}

/** An event of the app's thread (or of one of its worker threads). */
function takeEvent(event: CapturedError): void {
  agentInspector.errorReported();
  explainThreadLocals(event);
  if (event.repeatKey !== undefined && event.snapshot === undefined) sendWithThreadLocals(event);
  else sendException(event);
}

function sendException(event: CapturedError): void {
  try {
    const payload = exceptionEvents.toPayload(event);
    if (payload) {
      payload.context = redactContext(payload.context);
      transport.send('exception', payload);
    }
  } catch (err) {
    // Events of the app's worker threads come over a channel the app could post on too.
    logger.debug(`an event could not be built: ${(err as Error)?.message}`);
  }
}

// AIVORY_EVENT_LOOP_BLOCKED_MS, or the backend's `configure`: the app's thread shares its
// loop-delay monitor only while it is set.
let blockedLoopThresholdMs = config.eventLoopBlockedMs;
const blockedLoops = createBlockedLoopWatch({ ready: agentInspector.ready, logger, limits, borrow: () => agentInspector.borrow('a blocked event loop'), emit: sendException });
blockedLoops.use(data.loopDelay, config.eventLoopBlockedMs);

function reply(msg: WorkerToMain): void {
  parentPort?.postMessage(msg);
}

parentPort?.on('message', (msg: MainToWorker) => {
  switch (msg.kind) {
    case 'exception':
      Atomics.add(flags, SHARED.received, 1);
      takeEvent(msg.event);
      break;
    case 'breakpoint_hit':
      breakpoints.inlineHit(msg.json);
      break;
    case 'loop_delay':
      if (msg.thresholdMs === 0) logger.debug('blocked event loops are no longer reported');
      else if (!msg.monitor) logger.debug(`blocked event loops are not reported: ${msg.userInspector ? 'the app runs its own debugger' : 'the event-loop delay monitor could not start'}`);
      blockedLoops.use(msg.monitor, msg.thresholdMs);
      break;
    case 'thread_started':
      agentInspector.threadStarted();
      break;
    case 'flush':
      void flushed(msg.timeoutMs).then((ok) => reply({ kind: 'flushed', requestId: msg.requestId, ok }));
      break;
    case 'shutdown':
      blockedLoops.stop();
      fromThreads.close();
      void breakpoints.close();
      agentInspector.stop();
      void lookedUp()
        .then(() => transport.close(msg.timeoutMs))
        .then(() => reply({ kind: 'flushed', requestId: msg.requestId, ok: true }));
      break;
    case 'exit':
      // The app's thread now waits for us on purpose: not a blocked loop.
      blockedLoops.stop();
      // Events still asking the worker threads for their locals first (the threads run until the
      // process ends), for at most EXIT_LOOKUP_MS: well inside the app thread's wait, so that the
      // session is detached before it exits (a session still attached makes Node print "Waiting
      // for the debugger to disconnect...").
      // A turn first: what a thread posted here before the process began to exit (its crash, which
      // ends the process) is taken before the delivery; its channel is read after this port's.
      void new Promise((resolve) => setImmediate(resolve))
        .then(() => Promise.race([lookedUp(), new Promise((resolve) => setTimeout(resolve, EXIT_LOOKUP_MS))]))
        .then(() => {
          agentInspector.stop();
          return transport.flushForExit(msg.timeoutMs);
        })
        .finally(() => {
          Atomics.store(flags, SHARED.exitDone, 1);
          Atomics.notify(flags, SHARED.exitDone);
        });
      break;
  }
});
