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
  /** scriptId -> url (CallFrame.url is empty on some Node versions). */
  readonly scripts: ReadonlyMap<string, string>;
  /** Subscribes to every Debugger.scriptParsed (replayed ones included for late subscribers). */
  onScriptParsed(fn: (script: Debugger.ScriptParsedEventDataType) => void): void;
  /** Pause handlers are asked in order; the first returning true owns the pause. */
  addPauseHandler(handler: PauseHandler): void;
  /** Subscribes to any other session notification (e.g. 'Debugger.breakpointResolved', 'Runtime.bindingCalled'). */
  onNotification(method: string, fn: (params: unknown) => void): void;
  /** Detaches from the main thread; must happen before the process exits. */
  disconnect(): void;
}

/**
 * Connects to the main thread (no debugger port is opened) and enables the Debugger domain.
 * Every pause is resumed in `finally`: a pause left hanging would freeze the app forever.
 */
export async function openSession(logger: Logger): Promise<InspectorSession> {
  const session = new Session();
  session.connectToMainThread();
  const post = (method: string, params?: object): Promise<unknown> => postAwake(session, method, params);
  const scripts = new Map<string, string>();
  const scriptListeners: Array<(s: Debugger.ScriptParsedEventDataType) => void> = [];
  const parsed: Debugger.ScriptParsedEventDataType[] = [];
  const pauseHandlers: PauseHandler[] = [];
  let connected = true;

  session.on('Debugger.scriptParsed', (msg) => {
    const script = msg.params;
    if (script.url) scripts.set(script.scriptId, script.url);
    parsed.push(script);
    for (const fn of scriptListeners) {
      try {
        fn(script);
      } catch (err) {
        logger.debug(`scriptParsed listener failed: ${(err as Error).message}`);
      }
    }
  });

  session.on('Debugger.paused', (msg) => {
    void (async () => {
      try {
        for (const handler of pauseHandlers) {
          if (await handler(msg.params)) break;
        }
      } catch (err) {
        logger.debug(`pause handler failed: ${(err as Error).message}`);
      } finally {
        if (connected) post('Debugger.resume').catch(() => undefined);
      }
    })();
  });

  await post('Debugger.enable');

  return {
    post: <T>(method: string, params?: object) => post(method, params) as Promise<T>,
    scripts,
    onScriptParsed(fn) {
      scriptListeners.push(fn);
      for (const s of parsed) fn(s);
    },
    addPauseHandler(handler) {
      pauseHandlers.push(handler);
    },
    onNotification(method, fn) {
      session.on(method, (msg: { params?: unknown }) => {
        try {
          fn(msg.params);
        } catch (err) {
          logger.debug(`${method} listener failed: ${(err as Error).message}`);
        }
      });
    },
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
}

/** First wake-up poke after this long without an answer, ms; then doubling up to WAKE_MAX_MS. */
const WAKE_FIRST_MS = 50;
const WAKE_MAX_MS = 1000;

/**
 * `session.post` that cannot be left waiting forever. Seen on Node 26.12 (not 20 or 24): now and
 * then a command posted to an idle main thread is not picked up until some other message arrives;
 * the command would hang (and with it, e.g., a breakpoint install) until the app happens to get
 * another inspector message. A cheap read-only command (no JS runs) re-wakes the dispatcher. In the
 * normal case this costs one timer per command.
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
