/**
 * The breakpoint manager (worker): set/remove from the backend, install through the shared
 * inspector session, pending breakpoints for files loaded later, expiry, exhaustion, status
 * reporting, and hits. One V8 breakpoint per breakpoint, its condition routed through the gate.
 */
import { randomBytes } from 'node:crypto';
import type { Debugger } from 'node:inspector';
import type { Logger } from '../../shared/log';
import type { CaptureLimits, CapturePlan, PlanFrame } from '../../shared/messages';
import type { AgentMessageMap, AgentMessageType, BreakpointHitPayload, BreakpointStatusName, BreakpointStatusPayload, Frame, Variable } from '../../shared/protocol';
import type { InspectorSession, PausedEvent } from '../inspector/session';
import { compileBreakpoint, type BreakpointLimits, type CompiledBreakpoint } from './compile';
import { frameNamesAt } from './frame-names';
import { conditionFor, gateAddExpression, gateInlineExpression, gateInstallExpression, gateRemoveExpression, gateWarmExpression, WARM_UP_ID, type GateNotice, type InlineSnapshot, type PauseSnapshot } from './gate';
import { buildInlineStack, buildStack, collectHit, type CollectedHit } from './hit';
import { breakpointIdInV8Id, exactUrlRegex, pendingThreshold, suffixScore, suffixUrlRegex, uniqueRegex } from './paths';
import { createScriptCatalogue, type ScriptInfo, type Target } from './scripts';
import { generatedToOriginal, originalToGenerated, type LoadedMap } from './source-maps';
import { setBounded } from '../../shared/bounded-map';

/** How a breakpoint's `error` status begins when the inspector failed it (the session, not the breakpoint). */
export const INSTALL_FAILED = 'could not install';

export type SendFn = <T extends AgentMessageType>(type: T, payload: AgentMessageMap[T]) => void;

export interface BreakpointManagerOptions {
  /**
   * The shared inspector session, its debugger on: called on first use and again whenever a
   * breakpoint is set after none was left (the debugger may have gone off in between).
   */
  getSession: () => Promise<InspectorSession>;
  /** No breakpoint is left, pending or installed: the debugger is no longer needed for them. */
  release?: () => void;
  send: SendFn;
  logger: Logger;
  agentId: string;
  limits: BreakpointLimits;
  capture: CaptureLimits;
  /** In-app frames whose locals a hit captures, innermost first. */
  maxFrames: number;
}

export interface BreakpointManager {
  /** Handles a backend `set_breakpoint` payload. Never throws. */
  set(payload: unknown): void;
  /** Handles a backend `remove_breakpoint` payload. Never throws. */
  remove(payload: unknown): void;
  /** A hit the gate took in-line on the app's thread (JSON of an InlineSnapshot). Never throws. */
  inlineHit(json: string): void;
  /** Ends a breakpoint without a word to the backend (another thread's manager ended it). */
  drop(id: string): void;
  /**
   * Removes every breakpoint: silently at agent shutdown, or reported as `removed` with `reason`
   * (breakpoints turned off live by the backend's `configure`).
   */
  close(reason?: string): Promise<void>;
  /** Forgets every breakpoint, without a word and without its session (its thread ended). */
  forget(): void;
}

interface Active {
  bp: CompiledBreakpoint;
  state: 'pending' | 'installed';
  /** V8 breakpoint ids (one; two briefly while a pending one moves). */
  v8Ids: Set<string>;
  timer?: NodeJS.Timeout;
  /** Set when installed through a source map: to report positions in the original source. */
  map?: LoadedMap;
  actualLine?: number;
  /** Hits are taken in-line by the condition (no pause). */
  inline: boolean;
  notes: string[];
  closed: boolean;
}

function sameLocation(a: Debugger.Location | undefined, b: Debugger.Location): boolean {
  return a !== undefined && a.scriptId === b.scriptId && a.lineNumber === b.lineNumber && (a.columnNumber ?? 0) === (b.columnNumber ?? 0);
}

