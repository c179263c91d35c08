/**
 * Which frame of `error.stack` each captured pause frame belongs to. The two lists differ: the
 * stack's top frame is where the error was *created* (maybe in a helper), the pause's where it was
 * *thrown*; Error.stackTraceLimit cuts the stack; async frames exist only in the stack; the app's
 * prepareStackTrace may drop frames. So frames are matched by file and line, in order, never by index.
 */

export interface StackPosition {
  /** Normalised path (or url) after source maps. */
  file: string;
  /** 1-based, after source maps. */
  line: number;
}

export interface PausePosition extends StackPosition {
  /** 1-based first line of the frame's function after source maps; 0 when unknown. */
  functionLine: number;
}

/** How far above the throwing frame the error may have been created (helpers, constructors). */
const CREATION_WINDOW = 6;

/**
 * For each pause frame, the index of its stack frame or -1. Call positions of outer frames are
 * identical in both lists (same V8 position), so they match exactly; a frame left over (typically
 * the throwing one) takes the stack frame just above the next match that lies in the same file
 * inside its function (from the function's first line to the pause line).
 */
export function alignFrames(stack: readonly StackPosition[], pause: readonly PausePosition[]): number[] {
  const match = new Array<number>(pause.length).fill(-1);
  let from = 0;
  for (let j = 0; j < pause.length; j++) {
    const p = pause[j];
    const limit = j === 0 ? Math.min(stack.length, CREATION_WINDOW) : stack.length;
    for (let i = from; i < limit; i++) {
      if (stack[i].file === p.file && stack[i].line === p.line) {
        match[j] = i;
        from = i + 1;
        break;
      }
    }
  }
  for (let j = 0; j < pause.length; j++) {
    if (match[j] >= 0) continue;
    const p = pause[j];
    let lo = 0;
    for (let k = j - 1; k >= 0; k--) {
      if (match[k] >= 0) {
        lo = match[k] + 1;
        break;
      }
    }
    let hi = stack.length;
    for (let k = j + 1; k < pause.length; k++) {
      if (match[k] >= 0) {
        hi = match[k];
        break;
      }
    }
    if (j === 0) hi = Math.min(hi, lo + CREATION_WINDOW);
    for (let i = hi - 1; i >= lo; i--) {
      const s = stack[i];
      if (s.file === p.file && s.line <= p.line && (p.functionLine <= 0 || s.line >= p.functionLine)) {
        match[j] = i;
        break;
      }
    }
  }
  return match;
}
