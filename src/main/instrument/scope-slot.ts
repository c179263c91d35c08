import diagnosticsChannel from 'node:diagnostics_channel';
import { requestStorage, type RequestScope } from '../context/store';
import type { ChannelInstrumentation } from './types';
import { isWrapper, markWrapper } from './wrap';

/** A base class whose constructor returns its argument: subclass fields are then added to that object. */
const ReturnsItsArgument = function (this: unknown, target: object) {
  return target;
} as unknown as new (target: object) => object;

/**
 * The request's scope in a private field of the request itself. A WeakMap entry per request cost a
 * POST hello route ~30% of its throughput on Node 24 (ephemeron work in every scavenge, measured);
 * a private field is one hidden property: no key, not in util.inspect, nothing the app can see.
 */
class ScopeSlot extends ReturnsItsArgument {
  #scope: RequestScope;
  private constructor(target: object, scope: RequestScope) {
    super(target);
    this.#scope = scope;
  }

  static keep(target: object, scope: RequestScope): void {
    if (!(#scope in target)) new ScopeSlot(target, scope);
  }

  static read(target: object): RequestScope | undefined {
    return #scope in target ? (target as ScopeSlot).#scope : undefined;
  }
}

/**
 * A readable's pushes in the scope kept on it: gives `proto` its own `push` (Node calls it with
 * each chunk of a body and at its end) that re-enters the scope ScopeSlot keeps on the object,
 * then pushes: 'data' listeners run in it and 'end' is scheduled from it. Does nothing when `proto`
 * has a `push` of its own already. Returns what takes it back.
 */
function pushInKeptScope(proto: object, active: () => boolean): () => void {
  const original = (proto as { push?: unknown }).push;
  if (typeof original !== 'function' || isWrapper(original) || Object.prototype.hasOwnProperty.call(proto, 'push')) return () => undefined;
  const push = markWrapper(function push(this: object): unknown {
    if (active()) {
      const scope = ScopeSlot.read(this);
      if (scope !== undefined && requestStorage.getStore() !== scope) requestStorage.enterWith(scope);
    }
    return Reflect.apply(original, this, arguments);
  }, original);
  Object.defineProperty(proto, 'push', { value: push, writable: true, enumerable: false, configurable: true });
  return () => {
    const d = Object.getOwnPropertyDescriptor(proto, 'push');
    if (d && isWrapper(d.value)) delete (proto as { push?: unknown }).push;
  };
}

/**
 * Keeps `scope` on `target` for its pushes; `protoOf` is asked once, for the prototype to give its
 * own `push` (a function made once, not per request: request paths allocate little).
 */
export type KeepScope = (target: object, scope: RequestScope, protoOf: (target: object) => object | null) => void;

/**
 * An instrumentation that enters a request's scope where `channel` publishes a new request (http.ts,
 * http2.ts). `makeListener` is called once with `keepScope`, which keeps a scope on the object Node
 * pushes the request's body through (ScopeSlot) and, the first time, gives its prototype the `push`
 * that re-enters it (pushInKeptScope); unpatch takes that `push` back.
 */
export function requestScopeChannel(name: string, channel: string, makeListener: (keepScope: KeepScope) => (message: unknown) => void): ChannelInstrumentation {
  let active = false;
  let unpatchPush: (() => void) | undefined;
  const onStart = makeListener((target, scope, protoOf) => {
    ScopeSlot.keep(target, scope);
    if (unpatchPush !== undefined) return;
    const proto = protoOf(target);
    if (proto !== null) unpatchPush = pushInKeptScope(proto, () => active);
  });
  return {
    name,
    versions: '*',
    patch() {
      active = true;
      diagnosticsChannel.subscribe(channel, onStart);
    },
    unpatch() {
      active = false;
      diagnosticsChannel.unsubscribe(channel, onStart);
      unpatchPush?.();
      unpatchPush = undefined;
    },
  };
}
