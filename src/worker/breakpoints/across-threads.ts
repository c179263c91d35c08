/**
 * Breakpoints in the app's worker threads too. Each thread whose exception locals the agent armed
 * (inspector/thread-sessions.ts) gets a breakpoint manager of its own over its session (its
 * scripts, its gate, its hits), next to the main thread's. This puts them behind the one
 * breakpoint the backend knows: a set_breakpoint goes to every thread, and what the managers say
 * is merged: `received` once, `installed` as soon as some thread has it (`pending` again when the
 * last thread it was installed in ends), one final status, and at most max_hits hits, numbered
 * across threads (a thread's gate counts its own only; hits past the total are dropped here).
 */
import type { Logger } from '../../shared/log';
import type { BreakpointHitPayload, BreakpointStatusPayload } from '../../shared/protocol';
import type { InspectorSession } from '../inspector/session';
import { compileBreakpoint, type BreakpointLimits } from './compile';
import { INSTALL_FAILED, type BreakpointManager, type SendFn } from './manager';

/** What the agent's worker talks to: the backend's messages, hits, and the app's armed threads. */
export interface Breakpoints {
  set(payload: unknown): void;
  remove(payload: unknown): void;
  /** A hit taken in-line on the main thread (`threadId` undefined) or on one of the app's threads. */
  inlineHit(json: string, threadId?: number): void;
  /** A worker thread was armed (its session) or ended (undefined). */
  thread(threadId: number, session: InspectorSession | undefined): void;
  /** Whether some breakpoint is set, installed or pending (until its final status). */
  live(): boolean;
  close(reason?: string): Promise<void>;
}

export interface AcrossThreadsOptions {
  /** The main thread's manager, reporting through `send`. */
  main(send: SendFn): BreakpointManager;
  /** A manager on one worker thread's session. */
  thread(threadId: number, session: InspectorSession, send: SendFn): BreakpointManager;
  send: SendFn;
  limits: BreakpointLimits;
  logger: Logger;
}

/** The app's main thread, among thread ids. */
const MAIN = 0;
/**
 * How long the manager of a thread that ended still takes its in-line hits: one taken just before
 * the thread ended comes over the threads' own channel, and may arrive after the inspector told of
 * the end.
 */
const LATE_HITS_MS = 2000;
/** Ended breakpoints remembered, so that a manager's late word on one is not passed on. */
const MAX_ENDED = 1000;
const FINAL = new Set(['error', 'removed', 'expired', 'exhausted']);

interface Shared {
  readonly id: string;
  readonly signature: string;
  readonly maxHits: number;
  readonly expiresAt: number;
  /** set_breakpoint as the backend sent it. */
  readonly payload: object;
  hits: number;
  /** Threads it is installed in (MAIN for the main thread). */
  readonly installedIn: Set<number>;
  actualLine?: number;
}

const where = (threadId: number): string => (threadId === MAIN ? '' : `worker thread ${threadId}`);

