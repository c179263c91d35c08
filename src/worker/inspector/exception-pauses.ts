/**
 * Exception locals: pause on every exception ('all': 'uncaught' misses what express/fastify
 * catch), capture the app frames' locals onto the thrown object, resume. A budget keeps pauses
 * cheap in total: when it is spent, pauses are switched off ('none' costs nothing), or narrowed to
 * 'caught' when rejections of no app code spent it, and an unref'd timer switches them back on.
 * Errors thrown meanwhile are still reported, without locals.
 *
 * The pause handler is small and cannot throw past its caller: a worker stuck or dead while the
 * app's thread is paused would freeze the app.
 */
import type { Runtime } from 'node:inspector';
import type { AgentConfig } from '../../shared/config';
import { DEFAULTS } from '../../shared/defaults';
import type { Logger } from '../../shared/log';
import { SHARED, type CaptureLimits } from '../../shared/messages';
import { blackboxPatterns, isAppUrl, isOwnUrl } from './app-frames';
import { createBundledDependencies } from './bundled-dependencies';
import { attachLocals, prepareSerializer, type CaptureOptions } from './collect-locals';
import { isControlFlowThrow } from './control-flow-throws';
import { createPauseBudget, createTokenBucket } from './pause-budget';
import type { InspectorSession, PausedEvent } from './session';

export interface ExceptionCaptureOptions {
  session: InspectorSession;
  config: AgentConfig;
  logger: Logger;
  /** Int32Array over WorkerData.shared (SHARED indexes). */
  flags: Int32Array;
  /** Shared, mutable limits (the backend's `configure` may change them); from config when absent. */
  limits?: CaptureLimits;
}

export interface ExceptionCapture {
  /** Stops pausing on exceptions (before the session disconnects). */
  stop(): void;
}

/** Limits of an exception capture, from the configuration. */
export function captureLimits(config: AgentConfig): CaptureLimits {
  return {
    maxDepth: config.maxCaptureDepth,
    maxStringLength: config.maxStringLength,
    maxCollectionSize: config.maxCollectionSize,
    maxNodes: DEFAULTS.maxCaptureNodes,
  };
}

/**
 * A pause that captures nothing (its site is over the per-site cap, or no app frame threw) still
 * stops the app's thread: ~1-4 ms for an express stack, and a hot site would take one such pause per
 * token. After one, pauses stay off for this long, doubling while nothing is captured.
 */
const IDLE_BACKOFF_MIN_MS = 250;
const IDLE_BACKOFF_MAX_MS = 4000;
/**
 * Throws of Node's module loader (node: scripts cannot be blackboxed): with no app frame on the
 * stack, or caught while loading a module (frames of node:internal/modules above the app's). The
 * ESM resolver throws and catches once for every new bare specifier (`import('koa')` is first
 * tried as a URL), so an ESM module graph loading after the agent armed paused once per package,
 * and an app's `import()`s and optional `require`s used up its pause budget. Module loading comes
 * in bursts: these pauses take no budget, capture nothing and start no back-off up to this many
 * per second; past it they do.
 */
const MODULE_LOADING_PER_SECOND = 200;
/**
 * Other throws and rejections with no app frame, caught or Node's own: Node's fs failing for a
 * dependency that probes files, and Node's web streams, which throw and catch, or reject a promise
 * they mark handled right after, when a reader or writer is released (`Readable.toWeb`, `pipeTo`,
 * every Next.js answer). V8 pauses for each (~0.3 ms, as for any pause; node: scripts cannot be
 * blackboxed, and only 'caught' leaves the rejections out, see PauseState), and some come with every
 * request: they are free up to this many per second (about 0.3% of a core) after a burst of
 * NODE_NOISE_BURST (a server's start-up); past it they start the back-off, and the app's errors
 * are reported without locals until it ends. Before this cap, a Next.js app paid ~1.5 ms of CPU
 * per request.
 */
const NODE_NOISE_PER_SECOND = 10;
const NODE_NOISE_BURST = 100;
/**
 * Past that allowance, when what exhausted it is a rejection of Node's own that looks unhandled to
 * V8 (web streams reject a reader's or writer's promise and mark it handled right after; Next.js
 * on Node 20 and 22 does this several times per answer), pauses are not switched off but narrowed
 * to 'caught' for the back-off: V8 then skips rejections and uncaught throws but still pauses where
 * a framework or your code catches an error, which is where most app errors are, so those keep
 * their locals; an uncaught error in that window goes out without them ('budget').
 */
type PauseState = 'all' | 'caught' | 'none';

