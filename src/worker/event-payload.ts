import { createHash } from 'node:crypto';
import type { AgentConfig } from '../shared/config';
import type { CapturedError, RawFrame } from '../shared/messages';
import type { ExceptionPayload, Frame } from '../shared/protocol';

/** Frames outside node_modules and Node's own internals. */
export function isInAppFile(file: string): boolean {
  return !file.includes('/node_modules/') && !file.includes('\\node_modules\\') && !file.startsWith('node:') && file !== 'native' && file !== '<anonymous>' && !file.startsWith('internal/');
}

function toPath(file: string): string {
  if (file.startsWith('file://')) {
    try {
      return decodeURIComponent(new URL(file).pathname);
    } catch {
      return file;
    }
  }
  return file;
}

export function toWireFrame(raw: RawFrame): Frame {
  const path = toPath(raw.file);
  const frame: Frame = {
    method_name: raw.functionName,
    file_name: path.split(/[\\/]/).pop() ?? path,
    file_path: path,
    line_number: raw.line,
    column_number: raw.column,
    is_native: raw.isNative,
    source_available: path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path),
    in_app: isInAppFile(path),
  };
  if (raw.typeName) frame.class_name = raw.typeName;
  if (raw.locals) frame.local_variables = raw.locals;
  return frame;
}

/** Path without machine-specific prefix: from the last node_modules/ or relative to cwd. */
function stablePath(path: string, cwd: string): string {
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm);
  if (path.startsWith(cwd + '/')) return path.slice(cwd.length + 1);
  return path.split(/[\\/]/).slice(-2).join('/');
}

/** 16 hex chars from the type and the top in-app frames (file and function, line only for in-app). */
export function fingerprint(type: string, frames: Frame[], cwd: string): string {
  const parts = [type];
  let used = 0;
  for (const f of frames) {
    if (used >= 5) break;
    if (f.in_app) {
      parts.push(`${stablePath(f.file_path, cwd)}:${f.method_name}:${f.line_number}`);
      used++;
    }
  }
  if (used === 0) for (const f of frames.slice(0, 3)) parts.push(`${stablePath(f.file_path, cwd)}:${f.method_name}`);
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

/** Completes a main-thread capture into the wire `exception` payload. */
export function toExceptionPayload(event: CapturedError, config: AgentConfig, agentId: string, cwd: string): ExceptionPayload {
  const stack = event.frames.map(toWireFrame);
  const top = stack.find((f) => f.in_app && f.local_variables);
  const payload: ExceptionPayload = {
    id: event.id,
    exception_type: event.exceptionType,
    message: event.message,
    fingerprint: fingerprint(event.exceptionType, stack, cwd),
    stack_trace: stack,
    local_variables: top?.local_variables ?? event.locals ?? {},
    context: event.context,
    captured_at: event.capturedAt,
    agent_id: agentId,
    environment: config.environment,
    runtime: 'nodejs',
    runtimeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
    mechanism: event.mechanism,
    locals_status: event.localsStatus,
  };
  if (event.causes) payload.cause_chain = event.causes;
  if (config.gitContext) payload.git_context = config.gitContext;
  return payload;
}
