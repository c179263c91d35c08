import { createHash } from 'node:crypto';
import type { AgentConfig } from '../shared/config';
import type { CapturedError, RawFrame, SnapshotFrame } from '../shared/messages';
import type { CauseInfo, ExceptionPayload, Frame, Variable } from '../shared/protocol';
import { alignFrames, type PausePosition, type StackPosition } from './events/align-locals';
import { scriptPath, type SourceMapper } from './events/source-maps';
import { isAppUrl } from './inspector/app-frames';

/** A frame's file that is the app's (see isAppUrl), not V8's placeholders for frames without one. */
export function isInAppFile(file: string): boolean {
  return file !== 'native' && file !== '<anonymous>' && isAppUrl(file);
}

/** A stack position as a path (file:// URLs decoded), 1-based, through source maps when one applies. */
interface Located {
  file: string;
  line: number;
  column: number;
  generated?: { file_path: string; line_number: number; column_number: number };
}

function locate(file: string, line: number, column: number, mapper: SourceMapper | undefined): Located {
  const path = scriptPath(file) ?? file;
  const mapped = mapper?.map(file, line, column);
  if (!mapped) return { file: path, line, column };
  return { file: mapped.file, line: mapped.line, column: mapped.column, generated: { file_path: path, line_number: line, column_number: column } };
}

export function toWireFrame(raw: RawFrame, mapper?: SourceMapper): Frame {
  const at = locate(raw.file, raw.line, raw.column, mapper);
  const frame: Frame = {
    method_name: raw.functionName,
    file_name: at.file.split(/[\\/]/).pop() ?? at.file,
    file_path: at.file,
    line_number: at.line,
    column_number: at.column,
    is_native: raw.isNative,
    source_available: at.file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(at.file),
    in_app: isInAppFile(at.file),
  };
  if (at.generated) frame.generated = at.generated;
  if (raw.typeName) frame.class_name = raw.typeName;
  if (raw.locals) frame.local_variables = raw.locals;
  return frame;
}

/** Path without machine-specific prefix: from the last node_modules/ or relative to cwd. */
function stablePath(path: string, cwd: string): string {
  const p = path.replace(/\\/g, '/');
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) return p.slice(nm);
  const root = cwd.replace(/\\/g, '/');
  if (p.startsWith(root + '/')) return p.slice(root.length + 1);
  return p.split('/').slice(-2).join('/');
}

/**
 * 16 hex chars from the type and the top in-app frames (stable path, function and line; positions
 * of dependencies never count). Paths are taken after source maps, so an app run with or without
 * --enable-source-maps groups the same.
 */
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

/** Where a pause frame is in the app's files: pause positions are in the code V8 runs, so through the script's own map. */
function pausePosition(f: SnapshotFrame, mapper: SourceMapper | undefined): PausePosition {
  const path = scriptPath(f.url) ?? f.url;
  const at = mapper?.mapScript(f.url, f.line + 1, f.column + 1);
  if (!at) return { file: path, line: f.line + 1, functionLine: f.functionLine >= 0 ? f.functionLine + 1 : 0 };
  const functionLine = f.functionLine >= 0 ? mapper?.mapScript(f.url, f.functionLine + 1, 1)?.line ?? 0 : 0;
  return { file: at.file, line: at.line, functionLine };
}

/** Puts each captured frame's locals on the stack frame it belongs to. */
function attachSnapshot(stack: Frame[], snapshot: SnapshotFrame[], mapper: SourceMapper | undefined): void {
  const positions: StackPosition[] = stack.map((f) => ({ file: f.file_path, line: f.line_number }));
  const pause = snapshot.map((f) => pausePosition(f, mapper));
  const match = alignFrames(positions, pause);
  for (let j = 0; j < match.length; j++) {
    const i = match[j];
    if (i >= 0 && !stack[i].local_variables) stack[i].local_variables = snapshot[j].locals;
  }
}

function mapCause(cause: CauseInfo, mapper: SourceMapper | undefined): CauseInfo {
  if (!cause.stack_trace || !mapper) return cause;
  const frames = cause.stack_trace.map((f) => {
    const mapped = mapper.map(f.file_path, f.line_number, f.column_number);
    if (!mapped) return { ...f, in_app: isInAppFile(f.file_path) };
    return {
      ...f,
      file_path: mapped.file,
      file_name: mapped.file.split(/[\\/]/).pop() ?? mapped.file,
      line_number: mapped.line,
      column_number: mapped.column,
      in_app: isInAppFile(mapped.file),
      generated: { file_path: f.file_path, line_number: f.line_number, column_number: f.column_number },
    };
  });
  return { ...cause, stack_trace: frames };
}

/**
 * Completes a main-thread capture into the wire `exception` payload: source maps, locals aligned
 * to their frames, in-app flags, fingerprint. Top-level `local_variables` are the innermost in-app
 * frame's (what the other AIVory agents send).
 */
export function toExceptionPayload(event: CapturedError, config: AgentConfig, agentId: string, cwd: string, mapper?: SourceMapper): ExceptionPayload {
  const stack = event.frames.map((f) => toWireFrame(f, mapper));
  if (event.snapshot && Array.isArray(event.snapshot.frames)) attachSnapshot(stack, event.snapshot.frames, mapper);
  const top = stack.find((f) => f.in_app && f.local_variables);
  let locals: Record<string, Variable> = top?.local_variables ?? event.locals ?? {};
  // No stack frame to hang them on (e.g. a stack the app's prepareStackTrace replaced): keep the
  // innermost captured frame's locals at the top level rather than losing them.
  if (!top && !event.locals && event.snapshot?.frames?.length) locals = event.snapshot.frames[0].locals;
  const payload: ExceptionPayload = {
    id: event.id,
    exception_type: event.exceptionType,
    message: event.message,
    fingerprint: fingerprint(event.exceptionType, stack, cwd),
    stack_trace: stack,
    local_variables: locals,
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
  if (event.causes) payload.cause_chain = event.causes.map((c) => mapCause(c, mapper));
  if (config.gitContext) payload.git_context = config.gitContext;
  return payload;
}
