/**
 * Messages between the app's thread (main) and the agent worker, over the worker's parentPort.
 * One union per direction; every member is structured-clone safe.
 */
import type { Histogram } from 'node:perf_hooks';
import type { AgentConfig } from './config';
import type { CauseInfo, EventContext, Variable } from './protocol';

/** A stack frame as parsed on the main thread, before source maps (worker applies them). */
export interface RawFrame {
  functionName: string;
  typeName?: string;
  /** Path or URL as V8 printed it (file:///..., node:..., /abs/path.js). */
  file: string;
  line: number;
  column: number;
  isNative: boolean;
  /** Locals captured during the exception pause for this frame, if any. */
  locals?: Record<string, Variable>;
}

/** An error turned into an event on the main thread; the worker completes and sends it. */
export interface CapturedError {
  id: string;
  exceptionType: string;
  message: string;
  frames: RawFrame[];
  /** Locals of the innermost in-app frame (as the protocol's top-level local_variables). */
  locals?: Record<string, Variable>;
  localsStatus: 'captured' | 'budget' | 'not_ready' | 'primitive' | 'unavailable';
  /**
   * Locals captured during the exception pause, with the pause's frame positions. The worker aligns
   * them to `frames` (after source maps) by position, not by index.
   */
  snapshot?: LocalsSnapshot;
  causes?: CauseInfo[];
  /** Repeats of this error (same type and stack) the app's thread dropped before it, over the rate limit. */
  suppressedBefore?: number;
  context: EventContext;
  mechanism: string;
  capturedAt: string;
  /**
   * The error's rate-limit key (report.ts), on an event without locals of a process whose app
   * started worker threads: the error may be a copy of one a thread captured locals for.
   */
  repeatKey?: string;
}

export type MainToWorker =
  | { kind: 'exception'; event: CapturedError }
  /** A breakpoint hit taken in-line by the gate on the main thread (JSON of gate.ts's InlineSnapshot). */
  | { kind: 'breakpoint_hit'; json: string }
  | { kind: 'flush'; requestId: number; timeoutMs: number }
  | { kind: 'shutdown'; requestId: number; timeoutMs: number }
  /** Sent from process 'exit': deliver what is pending, detach the inspector, then signal SHARED.exitDone. */
  | { kind: 'exit'; timeoutMs: number }
  /** The answer to a live change of the blocked-loop threshold: the new monitor, or none (off, or the app's own debugger). */
  | { kind: 'loop_delay'; thresholdMs: number; monitor?: LoopDelayMonitor; userInspector: boolean }
  /** The app's main thread started a worker thread (the inspector attaches to it for exception locals). */
  | { kind: 'thread_started' };

export type WorkerToMain =
  | { kind: 'flushed'; requestId: number; ok: boolean }
  /** Live configuration from the backend's `configure`, already validated. */
  | { kind: 'configure'; samplingRate?: number; debug?: boolean; eventLoopBlockedMs?: number };

/** The app thread's event-loop delay monitor, shared with the worker (blocked-loop reports). */
export interface LoopDelayMonitor {
  histogram: Histogram;
  resolutionMs: number;
}

/** A stack frame of an in-line breakpoint hit, read from V8's CallSite API on the app's thread. */
export interface SiteFrame {
  /** V8's name of the function, as a pause's call frame shows it. */
  functionName: string;
  /** Path (CommonJS) or URL (ESM, node:) as V8 names the script; '' when it has none. */
  file: string;
  /** 1-based. */
  line: number;
  column: number;
  isNative: boolean;
}

/** Limits of one locals capture (the serializer's bounds). */
export interface CaptureLimits {
  maxDepth: number;
  maxStringLength: number;
  maxCollectionSize: number;
  /** Variables per capture, across all frames (innermost frames are served first). */
  maxNodes: number;
}

/** One frame of a capture request: where it is (0-based, generated code) and its scope objects. */
export interface PlanFrame {
  url: string;
  line: number;
  column: number;
  functionName: string;
  /** 0-based line where the frame's function starts; -1 when unknown. */
  functionLine: number;
  /**
   * One letter per scope object passed after the plan, in scope-chain order: 's' a plain scope,
   * 'w' the CommonJS module wrapper's scope (its exports/require/module/__filename/__dirname are dropped).
   */
  scopes: string;
  /** Names shown as uninitialised (a `let`/`const` whose declaration has not run yet), after the scopes' own. */
  uninitialized?: string[];
}

/** What the worker passes to the pre-installed serializer during a pause (as a CDP value). */
export interface CapturePlan {
  limits: CaptureLimits;
  frames: PlanFrame[];
  /** Exception captures: whether the innermost call frame is app code (the app's own `throw`), not Node or a dependency it called. */
  thrownInApp?: boolean;
}

/** One captured frame: the pause's position of the frame and its locals. */
export interface SnapshotFrame {
  url: string;
  /** 0-based, generated code. */
  line: number;
  column: number;
  functionName: string;
  functionLine: number;
  locals: Record<string, Variable>;
}

/** The serializer's output: frames in pause order (innermost first). */
export interface LocalsSnapshot {
  frames: SnapshotFrame[];
}

/** Data handed to the worker at start. */
export interface WorkerData {
  config: AgentConfig;
  /** Int32Array view indexes: see SHARED. */
  shared: SharedArrayBuffer;
  agentVersion: string;
  agentId: string;
  /** Main thread's pid and argv[1] for diagnostics. */
  entry: string | undefined;
  /** The app opened its own inspector (`--inspect`, `inspector.open()`): exception pauses stay off. */
  userInspector?: boolean;
  /**
   * Node writes heap snapshots near the heap limit (`--heapsnapshot-near-heap-limit`), from a
   * callback V8 does not call while a debugger is on: the agent's goes off after its heap-limit report.
   */
  heapSnapshotsNearLimit?: boolean;
  /**
   * With AIVORY_EVENT_LOOP_BLOCKED_MS: the app thread's event-loop delay monitor, shared (its
   * count grows each time its native timer runs on the app's thread; it stops while the loop is blocked).
   */
  loopDelay?: LoopDelayMonitor;
}

/** Values of SHARED.attach. */
export const ATTACH = Object.freeze({ undecided: 0, worker: 1, exiting: 2 });

/** Indexes into the Int32Array over WorkerData.shared. */
export const SHARED = Object.freeze({
  /** Worker sets 1 (and notifies) when the 'exit' request is done. */
  exitDone: 0,
  /** Worker sets 1 once the inspector is attached and exception capture is armed. */
  inspectorReady: 1,
  /** Worker sets 1 while exception pauses are off because their budget is spent (back to 0 when re-armed). */
  budgetSpent: 2,
  /** Main sets 1 when the app has its own inspector open (inspector.url()); the worker then stays out of the way. */
  userInspector: 3,
  /**
   * Who may still attach an inspector session: 0 nobody decided yet, ATTACH.worker once the worker
   * is connecting (compare-exchange), ATTACH.exiting when the app's thread exits first.
   */
  attach: 4,
  /** Worker adds 1 per 'exception' message it takes: the app's thread bounds the events in flight. */
  received: 5,
  /** Main adds 1 per event it dropped because too many were in flight; the worker takes and reports them. */
  mainDropped: 6,
  length: 8,
});
