/**
 * Errors a worker thread's exception pauses captured locals for, remembered (weakly, the last
 * few) so that the agent's worker can ask for their locals later: a thread pool catches a task's
 * error in the thread and hands a copy to the main thread (piscina's rejected `run()`), where the
 * copy is reported without locals; the copy has the same type and stack, so the agent finds the
 * original here by its rate-limit key and takes the locals captured on it.
 */
import type { LocalsSnapshot } from '../../shared/messages';
import { describeHead, repeatKey, withStack } from '../capture/build-event';
import { readAttachedLocals } from '../serialize/serializer';

const REMEMBERED = 64;
const recent: Array<WeakRef<object>> = [];
let next = 0;
// Each error's key, read once (its stack is formatted then, if nothing did before).
const keys = new WeakMap<object, string>();

/** Called by the serializer during the pause (keep it small): the object it captured locals for. */
export function rememberCaptured(thrown: object): void {
  recent[next] = new WeakRef(thrown);
  next = (next + 1) % REMEMBERED;
}

/**
 * The locals captured on a remembered error with this type, message and key (newest first), if
 * any. Type and message are compared first: they are read without formatting a stack, which can
 * run the app's Error.prepareStackTrace (the original was formatted when it was copied).
 */
export function capturedLocalsOf(type: string, message: string, key: string): LocalsSnapshot | undefined {
  for (let i = 1; i <= recent.length; i++) {
    const error = recent[(next - i + REMEMBERED) % REMEMBERED]?.deref();
    if (error === undefined) continue;
    const head = describeHead(error);
    if (head.type !== type || head.message !== message) continue;
    let own = keys.get(error);
    if (own === undefined) keys.set(error, (own = repeatKey(withStack(error, head))));
    if (own !== key) continue;
    const snapshot = readAttachedLocals(error);
    if (snapshot) return snapshot;
  }
  return undefined;
}
