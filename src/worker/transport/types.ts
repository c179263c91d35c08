import type { AgentMessageMap, AgentMessageType, BackendFrame, RegisteredPayload } from '../../shared/protocol';

/** Where the connection is. */
export type TransportPhase =
  /** opening the WebSocket */
  | 'connecting'
  /** open, `register` sent, waiting for `registered` */
  | 'registering'
  | 'registered'
  /** the last attempt failed or the connection dropped; a reconnect is scheduled */
  | 'waiting'
  /** closed by close(), or the backend refused the API key: nothing is sent any more */
  | 'stopped';

export interface TransportStatus {
  phase: TransportPhase;
  queued: number;
  queuedBytes: number;
  /** Frames dropped from the full queue since start. */
  dropped: number;
  /** Connection attempts since start. */
  attempts: number;
}

/** The agent's one connection to the backend, as the rest of the worker sees it. */
export interface Transport {
  /** Queues a message; sent once registered. Never throws, never blocks. */
  send<T extends AgentMessageType>(type: T, payload: AgentMessageMap[T]): void;
  /** Resolves true when the queue is empty and the socket drained, false on timeout. */
  flush(timeoutMs: number): Promise<boolean>;
  /**
   * For process exit: like flush(), but gives up at once when no connection is open or being
   * opened (a backend that is down must not delay the app's exit), and when the connection drops.
   */
  flushForExit(timeoutMs: number): Promise<boolean>;
  /** Flushes then closes; no reconnect afterwards. */
  close(timeoutMs: number): Promise<void>;
  status(): TransportStatus;
}

export interface TransportHandlers {
  /** `set_breakpoint`, `remove_breakpoint` and `configure` frames, validated. */
  onMessage(frame: BackendFrame): void;
  /** Each time the backend accepts a (re)connection; `registered`'s payload may announce capabilities. */
  onRegistered?(payload: RegisteredPayload): void;
}