export function breakpointsAcrossThreads(opts: AcrossThreadsOptions): Breakpoints {
  const { send, logger } = opts;
  const shared = new Map<string, Shared>();
  const ended = new Set<string>();
  const threads = new Map<number, BreakpointManager>();
  /** Managers of threads that ended, for their late hits (LATE_HITS_MS). */
  const ending = new Map<number, BreakpointManager>();

  const status = (p: BreakpointStatusPayload): void => send('breakpoint_status', p);
  const inThread = (p: BreakpointStatusPayload, threadId: number): BreakpointStatusPayload =>
    threadId === MAIN ? p : { ...p, message: p.message ? `${p.message} (${where(threadId)})` : where(threadId) };

  /** Ends a breakpoint everywhere with this one status; the managers' own final words are not passed on. */
  const end = (s: Shared, final: BreakpointStatusPayload): void => {
    shared.delete(s.id);
    ended.add(s.id);
    if (ended.size > MAX_ENDED) ended.delete(ended.values().next().value as string);
    status(final);
    main.drop(s.id);
    for (const m of threads.values()) m.drop(s.id);
  };

  const onStatus = (threadId: number, p: BreakpointStatusPayload): void => {
    const s = shared.get(p.breakpoint_id);
    if (!s) {
      // Not one of ours (refused before it was, or `removed: not set`): the main thread's answer is the one.
      if (threadId === MAIN && !ended.has(p.breakpoint_id)) status(p);
      return;
    }
    if (FINAL.has(p.status)) {
      // A thread that ends while its breakpoints are being set fails them: that thread's loss only.
      if (threadId !== MAIN && p.status === 'error' && p.message?.startsWith(INSTALL_FAILED)) {
        logger.debug(`breakpoint ${s.id} not set in ${where(threadId)}: ${p.message}`);
        return;
      }
      end(s, inThread(p, threadId));
      return;
    }
    if (p.status === 'installed') {
      // Installed where it already was: a notice about it (its condition threw).
      const known = s.installedIn.has(threadId);
      s.installedIn.add(threadId);
      if (!known && s.installedIn.size > 1) return;
      if (!known) s.actualLine = p.actual_line;
      status(inThread(p, threadId));
      return;
    }
    // received and pending: the main thread's, while no thread has it installed.
    if (threadId === MAIN && s.installedIn.size === 0) status(p);
  };

  const onHit = (threadId: number, p: BreakpointHitPayload): void => {
    const s = shared.get(p.breakpoint_id);
    if (!s) return;
    s.hits++;
    p.hit_count = s.hits;
    // In-line hits name their thread already (with its name); a hit that paused it does not.
    if (threadId !== MAIN && p.context?.thread === undefined) p.context = { ...p.context, thread: { id: threadId } };
    send('breakpoint_hit', p);
    if (s.hits >= s.maxHits) end(s, { breakpoint_id: s.id, status: 'exhausted', message: `max_hits (${s.maxHits}) reached` });
  };

  const reportingAs =
    (threadId: number): SendFn =>
    (type, payload) => {
      try {
        if (type === 'breakpoint_status') onStatus(threadId, payload as BreakpointStatusPayload);
        else if (type === 'breakpoint_hit') onHit(threadId, payload as BreakpointHitPayload);
        else send(type, payload);
      } catch (err) {
        logger.debug(`breakpoints: a ${type} was lost: ${(err as Error)?.message}`);
      }
    };

  /**
   * What a thread's manager is sent: the same breakpoint, ending when it ends on the main thread
   * (a thread armed later must not start its ttl anew), with the hits still to come.
   */
  const forThread = (s: Shared): object => ({ ...s.payload, ttl_seconds: null, expires_at: s.expiresAt, max_hits: Math.max(1, s.maxHits - s.hits) });

  const main = opts.main(reportingAs(MAIN));

  return {
    set(payload) {
      const compiled = compileBreakpoint(payload, opts.limits);
      if (!compiled.ok) {
        main.set(payload);
        return;
      }
      const bp = compiled.breakpoint;
      const existing = shared.get(bp.id);
      if (existing && existing.signature === bp.signature) {
        // Sent again (the backend reconnected): where it stands.
        status(
          existing.installedIn.size > 0
            ? { breakpoint_id: bp.id, status: 'installed', ...(existing.actualLine ? { actual_line: existing.actualLine } : {}) }
            : { breakpoint_id: bp.id, status: 'pending' },
        );
        return;
      }
      ended.delete(bp.id);
      const s: Shared = { id: bp.id, signature: bp.signature, maxHits: bp.maxHits, expiresAt: bp.expiresAt, payload: payload as object, hits: 0, installedIn: new Set() };
      shared.set(bp.id, s);
      // Each manager replaces a breakpoint of the same id itself.
      main.set(payload);
      // The main thread's manager may have refused it already (too many, expired).
      if (shared.get(bp.id) !== s) return;
      for (const m of threads.values()) m.set(forThread(s));
    },
    remove(payload) {
      main.remove(payload);
      const id = (payload as { id?: unknown } | null)?.id;
      if (typeof id === 'string') for (const m of threads.values()) m.drop(id);
    },
    inlineHit(json, threadId) {
      if (threadId === undefined) main.inlineHit(json);
      else (threads.get(threadId) ?? ending.get(threadId))?.inlineHit(json);
    },
    thread(threadId, session) {
      if (session) {
        if (threads.has(threadId)) return;
        const m = opts.thread(threadId, session, reportingAs(threadId));
        threads.set(threadId, m);
        for (const s of shared.values()) m.set(forThread(s));
        return;
      }
      const m = threads.get(threadId);
      if (!m) return;
      threads.delete(threadId);
      // Its session is gone: nothing to remove there, nothing to say; only its last hits to take.
      ending.set(threadId, m);
      setTimeout(() => {
        ending.delete(threadId);
        m.forget();
      }, LATE_HITS_MS).unref();
      for (const s of shared.values()) {
        if (!s.installedIn.delete(threadId) || s.installedIn.size > 0) continue;
        status({ breakpoint_id: s.id, status: 'pending', message: `${where(threadId)}, where it was installed, ended; installed when its file loads again` });
      }
    },
    live: () => shared.size > 0,
    async close(reason) {
      for (const m of ending.values()) m.forget();
      ending.clear();
      await Promise.all([main.close(reason), ...[...threads.values()].map((m) => m.close(reason))]);
    },
  };
}
