/**
 * The AIVory agent wire protocol: every frame is `{ type, payload, timestamp }` as JSON text.
 * Fields marked "extension" are ours; other backends ignore them.
 */

export interface Variable {
  name: string;
  type: string;
  /** String rendering, cut to max_string_length. */
  value: string;
  is_null: boolean;
  is_truncated: boolean;
  children?: Record<string, Variable>;
  array_elements?: Variable[];
  array_length?: number;
}

export interface Frame {
  method_name: string;
  class_name?: string;
  file_name: string;
  file_path: string;
  /** 1-based. */
  line_number: number;
  column_number: number;
  is_native: boolean;
  source_available: boolean;
  /** extension */
  in_app?: boolean;
  /** extension: locals of this frame */
  local_variables?: Record<string, Variable>;
  /** extension: the position in generated code when source maps moved it */
  generated?: { file_path: string; line_number: number; column_number: number };
}

export interface GitContext {
  commit_hash?: string;
  commit_short?: string;
  branch?: string;
  remote_url?: string;
  version?: string;
  project_name?: string;
  project_identifier?: string;
  source: 'agent';
  captured_at: string;
}

export interface RuntimeInfo {
  runtime: 'nodejs';
  runtimeVersion: string;
  platform: string;
  arch: string;
}

export interface UserInfo {
  id?: string;
  email?: string;
  username?: string;
}

export interface RequestInfo {
  method?: string;
  url?: string;
  route?: string;
  headers?: Record<string, string>;
  client_ip?: string;
  user_agent?: string;
  request_id?: string;
  status_code?: number;
}

export interface EventContext {
  user?: UserInfo;
  request?: RequestInfo;
  [key: string]: unknown;
}

export interface CauseInfo {
  exception_type: string;
  message: string;
  stack_trace?: Frame[];
  /** Extension: one of an AggregateError's `errors` (a sibling of the others), not a `cause`. */
  aggregated?: boolean;
}

export interface RegisterPayload extends RuntimeInfo {
  api_key: string;
  agent_id: string;
  hostname: string;
  environment: string;
  agent_version: string;
  git_context?: GitContext;
  /** extension */
  capabilities?: { breakpoints: boolean; breakpoint_status: true; [key: string]: unknown };
}

export interface HeartbeatPayload {
  timestamp: number;
  agent_id: string;
  /** extension: messages dropped from the queue since the last heartbeat */
  dropped_messages?: number;
}

export interface ExceptionPayload extends RuntimeInfo {
  id: string;
  exception_type: string;
  message: string;
  fingerprint: string;
  stack_trace: Frame[];
  local_variables: Record<string, Variable>;
  context: EventContext;
  captured_at: string;
  agent_id: string;
  environment: string;
  git_context?: GitContext;
  /** extension: error.cause chain, outermost first */
  cause_chain?: CauseInfo[];
  /** extension: how the error reached us (uncaught, unhandled_rejection, express, fastify, http, manual) */
  mechanism?: string;
  /** extension: events of this fingerprint not sent since the last one (rate limit) */
  suppressed_count?: number;
  /** extension: whether locals could be captured, and why not */
  locals_status?: 'captured' | 'budget' | 'not_ready' | 'primitive' | 'unavailable';
}

export interface BreakpointHitPayload {
  breakpoint_id: string;
  agent_id: string;
  captured_at: string;
  file_path: string;
  line_number: number;
  stack_trace: Frame[];
  local_variables: Record<string, Variable>;
  hit_count: number;
  context?: EventContext;
}

export type BreakpointStatusName =
  | 'received'
  | 'installed'
  | 'pending'
  | 'error'
  | 'removed'
  | 'expired'
  | 'exhausted';

export interface BreakpointStatusPayload {
  breakpoint_id: string;
  status: BreakpointStatusName;
  message?: string;
  actual_line?: number;
}

export interface SetBreakpointPayload {
  id: string;
  file_path: string;
  line_number: number;
  condition?: string;
  max_hits?: number;
  expires_at?: string | number;
  ttl_seconds?: number;
  /** Extension: true captures every in-app frame's locals (the app pauses for the hit). */
  stack_locals?: boolean;
}

export interface RemoveBreakpointPayload {
  id: string;
}

export interface RegisteredPayload {
  agent_id?: string;
  [key: string]: unknown;
}

export interface ErrorPayload {
  code: string;
  message?: string;
}

export type ConfigurePayload = Record<string, unknown>;

/** Messages the agent sends. */
export interface AgentMessageMap {
  register: RegisterPayload;
  heartbeat: HeartbeatPayload;
  exception: ExceptionPayload;
  breakpoint_hit: BreakpointHitPayload;
  breakpoint_status: BreakpointStatusPayload;
}

/** Messages the backend sends. */
export interface BackendMessageMap {
  registered: RegisteredPayload;
  error: ErrorPayload;
  set_breakpoint: SetBreakpointPayload;
  remove_breakpoint: RemoveBreakpointPayload;
  configure: ConfigurePayload;
}

export type AgentMessageType = keyof AgentMessageMap;
export type BackendMessageType = keyof BackendMessageMap;

export interface WireFrame<T extends string = string, P = unknown> {
  type: T;
  payload: P;
  timestamp: number;
}

export type AgentFrame = { [K in AgentMessageType]: WireFrame<K, AgentMessageMap[K]> }[AgentMessageType];
export type BackendFrame = { [K in BackendMessageType]: WireFrame<K, BackendMessageMap[K]> }[BackendMessageType];

/** Error codes after which the agent stops reconnecting. */
export const FINAL_ERROR_CODES: ReadonlySet<string> = new Set(['auth_error', 'invalid_api_key']);
