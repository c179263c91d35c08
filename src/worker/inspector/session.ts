import { Session } from 'node:inspector/promises';
import type { Debugger } from 'node:inspector';
import type { Logger } from '../../shared/log';

/** What a pause handler is given; objectIds in it are valid only until it returns. */
export type PausedEvent = Debugger.PausedEventDataType;

/**
 * Handles one kind of pause. Returns true when it handled the pause (it must NOT resume itself:
 * the session resumes once, in `finally`, after the handler returns or throws).
 */
export type PauseHandler = (event: PausedEvent) => Promise<boolean> | boolean;

/** The agent's one inspector session on the app's main thread, shared by exceptions and breakpoints. */
export interface InspectorSession {
  post<T = unknown>(method: string, params?: object): Promise<T>;
  /** scriptId -> url (CallFrame.url is empty on some Node versions). Scripts without a url are left out. */
  readonly scripts: ReadonlyMap<string, string>;
  /**
   * The source map URL V8 was given for the script last loaded from `url` (a loader such as tsx
   * compiles in memory and appends an inline map the file on disk does not have).
   */
  sourceMapURLOf(url: string): string | undefined;
  /** Subscribes to every Debugger.scriptParsed (replayed ones included for late subscribers). */
  onScriptParsed(fn: (script: Debugger.ScriptParsedEventDataType) => void): void;
  /** Pause handlers are asked in order; the first returning true owns the pause. */
  addPauseHandler(handler: PauseHandler): void;
  /** Subscribes to any other session notification (e.g. 'Debugger.breakpointResolved', 'Runtime.bindingCalled'). */
  onNotification(method: string, fn: (params: unknown) => void): void;
  /**
   * Turns the Debugger domain off or on again (it starts on). While it is off V8 runs `await` at
   * full speed, sets no breakpoints and never pauses; turning it on again replays every script to
   * `onScriptParsed` listeners. Resolves when the last change asked for is done: true when this
   * call changed the state, false when it was already so.
   */
  setDebuggerEnabled(on: boolean): Promise<boolean>;
  /** Detaches from the main thread; must happen before the process exits. */
  disconnect(): void;
}

export interface SessionOptions {
  /**
   * Asked when no handler claimed a pause. Default: resume (a stray `debugger;` statement must not
   * freeze the app). Return false while the app's own debugger is attached: the pause is its own.
   */
  resumeUnclaimed?: () => boolean;
  /**
   * Aborting detaches at once, even while the session is still being opened (the app may exit
   * during start-up; a session left attached makes Node print "Waiting for the debugger...").
   * The returned promise then rejects.
   */
  signal?: AbortSignal;
  /** Asked right before connecting; false means the app is exiting and the session must not attach. */
  mayConnect?: () => boolean;
}

/**
 * Scripts remembered for late subscribers and the url map. Apps that compile code at run time
 * (vm, templating) can create scripts without end: the oldest are forgotten past this count.
 */
const MAX_SCRIPTS = 20_000;

/**
 * How a session reaches one thread's V8: the main thread's own `Session`, or one of the app's
 * worker threads through it (inspector/thread-sessions.ts).
 */
export interface SessionChannel {
  /** Never throws: a disconnected channel gives a rejection. */
  post(method: string, params?: object): Promise<unknown>;
  /** Subscribes to a notification; `fn` gets the notification's params. */
  on(method: string, fn: (params: never) => void): void;
  disconnect(): void;
}

/**
 * Connects to the main thread (no debugger port is opened) and enables the Debugger domain.
 * Every pause is resumed in `finally`: a pause left hanging would freeze the app forever.
 */
export async function openSession(logger: Logger, options: SessionOptions = {}): Promise<InspectorSession> {
  if (options.signal?.aborted) throw new Error('aborted before connecting');
  if (options.mayConnect && !options.mayConnect()) throw new Error('the app is exiting');
  const session = new Session();
  session.connectToMainThread();
  let connected = true;
  const channel: SessionChannel = {
    post: (method, params) => postAwake(session, method, params),
    on: (method, fn) => session.on(method, (msg: { params?: unknown }) => (fn as (p: unknown) => void)(msg.params)),
    disconnect() {
      if (!connected) return;
      connected = false;
      try {
        session.disconnect();
      } catch {
        // already gone
      }
    },
  };
  const s = sessionOver(channel, logger, options);
  options.signal?.addEventListener('abort', s.disconnect, { once: true });
  await s.setDebuggerEnabled(true);
  if (!connected) throw new Error('disconnected while opening');
  return s;
}

/**
 * The agent's session over `channel`: its scripts, its pause handlers (every pause resumed in
 * `finally`), its notifications, and the Debugger domain, which it enables at once.
 */
