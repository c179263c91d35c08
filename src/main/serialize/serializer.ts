/**
 * The in-process locals serializer. The agent worker calls it during a pause with ONE
 * Runtime.callFunctionOn, passing a CapturePlan and the scope objects of the frames; it turns them
 * into protocol Variables right there (values as they are at the pause) and either keeps the result
 * for the thrown object (exceptions) or returns it by value (breakpoints).
 *
 * Snapshots are kept in a WeakMap keyed by the thrown object rather than on a property of it: no
 * key appears on the user's error at all (Reflect.ownKeys, util.inspect showHidden), frozen errors
 * and Proxies need no special path, and the entry dies with the error.
 */
import { types } from 'node:util';
import type { AgentConfig } from '../../shared/config';
import { DEFAULTS, GLOBAL_KEYS } from '../../shared/defaults';
import type { CaptureLimits, CapturePlan, LocalsSnapshot, SnapshotFrame } from '../../shared/messages';
import type { Variable } from '../../shared/protocol';
import { getOwnDescriptor } from './intrinsics';
import { createRedactor, type Redactor } from './redact';
import { VariableWalker } from './variables';
import { publishGlobal } from '../globals';

/** Bindings every CommonJS module wrapper has: noise, never the user's own variables. */
const WRAPPER_NAMES: ReadonlySet<string> = new Set(['exports', 'require', 'module', '__filename', '__dirname']);
/**
 * Helper functions that TypeScript toolchains put at the top of the modules they emit (esbuild, as
 * tsx and bundlers run it, and tsc's tslib helpers). In code compiled that way they sit in a scope
 * every frame can see: toolchain noise, never the user's variables. Dropped only when a function.
 */
const COMPILER_HELPERS: ReadonlySet<string> = new Set([
  // esbuild
  '__create', '__freeze', '__defProp', '__defProps', '__getOwnPropDesc', '__getOwnPropDescs', '__getOwnPropNames',
  '__getOwnPropSymbols', '__getProtoOf', '__hasOwnProp', '__propIsEnum', '__reflectGet', '__knownSymbol',
  '__typeError', '__defNormalProp', '__spreadValues', '__spreadProps', '__markAsModule', '__name', '__require',
  '__esm', '__commonJS', '__export', '__copyProps', '__reExport', '__toESM', '__toCommonJS', '__toBinary',
  '__toBinaryNode', '__decoratorStart', '__decoratorStrings', '__decoratorContext', '__decorateElement',
  '__decorateClass', '__decorateParam', '__publicField', '__accessCheck', '__privateIn', '__privateGet',
  '__privateAdd', '__privateSet', '__privateMethod', '__privateWrapper', '__earlyAccess', '__superGet',
  '__superSet', '__superWrapper', '__async', '__asyncGenerator', '__yieldStar', '__forAwait', '__template',
  '__objRest', '__using', '__callDispose', '__glob', '__restKey', '__pow',
  // tslib / tsc
  '__extends', '__assign', '__rest', '__decorate', '__param', '__esDecorate', '__runInitializers', '__propKey',
  '__setFunctionName', '__metadata', '__awaiter', '__generator', '__createBinding', '__exportStar', '__values',
  '__read', '__spread', '__spreadArrays', '__spreadArray', '__await', '__asyncDelegator', '__asyncValues',
  '__makeTemplateObject', '__setModuleDefault', '__importStar', '__importDefault', '__classPrivateFieldGet',
  '__classPrivateFieldSet', '__classPrivateFieldIn', '__addDisposableResource', '__disposeResources',
  '__rewriteRelativeImportExtension',
]);
const MAX_PLAN_FRAMES = 64;
const MAX_UNINITIALIZED = 200;
/**
 * A catch-and-rethrow pauses again with the same object: the first throw site wins. An app that
 * throws one pre-built error object over and over gets a fresh capture once this long has passed.
 */
const RETHROW_WINDOW_MS = 2000;

/** What `serializer(target, ...)` answers when it keeps the snapshot for `target`. */
export type AttachResult = 'captured' | 'present' | 'failed';