/**
 * Frameworks' control-flow throws (React's Suspense exception, Next's redirect and notFound, see
 * control-flow-throws.ts): resumed at once, free up to this many per second after a burst; past
 * it they start the back-off like other pauses that capture nothing (each still stops the app's
 * thread for the pause itself).
 */
const CONTROL_FLOW_PER_SECOND = 10;
const CONTROL_FLOW_BURST = 100;

export async function startExceptionCapture(opts: ExceptionCaptureOptions): Promise<ExceptionCapture> {
  const { session, config, logger, flags } = opts;
  const budget = createPauseBudget(config.maxPausesPerSecond, config.maxPausesPerSitePerMinute);
  const bundled = createBundledDependencies(session, logger);
  const captureOptions: CaptureOptions = {
    limits: opts.limits ?? captureLimits(config),
    maxFrames: DEFAULTS.maxCaptureFrames,
    acceptFrame: (url, _index, frame) => isAppUrl(url) && !bundled.contains(frame.location),
  };
  const userInspector = (): boolean => Atomics.load(flags, SHARED.userInspector) === 1;
  let state: PauseState = 'none';
  let stopped = false;
  let rearmTimer: NodeJS.Timeout | undefined;
  let rearmAt = 0;
  let idleBackoffMs = 0;
  const moduleLoading = createTokenBucket(MODULE_LOADING_PER_SECOND, MODULE_LOADING_PER_SECOND);
  const nodeNoise = createTokenBucket(NODE_NOISE_PER_SECOND, NODE_NOISE_BURST);
  const controlFlow = createTokenBucket(CONTROL_FLOW_PER_SECOND, CONTROL_FLOW_BURST);

  const setState = (next: PauseState, budgetSpent = false): void => {
    state = next;
    Atomics.store(flags, SHARED.budgetSpent, budgetSpent ? 1 : 0);
    // Not awaited: posted before the resume, 'none' stops the very next throw from pausing.
    session.post('Debugger.setPauseOnExceptions', { state: next }).catch((err: Error) => logger.debug(`setPauseOnExceptions ${next}: ${err?.message}`));
  };

  const arm = (): void => {
    // With the app's own debugger attached, pause-on-exceptions is its setting (last writer wins).
    if (stopped || state !== 'none' || userInspector()) return;
    // A budget of 0 pauses per second: locals are off, every error goes out as 'budget'.
    if (config.maxPausesPerSecond <= 0) Atomics.store(flags, SHARED.budgetSpent, 1);
    else setState('all');
  };

  /** Pauses off until a token is back, and at least `minMs`. */
  const disarm = (minMs = 0): void => {
    if (state !== 'none') setState('none', true);
    if (stopped) return;
    const ms = Math.max(1, minMs, budget.msUntilToken());
    if (!Number.isFinite(ms)) return;
    const at = Date.now() + ms;
    if (rearmTimer && rearmAt >= at) return;
    if (rearmTimer) clearTimeout(rearmTimer);
    rearmAt = at;
    rearmTimer = setTimeout(() => {
      rearmTimer = undefined;
      arm();
    }, ms);
    rearmTimer.unref();
  };

  /** The next back-off window: IDLE_BACKOFF_MIN_MS, doubling while pauses capture nothing. */
  const longerBackoff = (): number => (idleBackoffMs = Math.min(IDLE_BACKOFF_MAX_MS, idleBackoffMs > 0 ? idleBackoffMs * 2 : IDLE_BACKOFF_MIN_MS));

  /** A pause that captured nothing: back off (see IDLE_BACKOFF_MIN_MS). Returns true: resume. */
  const idlePause = (why: string): true => {
    const ms = longerBackoff();
    disarm(ms);
    logger.debug(`exception pauses off for ${ms} ms: the last one captured nothing (${why})`);
    return true;
  };

  let widenTimer: NodeJS.Timeout | undefined;
  /** Rejections of Node's own over their allowance: pauses narrowed to 'caught' for the back-off (see PauseState). */
  const narrow = (why: string): true => {
    const ms = longerBackoff();
    setState('caught', true);
    clearTimeout(widenTimer);
    widenTimer = setTimeout(() => {
      if (!stopped && state === 'caught') setState('all');
    }, ms);
    widenTimer.unref();
    logger.debug(`exception pauses narrowed to caught errors for ${ms} ms (${why})`);
    return true;
  };

  // ======== The app's thread is paused while this handler runs: keep it short and total. ========
  const onPause = async (ev: PausedEvent): Promise<boolean> => {
    if (ev.reason !== 'exception' && ev.reason !== 'promiseRejection') return false;
    // The app's own debugger: not ours (the session detaches, see inspector/index.ts).
    if (userInspector()) return false;
    // From here on the pause is ours (ours or a leftover of a state just switched off): resume it.
    if (state === 'none' || stopped) return true;
    const frames = ev.callFrames;
    const topUrl = frames.length ? session.scripts.get(frames[0].location.scriptId) ?? '' : '';
    if (isOwnUrl(topUrl)) return true;
    const thrown = ev.data as (Runtime.RemoteObject & { uncaught?: boolean }) | undefined;
    // Above the first app frame: whether only Node's frames are there, and whether Node's module
    // loader (resolving, reading, compiling) is among them.
    let firstApp = -1;
    let nodeOnly = true;
    let loaderFrame = false;
    for (let i = 0; i < frames.length && i < 50; i++) {
      const url = session.scripts.get(frames[i].location.scriptId) ?? '';
      if (isAppUrl(url) && !bundled.contains(frames[i].location)) {
        firstApp = i;
        break;
      }
      if (nodeOnly && !url.startsWith('node:')) nodeOnly = false;
      if (!loaderFrame && url.startsWith('node:internal/modules/')) loaderFrame = true;
    }
    // Its script may be a bundle with dependencies in it: from its source map, once, after this
    // pause (a framework bundled into the app's chunks then stops pausing for its own throws).
    if (firstApp >= 0) bundled.learn(frames[firstApp].location.scriptId);
    if (isControlFlowThrow(thrown)) return controlFlow.take() || idlePause(`framework control-flow throws over ${CONTROL_FLOW_PER_SECOND}/s`);
    // A throw of the module loader; newer Node resolves ESM asynchronously, so without an app frame
    // its own throws can look uncaught to V8.
    const loading = topUrl.startsWith('node:') && loaderFrame && (firstApp < 0 || thrown?.uncaught === false);
    if (loading && moduleLoading.take()) return true;
    // A rejection that looks unhandled to V8 at the moment it happens (often handled right after).
    const rejection = ev.reason === 'promiseRejection' && thrown?.uncaught !== false;
    if (firstApp < 0 && (thrown?.uncaught === false || nodeOnly || rejection) && nodeNoise.take()) return true;
    const where = (): string => `${topUrl || 'unknown'}:${(frames[0]?.location.lineNumber ?? -1) + 1}`;
    if (firstApp < 0 && rejection) return narrow(`rejections with no app frame over ${NODE_NOISE_PER_SECOND}/s; the last in ${where()}`);
    // Node internals or dependencies throwing (and usually catching) among themselves.
    if (firstApp < 0) return idlePause(`no app frame; thrown in ${where()}, ${thrown?.uncaught === false ? 'caught' : 'uncaught'}`);
    if (!budget.take()) {
      disarm();
      return true;
    }
    if (budget.empty()) disarm();
    // Thrown primitives have no objectId: nothing to attach locals to (reported as 'primitive').
    if (!thrown?.objectId || (thrown.type !== 'object' && thrown.type !== 'function')) return true;
    // The site is the app's line that threw or called what threw: a Node API failing for many
    // callers (fs ENOENT...) is not one site.
    const site = frames[firstApp].location;
    if (!budget.allowSite(`${site.scriptId}:${site.lineNumber}:${site.columnNumber ?? 0}`)) return idlePause('its site is over its cap');
    idleBackoffMs = 0;
    try {
      // firstApp 0: the app's own `throw`, not Node or a dependency it called.
      const outcome = await attachLocals(session, thrown.objectId, frames, captureOptions, firstApp === 0);
      if (outcome === 'failed' || outcome === 'no_serializer') logger.debug(`locals capture: ${outcome}`);
    } catch (err) {
      logger.debug(`locals capture failed: ${(err as Error)?.message}`);
    }
    return true;
  };
  // ======== End of the paused region. ========

  session.addPauseHandler(onPause);
  try {
    await session.post('Debugger.setBlackboxPatterns', { patterns: blackboxPatterns() });
  } catch (err) {
    logger.debug(`setBlackboxPatterns: ${(err as Error)?.message}`);
  }
  const ready = await prepareSerializer(session).catch(() => false);
  if (!ready) logger.debug('locals serializer not found on the main thread; exceptions are reported without locals');
  else arm();

  return {
    stop() {
      // No 'none' posted: the session is about to disconnect, which ends every pause setting.
      stopped = true;
      state = 'none';
      clearTimeout(widenTimer);
      if (rearmTimer) clearTimeout(rearmTimer);
      rearmTimer = undefined;
    },
  };
}
