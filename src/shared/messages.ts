/**
 * Messages between the app's thread (main) and the agent worker, over the worker's parentPort.
 * One union per direction; every member is structured-clone safe.
 */
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
  causes?: CauseInfo[];
  context: EventContext;
  mechanism: string;
  capturedAt: string;
}

export type MainToWorker =
  | { kind: 'exception'; event: CapturedError }
  | { kind: 'flush'; requestId: number; timeoutMs: number }
  | { kind: 'shutdown'; requestId: number; timeoutMs: number }
  /** Sent from process 'exit': deliver what is pending, detach the inspector, then signal SHARED.exitDone. */
  | { kind: 'exit'; timeoutMs: number };

export type WorkerToMain =
  | { kind: 'flushed'; requestId: number; ok: boolean }
  /** Live configuration from the backend's `configure`, already validated. */
  | { kind: 'configure'; samplingRate?: number; debug?: boolean };

/** Data handed to the worker at start. */
export interface WorkerData {
  config: AgentConfig;
  /** Int32Array view indexes: see SHARED. */
  shared: SharedArrayBuffer;
  agentVersion: string;
  agentId: string;
  /** Main thread's pid and argv[1] for diagnostics. */
  entry: string | undefined;
}

/** Indexes into the Int32Array over WorkerData.shared. */
export const SHARED = Object.freeze({
  /** Worker sets 1 (and notifies) when the 'exit' request is done. */
  exitDone: 0,
  /** Worker sets 1 once the inspector is attached and exception capture is armed. */
  inspectorReady: 1,
  length: 8,
});
