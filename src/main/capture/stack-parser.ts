import type { RawFrame } from '../../shared/messages';

// V8 stack lines: "    at fn (file:line:col)", "    at file:line:col", "    at async fn (file:line:col)",
// "    at new Foo (file:line:col)", "    at Foo.bar [as baz] (file:line:col)", "    at fn (native)".
const FRAME_WITH_NAME = /^\s*at (?:async )?(.*?) \((.*)\)$/;
const FRAME_BARE = /^\s*at (?:async )?(.*)$/;
const LOCATION = /^(.*):(\d+):(\d+)$/;

/** Parses the frames of a V8 `error.stack` string, innermost first. Lines that are not frames are skipped. */
export function parseStack(stack: string, limit = 100): RawFrame[] {
  const frames: RawFrame[] = [];
  const lines = stack.split('\n');
  for (let i = 0; i < lines.length && frames.length < limit; i++) {
    const line = lines[i];
    if (!line.startsWith('    at ')) continue;
    const frame = parseFrameLine(line);
    if (frame) frames.push(frame);
  }
  return frames;
}

function parseFrameLine(line: string): RawFrame | undefined {
  let name = '';
  let location: string;
  const named = FRAME_WITH_NAME.exec(line);
  if (named) {
    name = named[1];
    location = named[2];
  } else {
    const bare = FRAME_BARE.exec(line);
    if (!bare) return undefined;
    location = bare[1];
  }
  // eval frames: "eval at fn (file:1:2), <anonymous>:1:1" -> keep the outer location
  const evalAt = /^eval at .*? \((.*?)\)/.exec(location);
  if (evalAt) location = evalAt[1];
  if (location === 'native' || location === '<anonymous>') {
    return { functionName: cleanName(name), file: location, line: 0, column: 0, isNative: location === 'native' };
  }
  const loc = LOCATION.exec(location);
  if (!loc) return { functionName: cleanName(name), file: location, line: 0, column: 0, isNative: false };
  const { functionName, typeName } = splitName(name);
  const frame: RawFrame = { functionName, file: loc[1], line: Number(loc[2]), column: Number(loc[3]), isNative: false };
  if (typeName) frame.typeName = typeName;
  return frame;
}

function cleanName(name: string): string {
  return name.replace(/ \[as [^\]]+\]$/, '').replace(/^new /, '') || '<anonymous>';
}

function splitName(raw: string): { functionName: string; typeName?: string } {
  const name = cleanName(raw);
  const dot = name.lastIndexOf('.');
  if (dot > 0 && !name.startsWith('<')) {
    const typeName = name.slice(0, dot);
    const fn = name.slice(dot + 1);
    if (typeName !== 'Object' && fn) return { functionName: fn, typeName };
    return { functionName: fn || name };
  }
  return { functionName: name };
}
