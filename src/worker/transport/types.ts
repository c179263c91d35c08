import type { AgentMessageMap, AgentMessageType, BackendFrame } from '../../shared/protocol';

/** The agent's one connection to the backend, as the rest of the worker sees it. */
export interface Transport {
  /** Queues a message; sent once registered. Never throws, never blocks. */
  send<T extends AgentMessageType>(type: T, payload: AgentMessageMap[T]): void;
  /** Resolves true when the queue is empty and the socket drained, false on timeout. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Flushes then closes; no reconnect afterwards. */
  close(timeoutMs: number): Promise<void>;
}

export interface TransportHandlers {
  /** A validated backend frame other than `registered`/`error` bookkeeping. */
  onMessage(frame: BackendFrame): void;
}
