import type { RequestScope } from '../context/store';

/** A base class whose constructor returns its argument: subclass fields are then added to that object. */
const ReturnsItsArgument = function (this: unknown, target: object) {
  return target;
} as unknown as new (target: object) => object;

/**
 * The request's scope in a private field of the request itself. A WeakMap entry per request cost a
 * POST hello route ~30% of its throughput on Node 24 (ephemeron work in every scavenge, measured);
 * a private field is one hidden property: no key, not in util.inspect, nothing the app can see.
 */
export class ScopeSlot extends ReturnsItsArgument {
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
