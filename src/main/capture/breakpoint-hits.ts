/**
 * In-line breakpoint hits, app's thread side. The worker's gate (src/worker/breakpoints/gate.ts)
 * takes a hit inside the V8 condition: it copies the frame's variables, runs the serializer and
 * captures the stack, then calls the function installed here. Everything that can wait for the
 * line to finish waits: building and reading the CallSites, describing the request, JSON, and posting to the
 * worker happen after the current I/O callbacks (waking the worker from inside the hit sometimes
 * cost the line 0.3-0.6 ms: the worker ran at once on the app's CPU).
 */
import { GLOBAL_KEYS } from '../../shared/defaults';
import type { SiteFrame } from '../../shared/messages';
import type { EventContext } from '../../shared/protocol';
import { contextAtLine } from '../context/store';
import { publishGlobal } from '../globals';
import { runSoon } from '../run-soon';


interface QueuedHit {
  snapshot: Record<string, unknown>;
  /** Holder of the stack captured at the line; V8 formats it on first read. */
  stack: object | undefined;
  context: () => EventContext;
}

/** Hits waiting for the next turn; more than this within one turn are dropped (the gate's rate cap is far lower). */
const MAX_QUEUED = 100;
const MAX_FRAMES = 50;

function frameOf(site: NodeJS.CallSite): SiteFrame | undefined {
  try {
    return {
      functionName: site.getFunctionName() ?? '',
      file: site.getFileName() ?? site.getScriptNameOrSourceURL() ?? '',
      line: site.getLineNumber() ?? 0,
      column: site.getColumnNumber() ?? 0,
      isNative: site.isNative(),
    };
  } catch {
    return undefined;
  }
}

const keepSites = (_: Error, sites: NodeJS.CallSite[]): unknown => sites;

/**
 * The CallSites of a stack captured by the gate. Formatted now, by our Error.prepareStackTrace for
 * this one read (the app's own formatter, if any, never runs), then the app's is back.
 */
function sitesOf(holder: object | undefined): unknown {
  if (holder === undefined) return undefined;
  const previous = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = keepSites;
    return (holder as { stack?: unknown }).stack;
  } catch {
    return undefined;
  } finally {
    try {
      Error.prepareStackTrace = previous;
    } catch {
      // a frozen Error: nothing was changed either
    }
  }
}

/** The app's frames of a CallSite list taken inside the condition: below the condition's eval frame. */
export function framesOfSites(sites: unknown): SiteFrame[] {
  if (!Array.isArray(sites)) return [];
  const list = sites as NodeJS.CallSite[];
  let first = 0;
  for (let i = 0; i < list.length; i++) {
    try {
      if (list[i].isEval()) {
        first = i + 1;
        break;
      }
    } catch {
      // not a CallSite
    }
  }
  const out: SiteFrame[] = [];
  for (let i = first; i < list.length && out.length < MAX_FRAMES; i++) {
    const f = frameOf(list[i]);
    if (f) out.push(f);
  }
  return out;
}

/**
 * Publishes the hit taker on a global Symbol.for key (non-enumerable) for the gate to call.
 * `thread`: in one of the app's worker threads, which one (the hit's `context.thread`).
 */
export function installHitPoster(post: (json: string) => void, thread?: { id: number; name?: string }): void {
  const g = globalThis as unknown as Record<symbol, unknown>;
  if (typeof g[GLOBAL_KEYS.hits] === 'function') return;
  let queue: QueuedHit[] = [];
  const flush = (): void => {
    const hits = queue;
    queue = [];
    for (const hit of hits) {
      try {
        hit.snapshot.stack = framesOfSites(sitesOf(hit.stack));
        const context = hit.context();
        if (thread) context.thread = thread;
        hit.snapshot.context = context;
        post(JSON.stringify(hit.snapshot));
      } catch {
        // a hit that cannot be read is dropped; the app is not affected
      }
    }
  };
  const takeHit = (snapshot: unknown, stack: unknown): void => {
    if (snapshot === null || typeof snapshot !== 'object' || queue.length >= MAX_QUEUED) return;
    const holder = stack !== null && typeof stack === 'object' ? stack : undefined;
    if (queue.push({ snapshot: snapshot as Record<string, unknown>, stack: holder, context: contextAtLine() }) === 1) runSoon(flush);
  };
  publishGlobal(GLOBAL_KEYS.hits, takeHit);
}