export function sessionOver(channel: SessionChannel, logger: Logger, options: Pick<SessionOptions, 'resumeUnclaimed'> = {}): InspectorSession {
  const post = channel.post;
  const scripts = new Map<string, string>();
  // Only scripts with a url are kept for replay (eval/new Function code has none and is never a
  // breakpoint or app-frame target); bounded like `scripts`.
  const parsed = new Map<string, Debugger.ScriptParsedEventDataType>();
  // url -> scriptId of the last script parsed from it
  const byUrl = new Map<string, string>();
  const scriptListeners: Array<(s: Debugger.ScriptParsedEventDataType) => void> = [];
  const pauseHandlers: PauseHandler[] = [];
  let connected = true;

  const notify = (fn: (s: Debugger.ScriptParsedEventDataType) => void, script: Debugger.ScriptParsedEventDataType): void => {
    try {
      fn(script);
    } catch (err) {
      logger.debug(`scriptParsed listener failed: ${(err as Error)?.message}`);
    }
  };

  channel.on('Debugger.scriptParsed', (script: Debugger.ScriptParsedEventDataType) => {
    if (script.url) {
      if (parsed.size >= MAX_SCRIPTS) {
        const oldest = parsed.keys().next().value as string;
        const oldUrl = scripts.get(oldest);
        if (oldUrl !== undefined && byUrl.get(oldUrl) === oldest) byUrl.delete(oldUrl);
        parsed.delete(oldest);
        scripts.delete(oldest);
      }
      scripts.set(script.scriptId, script.url);
      parsed.set(script.scriptId, script);
      byUrl.set(script.url, script.scriptId);
    }
    for (const fn of scriptListeners) notify(fn, script);
  });

  const resume = (): void => {
    // disconnected: V8 resumes by itself when the session goes away
    if (connected) post('Debugger.resume').catch(() => undefined);
  };

  channel.on('Debugger.paused', (params: PausedEvent) => {
    void (async () => {
      let claimed = false;
      try {
        for (const handler of pauseHandlers) {
          if (await handler(params)) {
            claimed = true;
            break;
          }
        }
      } catch (err) {
        claimed = true; // a failing handler's own pause must still be resumed
        logger.debug(`pause handler failed: ${(err as Error)?.message}`);
      } finally {
        let resumeIt = true;
        if (!claimed && options.resumeUnclaimed) {
          try {
            resumeIt = options.resumeUnclaimed();
          } catch {
            resumeIt = true;
          }
        }
        if (resumeIt) resume();
      }
    })();
  });

  const disconnect = (): void => {
    if (!connected) return;
    connected = false;
    channel.disconnect();
  };

  let debuggerOn = true;
  let debuggerChange: Promise<unknown> = post('Debugger.enable');

  return {
    // disconnected: callers see a rejection, never a sync throw
    post: <T>(method: string, params?: object) => post(method, params) as Promise<T>,
    scripts,
    sourceMapURLOf(url) {
      const id = byUrl.get(url);
      return (id !== undefined && parsed.get(id)?.sourceMapURL) || undefined;
    },
    onScriptParsed(fn) {
      scriptListeners.push(fn);
      for (const s of parsed.values()) notify(fn, s);
    },
    addPauseHandler(handler) {
      pauseHandlers.push(handler);
    },
    onNotification(method, fn) {
      channel.on(method, (params: unknown) => {
        try {
          fn(params);
        } catch (err) {
          logger.debug(`${method} listener failed: ${(err as Error)?.message}`);
        }
      });
    },
    setDebuggerEnabled(on) {
      // Posted in call order on one session, so the thread applies them in that order too.
      const changed = on !== debuggerOn;
      if (changed) {
        debuggerOn = on;
        debuggerChange = post(on ? 'Debugger.enable' : 'Debugger.disable');
      }
      return debuggerChange.then(() => changed);
    },
    disconnect,
  };
}

/** First wake-up poke after this long without an answer, ms; then doubling up to WAKE_MAX_MS. */
const WAKE_FIRST_MS = 50;
const WAKE_MAX_MS = 1000;

/**
 * `session.post` that cannot be left waiting forever. Seen on Node 26.12 (not 20 or 24): now and
 * then a command posted to an idle main thread is not picked up until some other message arrives,
 * so it (and e.g. a breakpoint install behind it) would hang until the app happens to get another
 * inspector message. A cheap read-only command (no JS runs) re-wakes the dispatcher. In the normal
 * case this costs one timer per command. Never throws: a disconnected session gives a rejection.
 */
function postAwake(session: Session, method: string, params?: object): Promise<unknown> {
  let answer: Promise<unknown>;
  try {
    answer = session.post(method, params);
  } catch (err) {
    return Promise.reject(err);
  }
  let delay = WAKE_FIRST_MS;
  let timer: NodeJS.Timeout;
  const poke = (): void => {
    try {
      session.post('Runtime.getIsolateId').catch(() => undefined);
    } catch {
      return; // disconnected: the answer will never come, nothing to wake
    }
    delay = Math.min(delay * 2, WAKE_MAX_MS);
    timer = setTimeout(poke, delay);
    timer.unref();
  };
  timer = setTimeout(poke, delay);
  timer.unref();
  return answer.finally(() => clearTimeout(timer));
}