/** A manager that refuses every breakpoint: AIVORY_ENABLE_BREAKPOINTS=false. Nothing is enabled. */
export function createDisabledBreakpoints(send: SendFn): BreakpointManager {
  return {
    set(payload) {
      const id = (payload as { id?: unknown } | null)?.id;
      send('breakpoint_status', { breakpoint_id: typeof id === 'string' ? id : String(id ?? ''), status: 'error', message: 'disabled' });
    },
    remove() {},
    inlineHit() {},
    drop() {},
    async close() {},
    forget() {},
  };
}

export function createBreakpointManager(opts: BreakpointManagerOptions): BreakpointManager {
  const { logger, limits } = opts;
  const active = new Map<string, Active>();
  const byV8 = new Map<string, Active>();
  const catalogue = createScriptCatalogue();
  const bindingName = `__aivoryMonitorBp_${randomBytes(6).toString('hex')}`;
  let sessionP: Promise<InspectorSession> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  /** Operations run one at a time, in arrival order: a remove never overtakes its set. */
  const run = (what: string, fn: () => Promise<void>): void => {
    chain = chain.then(fn).catch((err: unknown) => logger.debug(`breakpoints: ${what} failed: ${(err as Error)?.message ?? String(err)}`));
  };

  const status = (id: string, s: BreakpointStatusName, extra: Omit<BreakpointStatusPayload, 'breakpoint_id' | 'status'> = {}): void => {
    const payload: BreakpointStatusPayload = { breakpoint_id: id, status: s, ...extra };
    logger.debug(`breakpoint ${id} ${s}${extra.message ? `: ${extra.message}` : ''}${extra.actual_line ? ` (line ${extra.actual_line})` : ''}`);
    opts.send('breakpoint_status', payload);
  };

  const session = (): Promise<InspectorSession> => {
    sessionP ??= (async () => {
      const s = await opts.getSession();
      s.onNotification('Runtime.bindingCalled', (p) => onBinding(p as { name: string; payload: string }));
      s.onNotification('Debugger.breakpointResolved', (p) => onResolved(p as Debugger.BreakpointResolvedEventDataType));
      s.addPauseHandler(onPause);
      await s.post('Runtime.addBinding', { name: bindingName });
      const r = await s.post<{ exceptionDetails?: { text?: string } }>('Runtime.evaluate', {
        expression: gateInstallExpression(bindingName, limits),
        silent: true,
        returnByValue: true,
      });
      if (r.exceptionDetails) throw new Error(`gate install failed: ${r.exceptionDetails.text ?? 'exception'}`);
      s.onScriptParsed(onScript);
      await s.post('Runtime.evaluate', { expression: gateWarmExpression({ ...opts.capture }), silent: true }).catch(() => undefined);
      return s;
    })();
    return sessionP;
  };

  const evaluate = async (expression: string): Promise<void> => {
    const s = await session();
    await s.post('Runtime.evaluate', { expression, silent: true, returnByValue: true });
  };

  // ---- installing ----

  const setV8 = async (a: Active, params: { urlRegex: string; lineNumber: number; columnNumber?: number }, names?: readonly string[]): Promise<Debugger.SetBreakpointByUrlReturnType> => {
    const s = await session();
    const r = await s.post<Debugger.SetBreakpointByUrlReturnType>('Debugger.setBreakpointByUrl', {
      ...params,
      urlRegex: uniqueRegex(params.urlRegex, a.bp.id),
      condition: conditionFor(a.bp.id, a.bp.condition, names),
    });
    a.v8Ids.add(r.breakpointId);
    byV8.set(r.breakpointId, a);
    return r;
  };

  const removeV8 = async (a: Active, v8Id: string): Promise<void> => {
    a.v8Ids.delete(v8Id);
    byV8.delete(v8Id);
    const s = await session();
    await s.post('Debugger.removeBreakpoint', { breakpointId: v8Id }).catch(() => undefined);
  };

  /** Installs on a found target; reports installed or error. Returns false when the line has no code. */
  const installOn = async (a: Active, target: Target): Promise<boolean> => {
    let params: { urlRegex: string; lineNumber: number; columnNumber?: number };
    let reportPath = target.script.path;
    if (target.kind === 'mapped') {
      const gen = originalToGenerated(target.match, a.bp.line);
      if (!gen) {
        finish(a, 'error', `line ${a.bp.line} of ${target.match.loaded.sourcePaths[target.match.sourceIndex]} has no code (source map)`);
        return false;
      }
      params = { urlRegex: exactUrlRegex(target.script.url), lineNumber: gen.line, columnNumber: gen.column };
      a.map = target.match.loaded;
      reportPath = target.match.loaded.sourcePaths[target.match.sourceIndex] ?? reportPath;
    } else {
      params = { urlRegex: exactUrlRegex(target.script.url), lineNumber: a.bp.line - 1 };
    }
    const inline = await prepareInline(a, target.script, params.lineNumber, params.columnNumber ?? 0);
    if (a.closed) return true;
    let r = await setV8(a, params, inline?.names);
    if (a.closed) return true;
    a.inline = inline !== undefined;
    if (inline && !sameLocation(r.locations[0], inline.at)) {
      a.inline = false;
      // V8 placed it elsewhere than predicted: the names may be wrong there; hits pause instead.
      for (const id of [...a.v8Ids]) await removeV8(a, id);
      await evaluate(gateInlineExpression(a.bp.id, null));
      r = await setV8(a, params);
      if (a.closed) return true;
    }
    const loc = r.locations[0];
    if (!loc) {
      finish(a, 'error', `line ${a.bp.line} of ${reportPath} has no code at or after it`);
      return false;
    }
    if (a.inline) a.notes.push('hits are taken without pausing the app');
    markInstalled(a, loc, reportPath);
    return true;
  };

  const markInstalled = (a: Active, loc: Debugger.Location, path: string): void => {
    let line = loc.lineNumber + 1;
    if (a.map) line = generatedToOriginal(a.map, loc.lineNumber, loc.columnNumber ?? 0)?.line ?? line;
    a.state = 'installed';
    a.actualLine = line;
    const notes = [...a.notes];
    if (line !== a.bp.line) notes.push(`line ${a.bp.line} has no code; snapped to line ${line}`);
    notes.push(`in ${path}`);
    status(a.bp.id, 'installed', { actual_line: line, message: notes.join('; ') });
  };

  // Script sources parsed for frame names, by scriptId (a few: breakpoints are set one at a time).
  const sources = new Map<string, Promise<string | undefined>>();
  const sourceOf = async (scriptId: string): Promise<string | undefined> => {
    let p = sources.get(scriptId);
    if (!p) {
      p = session()
        .then((s) => s.post<{ scriptSource: string }>('Debugger.getScriptSource', { scriptId }))
        .then((r) => r.scriptSource)
        .catch(() => undefined);
      setBounded(sources, scriptId, p, 16);
    }
    return p;
  };

  /**
   * For a breakpoint about to be set on a loaded script: where V8 will place it (the first
   * breakable position at or after the requested one) and the variables visible there. The gate is
   * told the plan, and the V8 condition will copy those variables: hits are then taken without
   * pausing. Undefined (hits pause) for stack_locals or when the names cannot be known.
   */
  const prepareInline = async (a: Active, script: ScriptInfo, lineNumber: number, columnNumber: number): Promise<{ names: string[]; at: Debugger.Location } | undefined> => {
    if (a.bp.stackLocals) return undefined;
    const s = await session();
    const possible = await s
      .post<Debugger.GetPossibleBreakpointsReturnType>('Debugger.getPossibleBreakpoints', {
        start: { scriptId: script.scriptId, lineNumber, columnNumber },
        end: { scriptId: script.scriptId, lineNumber: lineNumber + 500, columnNumber: 0 },
      })
      .catch(() => undefined);
    const at = possible?.locations[0];
    const source = at ? await sourceOf(script.scriptId) : undefined;
    const found = at && source !== undefined ? frameNamesAt(source, at.lineNumber, at.columnNumber ?? 0) : undefined;
    if (!at || !found || a.closed) {
      logger.debug(`breakpoint ${a.bp.id}: variables at the line not known; hits pause`);
      return undefined;
    }
    // The capture limits in force now stay this breakpoint's (a later `configure` applies to new ones).
    // Uninitialised names are not copied (the condition would read them as undefined) but shown as such.
    const frame: PlanFrame = { url: script.url, line: at.lineNumber, column: at.columnNumber ?? 0, functionName: found.functionName, functionLine: -1, scopes: 's' };
    if (found.uninitialized.length) frame.uninitialized = found.uninitialized;
    const plan: CapturePlan = { limits: { ...opts.capture }, frames: [frame] };
    await evaluate(gateInlineExpression(a.bp.id, plan));
    const skip = new Set(found.uninitialized);
    return { names: found.names.filter((n) => !skip.has(n)), at };
  };

  const install = async (a: Active): Promise<void> => {
    const targets = await catalogue.findTargets(a.bp.path);
    if (a.closed) return;
    const target = targets[0];
    if (target) {
      if (targets.length > 1) a.notes.push(`${targets.length} files match equally (${targets.map((t) => t.script.path).slice(0, 3).join(', ')}); using the first`);
      await installOn(a, target);
      return;
    }
    // Not loaded yet: V8 applies this when a script whose URL ends like the request is compiled,
    // before any of its code runs (CJS and ESM alike); onScript handles source maps and partial matches.
    const r = await setV8(a, { urlRegex: suffixUrlRegex(a.bp.path), lineNumber: a.bp.line - 1 });
    if (a.closed) return;
    const loc = r.locations[0];
    if (loc) markInstalled(a, loc, catalogue.get(loc.scriptId)?.path ?? a.bp.requestedPath);
    else status(a.bp.id, 'pending', { message: `${a.bp.requestedPath} is not loaded yet; installed when it loads` });
  };

  // ---- events ----

  function onScript(script: Debugger.ScriptParsedEventDataType): void {
    const info = catalogue.add(script);
    if (!info || closed) return;
    for (const a of active.values()) {
      if (a.state !== 'pending' || a.closed) continue;
      const req = a.bp.path;
      // A URL ending with the whole request is the suffix regex's job (already applied by V8).
      if (!info.sourceMapURL && suffixScore(req, info.path) === req.segments.length) continue;
      run(`match ${info.path}`, async () => {
        if (a.state !== 'pending' || a.closed) return;
        const target = await catalogue.matchScript(req, info, pendingThreshold(req));
        if (!target || a.state !== 'pending' || a.closed) return;
        const pendingIds = [...a.v8Ids];
        for (const id of pendingIds) await removeV8(a, id);
        await installOn(a, target);
      });
    }
  }

  function onResolved(p: Debugger.BreakpointResolvedEventDataType): void {
    resolvedAt(byV8.get(p.breakpointId), p.location);
  }

  /** A pending breakpoint V8 placed in a script just loaded (or paused at, which proves as much). */
  function resolvedAt(a: Active | undefined, location: Debugger.Location): void {
    if (!a || a.state !== 'pending' || a.closed) return;
    const script = catalogue.get(location.scriptId);
    // A script with a source map may be compiled from the requested file (tsx): onScript decides
    // where the breakpoint goes and reports it; the line V8 resolved may not be the user's.
    if (script?.sourceMapURL) return;
    markInstalled(a, location, script?.path ?? a.bp.requestedPath);
  }

  function onBinding(p: { name: string; payload: string }): void {
    if (p.name !== bindingName) return;
    let notice: GateNotice;
    try {
      notice = JSON.parse(p.payload) as GateNotice;
    } catch {
      return;
    }
    const a = active.get(notice[1]);
    if (!a || a.closed) return;
    if (notice[0] === 'budget') {
      finish(a, 'exhausted', `removed: breakpoints exceeded their CPU budget (${limits.cpuBudgetMsPerSecond} ms/s); the line runs too often`);
    } else if (notice[0] === 'error') {
      status(a.bp.id, a.state, { message: `condition threw ${notice[2]}; treated as false`, ...(a.actualLine ? { actual_line: a.actualLine } : {}) });
    }
  }

  async function onPause(event: PausedEvent): Promise<boolean> {
    // A pause can arrive before the answer to its setBreakpointByUrl has been processed (both in one
    // batch of inspector messages, the pause handler first): our V8 ids are also told by their text.
    const ours = (event.hitBreakpoints ?? []).filter((id) => byV8.has(id) || breakpointIdInV8Id(id) !== undefined);
    if (ours.length === 0) return false;
    // In a worker thread, the inspector may deliver the pause before V8's breakpointResolved.
    const top = event.callFrames[0]?.location;
    if (top) for (const id of ours) resolvedAt(byV8.get(id), top);
    const s = await session();
    const hit = await collectHit(s, event, ours, { maxFrames: opts.maxFrames, deadlineMs: limits.captureDeadlineMs, limits: opts.capture });
    // Reported after the session resumed the app.
    setImmediate(() => void reportHit(hit).catch((err: unknown) => logger.debug(`breakpoint hit lost: ${(err as Error).message}`)));
    return true;
  }

  async function reportHit(hit: CollectedHit): Promise<void> {
    const snap = await hit.snapshot;
    if (!snap || snap.hits.length === 0) {
      logger.debug('breakpoint pause without a snapshot (the call failed)');
      return;
    }
    const stack = await buildStack(hit, snap, catalogue);
    sendHits(snap, stack, () => `collected in ${Math.round((hit.collectedAt - hit.pausedAt) * 1000)} us (${snap.collectUs} us on the app's thread), line->paused ${Math.round((hit.pausedAt + performance.timeOrigin - snap.at) * 1000)} us`);
  }

  function takeInline(snap: unknown): void {
    if (!snap || typeof snap !== 'object' || !Array.isArray((snap as InlineSnapshot).hits)) return;
    void reportInline(snap as InlineSnapshot).catch((err: unknown) => logger.debug(`breakpoint hit lost: ${(err as Error).message}`));
  }

  async function reportInline(snap: InlineSnapshot): Promise<void> {
    const stack = await buildInlineStack(snap, catalogue);
    if (snap.hits.length === 1 && snap.hits[0]?.[0] === WARM_UP_ID) {
      logger.debug(`breakpoint hits warmed up (${snap.collectUs} us on the app's thread)`);
      return;
    }
    sendHits(snap, stack, () => `in-line, ${snap.collectUs} us on the app's thread`);
  }

  /** One breakpoint_hit per breakpoint the snapshot was taken for (two can share a line). */
  function sendHits(snap: PauseSnapshot, stack: Frame[], timing: () => string): void {
    const top = stack[0];
    for (const [id, count] of snap.hits) {
      const a = active.get(id);
      if (!a) {
        // The gate let the app pause for a breakpoint the worker already ended: a bug to see in debug.
        logger.debug(`breakpoint ${id} paused after it ended (hit ${count} dropped)`);
        continue;
      }
      const payload: BreakpointHitPayload = {
        breakpoint_id: id,
        agent_id: opts.agentId,
        captured_at: new Date(snap.at || Date.now()).toISOString(),
        file_path: top?.file_path ?? '',
        line_number: top?.line_number ?? a.bp.line,
        stack_trace: stack,
        local_variables: (top?.local_variables ?? {}) as Record<string, Variable>,
        hit_count: count,
      };
      if (snap.context && typeof snap.context === 'object') payload.context = snap.context;
      opts.send('breakpoint_hit', payload);
      if (logger.debugEnabled) {
        const queuedAt = performance.timeOrigin + performance.now();
        logger.debug(`breakpoint ${id} hit ${count}/${a.bp.maxHits}: ${timing()}, line->queued ${Math.round((queuedAt - snap.at) * 1000)} us (queued at ${queuedAt.toFixed(3)})`);
      }
      if (count >= a.bp.maxHits) finish(a, 'exhausted', `max_hits (${a.bp.maxHits}) reached`);
    }
  }

  // ---- lifecycle ----

  /** Ends a breakpoint: V8 breakpoint and gate entry removed (full speed again), status sent. */
  function finish(a: Active, s: BreakpointStatusName | null, message?: string): void {
    if (a.closed) return;
    a.closed = true;
    clearTimeout(a.timer);
    if (active.get(a.bp.id) === a) active.delete(a.bp.id);
    if (s) status(a.bp.id, s, message ? { message } : {});
    const ids = [...a.v8Ids];
    run(`remove ${a.bp.id}`, async () => {
      for (const id of ids) await removeV8(a, id);
      await evaluate(gateRemoveExpression(a.bp.id));
      if (active.size === 0 && !closed) opts.release?.();
    });
  }

  return {
    set(payload) {
      if (closed) return;
      const compiled = compileBreakpoint(payload, limits);
      if (!compiled.ok) {
        status(compiled.id, 'error', { message: compiled.message });
        return;
      }
      const bp = compiled.breakpoint;
      const existing = active.get(bp.id);
      if (existing && existing.bp.signature === bp.signature) {
        // A re-sent set_breakpoint (backend reconnect): same breakpoint, say where it stands.
        status(bp.id, existing.state, existing.actualLine ? { actual_line: existing.actualLine } : {});
        return;
      }
      if (existing) finish(existing, null);
      if (active.size >= limits.maxActive) {
        status(bp.id, 'error', { message: `too many active breakpoints (${limits.maxActive})` });
        return;
      }
      if (bp.expiresAt <= Date.now()) {
        status(bp.id, 'expired', { message: 'expires_at is in the past' });
        return;
      }
      const a: Active = { bp, state: 'pending', v8Ids: new Set(), notes: compiled.notes, closed: false, inline: false };
      active.set(bp.id, a);
      status(bp.id, 'received');
      a.timer = setTimeout(() => finish(a, 'expired'), Math.max(0, bp.expiresAt - Date.now()));
      a.timer.unref();
      const reacquire = sessionP !== undefined && active.size === 1;
      run(`set ${bp.id}`, async () => {
        if (a.closed) return;
        try {
          if (reacquire) await opts.getSession();
          await evaluate(gateAddExpression(bp.id, bp.maxHits, limits.hitsPerSecond, bp.expiresAt));
          await install(a);
        } catch (err) {
          finish(a, 'error', `${INSTALL_FAILED}: ${(err as Error).message}`);
        }
      });
    },
    inlineHit(json) {
      try {
        takeInline(JSON.parse(json));
      } catch {
        logger.debug('breakpoint hit from the app thread could not be read');
      }
    },
    drop(id) {
      const a = active.get(id);
      if (a) finish(a, null);
    },
    remove(payload) {
      const id = (payload as { id?: unknown } | null)?.id;
      const a = typeof id === 'string' ? active.get(id) : undefined;
      if (a) finish(a, 'removed');
      else if (typeof id === 'string') status(id, 'removed', { message: 'not set' });
    },
    async close(reason?: string) {
      closed = true;
      for (const a of [...active.values()]) finish(a, reason ? 'removed' : null, reason);
      await chain;
      opts.release?.();
    },
    forget() {
      closed = true;
      for (const a of active.values()) {
        a.closed = true;
        clearTimeout(a.timer);
      }
      active.clear();
      byV8.clear();
    },
  };
}