/** The function installed on globalThis[GLOBAL_KEYS.serializer]. */
export interface InstalledSerializer {
  /**
   * With `target`: serializes and keeps the snapshot for `target` (first capture wins) and returns
   * an AttachResult. Without: returns the snapshot itself. `args[offset...]` are the scope objects.
   */
  (target: unknown, plan: unknown, args: ArrayLike<unknown>, offset: number): AttachResult | LocalsSnapshot | undefined;
  /** The snapshot kept for a thrown object, if any. */
  read(target: unknown): LocalsSnapshot | undefined;
}

function clampInt(v: unknown, min: number, max: number, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : fallback;
}

/** The plan comes from our worker over CDP; still, nothing in it is trusted to be well-formed. */
function readLimits(raw: unknown): CaptureLimits {
  const l = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  return {
    maxDepth: clampInt(l.maxDepth, 0, 100, DEFAULTS.maxCaptureDepth),
    maxStringLength: clampInt(l.maxStringLength, 1, 1_000_000, DEFAULTS.maxStringLength),
    maxCollectionSize: clampInt(l.maxCollectionSize, 1, 100_000, DEFAULTS.maxCollectionSize),
    maxNodes: clampInt(l.maxNodes, 1, 1_000_000, DEFAULTS.maxCaptureNodes),
  };
}

function scopeLocals(walker: VariableWalker, scope: unknown, wrapper: boolean, seen: Set<string>, out: Record<string, Variable>): void {
  if (scope === null || typeof scope !== 'object' || types.isProxy(scope)) return;
  let names: string[];
  try {
    names = Object.getOwnPropertyNames(scope);
  } catch {
    return;
  }
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (walker.exhausted) return;
    // Inner scopes come first in the chain and shadow outer ones.
    if (seen.has(name) || (wrapper && WRAPPER_NAMES.has(name))) continue;
    seen.add(name);
    try {
      const d = getOwnDescriptor(scope, name);
      if (COMPILER_HELPERS.has(name) && d !== undefined && typeof d.value === 'function') continue;
      // Each variable may take its part of what is left, keeping one part for the frames below.
      const share = walker.nodesLeft / (names.length - i + 1);
      out[name] = walker.withShare(share, () => walker.fromDescriptor(name, d, 0));
    } catch {
      // Node 24+: a let/const still in its temporal dead zone throws ReferenceError when read.
      out[name] = walker.unreadable(name, 'uninitialized');
    }
  }
}

/**
 * Serializes the scopes of the plan's frames: `scopes[offset...]` hold, frame after frame, one
 * object per letter of `frame.scopes`. Never throws; never runs user code.
 */
export function serializeFrames(plan: unknown, scopes: ArrayLike<unknown>, offset: number, redactor: Redactor, maxChars: number = DEFAULTS.maxCaptureChars): LocalsSnapshot {
  const p = (plan !== null && typeof plan === 'object' ? plan : {}) as Partial<CapturePlan>;
  const walker = new VariableWalker(readLimits(p.limits), maxChars, redactor);
  const frames: SnapshotFrame[] = [];
  const planFrames = Array.isArray(p.frames) ? p.frames.slice(0, MAX_PLAN_FRAMES) : [];
  let index = offset;
  for (const f of planFrames) {
    const kinds = typeof f?.scopes === 'string' ? f.scopes : '';
    const locals: Record<string, Variable> = {};
    const seen = new Set<string>();
    for (let k = 0; k < kinds.length; k++) {
      const scope = index < scopes.length ? scopes[index] : undefined;
      index++;
      try {
        scopeLocals(walker, scope, kinds[k] === 'w', seen, locals);
      } catch {
        // one bad scope loses only itself
      }
    }
    const uninitialized = Array.isArray(f?.uninitialized) ? f.uninitialized : [];
    for (let i = 0; i < uninitialized.length && i < MAX_UNINITIALIZED && !walker.exhausted; i++) {
      const name = uninitialized[i];
      if (typeof name === 'string' && !seen.has(name)) {
        seen.add(name);
        locals[name] = walker.unreadable(name, 'uninitialized');
      }
    }
    frames.push({
      url: typeof f?.url === 'string' ? f.url : '',
      line: typeof f?.line === 'number' ? f.line : -1,
      column: typeof f?.column === 'number' ? f.column : -1,
      functionName: typeof f?.functionName === 'string' ? f.functionName : '',
      functionLine: typeof f?.functionLine === 'number' ? f.functionLine : -1,
      locals,
    });
  }
  return { frames };
}

/** Builds the serializer for this agent's redaction settings. */
export function createSerializer(config: Pick<AgentConfig, 'redactNames' | 'apiKey'>, onCaptured?: (thrown: object, thrownInApp: boolean) => void): InstalledSerializer {
  const redactor = createRedactor(config.redactNames, config.apiKey);
  const kept = new WeakMap<object, { snapshot: LocalsSnapshot; at: number }>();
  const isKey = (t: unknown): t is object => t !== null && (typeof t === 'object' || typeof t === 'function');
  const serializer = ((target: unknown, plan: unknown, args: ArrayLike<unknown>, offset: number) => {
    try {
      if (target === undefined) return serializeFrames(plan, args, offset, redactor);
      if (!isKey(target)) return 'failed';
      const now = Date.now();
      const previous = kept.get(target);
      if (previous && now - previous.at < RETHROW_WINDOW_MS) return 'present';
      kept.set(target, { snapshot: serializeFrames(plan, args, offset, redactor), at: now });
      try {
        onCaptured?.(target, (plan as { thrownInApp?: unknown } | null)?.thrownInApp === true);
      } catch {
        // the capture is kept all the same
      }
      return 'captured';
    } catch {
      return target === undefined ? undefined : 'failed';
    }
  }) as InstalledSerializer;
  serializer.read = (target) => (isKey(target) ? kept.get(target)?.snapshot : undefined);
  return serializer;
}

/** Installs the serializer where the worker finds it (once per process; the first agent wins). */
export function installSerializer(config: Pick<AgentConfig, 'redactNames' | 'apiKey'>, onCaptured?: (thrown: object, thrownInApp: boolean) => void): void {
  const g = globalThis as unknown as Record<symbol, unknown>;
  if (typeof g[GLOBAL_KEYS.serializer] === 'function') return;
  const serializer = createSerializer(config, onCaptured);
  publishGlobal(GLOBAL_KEYS.serializer, serializer);
  warmUp(serializer);
}

class WarmUpSample {
  readonly when = new Date(0);
}

// Named like the core classes the serializer summarises (a request and its response are locals of
// most handlers): their path is compiled too. Nothing else sees these classes.
class IncomingMessage {
  readonly method = 'GET';
  readonly url = '/';
  readonly rawHeaders = ['Host', 'localhost', 'Accept', '*/*'];
  readonly params = { id: '1' };
}
class ServerResponse {
  readonly statusCode = 200;
}

/**
 * One run over a value of each kind, when the agent starts: V8 compiles a function on its first
 * call, and the serializer otherwise first runs inside a breakpoint hit (~1.5 ms more that request
 * waits) or an exception pause.
 */
function warmUp(serializer: InstalledSerializer): void {
  const scope: Record<string, unknown> = {
    n: 1, s: 'text', b: true, u: undefined, z: null, big: 1n, sym: Symbol('s'), fn: warmUp,
    obj: { a: { b: [1, 'x'] }, password: 'x' }, arr: [1, 2, 3], map: new Map([['k', 1]]), set: new Set([1]),
    date: new Date(0), re: /x/g, err: new Error('x'), bytes: new Uint8Array(4), promise: Promise.resolve(1),
    sample: new WarmUpSample(), req: new IncomingMessage(), res: new ServerResponse(),
  };
  const plan = { frames: [{ scopes: 'l', url: '', line: 0, column: 0, functionName: '', functionLine: 0 }] };
  try {
    serializer(undefined, plan, [scope], 0);
  } catch {
    // a warm-up only
  }
}

/** The locals snapshot captured for a thrown object during its exception pause, if any. */
export function readAttachedLocals(thrown: unknown): LocalsSnapshot | undefined {
  try {
    const s = (globalThis as unknown as Record<symbol, unknown>)[GLOBAL_KEYS.serializer] as InstalledSerializer | undefined;
    return typeof s === 'function' && typeof s.read === 'function' ? s.read(thrown) : undefined;
  } catch {
    return undefined;
  }
}
