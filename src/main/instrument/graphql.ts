import diagnosticsChannel from 'node:diagnostics_channel';
import { types } from 'node:util';
import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { errorStatus, firstSightings, inheritsFromClassNamed, isObject } from './error-status';
import type { ChannelInstrumentation, ModuleInstrumentation } from './types';
import { unwrapMethod, wrapMethod } from './wrap';

/**
 * GraphQL (graphql-js 15-17, which Apollo Server, GraphQL Yoga, Mercurius and @nestjs/graphql run).
 * graphql catches whatever a resolver throws, turns it into an entry of the response's `errors`
 * and answers 200: nothing reaches express or the process. What a resolver throws is reported,
 * with the field's path and the request; a `GraphQLError` thrown on purpose and errors carrying a
 * 4xx status are answers, not faults, and are left alone.
 *
 * - graphql 15 and 16 (CommonJS): `error/locatedError.js`, the function graphql calls with every
 *   error a field produced, is wrapped through the require hook. It is given the field's AST nodes,
 *   not the operation; so `execute` and `validate` are wrapped too, to note the latest documents,
 *   in which the field is looked up when an error is reported (recentDocuments below).
 * - graphql 17 (CommonJS or ES modules): graphql publishes each operation on the
 *   `graphql:execute` tracing channel; its end events carry the result, whose errors keep what the
 *   resolver threw as `originalError`. Subscribing costs one channel publish per operation.
 */

const firstReport = firstSightings();
// One switch per way in: the require hook's wrapper stays in graphql 15/16 after the agent stops.
let wrapperActive = false;
let channelActive = false;

/** `['user', 'orders', 0]` -> `user.orders.0`. */
function pathText(path: unknown): string | undefined {
  if (!Array.isArray(path)) return undefined;
  let out = '';
  for (let i = 0; i < path.length && i < 64; i++) {
    const seg = path[i] as unknown;
    if (typeof seg !== 'string' && typeof seg !== 'number') return undefined;
    out += (i === 0 ? '' : '.') + String(seg);
  }
  return out;
}

/** Reports what a resolver threw, unless it is a deliberate answer or was reported already. */
function reportResolverError(thrown: unknown, path: unknown, operation?: () => unknown): void {
  if (thrown === undefined || thrown === null) return;
  if (inheritsFromClassNamed(thrown, 'GraphQLError')) return;
  const status = errorStatus(thrown);
  if (status !== undefined && status < 500) return;
  if (!firstReport(thrown)) return;
  const graphql: Record<string, string> = {};
  const where = pathText(path);
  if (where !== undefined) graphql.path = where;
  try {
    const name = operation?.();
    if (typeof name === 'string' && name !== '') graphql.operation = name.slice(0, 200);
  } catch {
    // graphql could not tell the operation: the path is enough
  }
  reportError(thrown, 'graphql', { graphql });
}

/**
 * graphql 15/16: the documents of the latest operations, to find the operation of a field that
 * failed. Noting one is an array store (nothing allocated, no weak entry: apps that parse each
 * request's query would otherwise add collector work to every request); the walk happens only for
 * an error being reported, in the document parsed from the same source as the field's node, at
 * most MAX_WALKED_NODES nodes. The ring keeps the last RECENT_DOCUMENTS documents alive.
 */
const RECENT_DOCUMENTS = 128;
const MAX_WALKED_NODES = 10_000;
const recentDocuments: unknown[] = new Array<unknown>(RECENT_DOCUMENTS).fill(undefined);
let nextSlot = 0;

interface AstNode {
  kind?: unknown;
  name?: { value?: unknown };
  selectionSet?: { selections?: unknown };
  definitions?: unknown;
  loc?: { source?: unknown };
}

function noteDocument(document: unknown): void {
  if (!isObject(document) || recentDocuments[(nextSlot + RECENT_DOCUMENTS - 1) % RECENT_DOCUMENTS] === document) return;
  recentDocuments[nextSlot] = document;
  nextSlot = (nextSlot + 1) % RECENT_DOCUMENTS;
}

function nameOf(node: AstNode | undefined): string | undefined {
  const value = node?.name?.value;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The named operation of `document` whose selections reach `field` (through fragments too): its
 * name, null when two operations reach it (a shared fragment) or only an anonymous one does,
 * undefined when `field` is not in `document`.
 */
function operationReaching(document: AstNode, field: object): string | null | undefined {
  const definitions = document.definitions;
  if (!Array.isArray(definitions)) return undefined;
  const fragments = new Map<string, AstNode>();
  for (const def of definitions as AstNode[]) {
    const name = def?.kind === 'FragmentDefinition' ? nameOf(def) : undefined;
    if (name !== undefined) fragments.set(name, def);
  }
  let found: string | null | undefined;
  let budget = MAX_WALKED_NODES;
  for (const operation of definitions as AstNode[]) {
    if (operation?.kind !== 'OperationDefinition') continue;
    const pending: unknown[] = [operation.selectionSet?.selections];
    const spread = new Set<string>();
    walk: while (pending.length > 0) {
      const selections = pending.pop();
      if (!Array.isArray(selections)) continue;
      for (const node of selections as AstNode[]) {
        if (--budget < 0) return found;
        if (!isObject(node)) continue;
        if (node === field) {
          const name = nameOf(operation) ?? null;
          found = found === undefined || found === name ? name : null;
          break walk;
        }
        if (node.kind === 'FragmentSpread') {
          const fragmentName = nameOf(node);
          const fragment = fragmentName === undefined ? undefined : fragments.get(fragmentName);
          if (fragment === undefined || spread.has(fragmentName as string)) continue;
          spread.add(fragmentName as string);
          pending.push(fragment.selectionSet?.selections);
        } else {
          pending.push(node.selectionSet?.selections);
        }
      }
    }
  }
  return found;
}

/** The operation of the field a located error belongs to (graphql passes the field's nodes). */
function operationOfNodes(nodes: unknown): string | undefined {
  const field = (Array.isArray(nodes) ? nodes[0] : nodes) as AstNode | undefined;
  if (!isObject(field) || types.isProxy(field)) return undefined;
  const source = field.loc?.source;
  for (let i = 1; i <= RECENT_DOCUMENTS; i++) {
    const document = recentDocuments[(nextSlot + RECENT_DOCUMENTS - i) % RECENT_DOCUMENTS] as AstNode | undefined;
    if (!isObject(document) || types.isProxy(document)) continue;
    // Parsed with locations (graphql's default): only the document of the same source can hold it.
    if (source !== undefined && document.loc?.source !== source) continue;
    const name = operationReaching(document, field);
    if (name !== undefined) return name ?? undefined;
  }
  return undefined;
}

export const graphqlLocatedErrorInstrumentation: ModuleInstrumentation = {
  name: 'graphql',
  module: 'graphql/error/locatedError',
  versions: '>=15.0.0 <17.0.0',
  coveredElsewhere: { versions: '>=17.0.0', by: 'its graphql:execute tracing channel' },
  patch(exports) {
    if (!isObject(exports)) return exports;
    wrapperActive = true;
    // A plain function, as graphql's: it keeps a `prototype` like the original.
    wrapMethod(exports, 'locatedError', (original) => function locatedError(this: unknown, raw: unknown, nodes: unknown, path: unknown): unknown {
      const located = Reflect.apply(original, this, arguments) as unknown;
      // Returned as it came: an error already located upstream (a non-null field passing it up).
      if (wrapperActive && located !== raw) {
        try {
          // A thrown primitive (or null) is reported as graphql wraps it, as graphql 17's channel gives it.
          reportResolverError(isObject(raw) ? raw : (ownData(located, 'originalError') ?? raw), path, () => operationOfNodes(nodes));
        } catch {
          // never throw into graphql's execution
        }
      }
      return located;
    });
    return exports;
  },
  unpatch(exports) {
    wrapperActive = false;
    if (isObject(exports)) unwrapMethod(exports, 'locatedError');
  },
};

/**
 * A graphql 15/16 module whose functions receive a parsed document: each of `keys` is wrapped to
 * note the document (the argument `documentOf` picks) before it runs as graphql's own.
 */
function documentNoting(module: string, keys: readonly string[], documentOf: (args: IArguments) => unknown): ModuleInstrumentation {
  return {
    name: 'graphql',
    module,
    versions: '>=15.0.0 <17.0.0',
    coveredElsewhere: { versions: '>=17.0.0', by: 'its graphql:execute tracing channel' },
    patch(exports) {
      if (!isObject(exports)) return exports;
      // Plain functions, as graphql's (name and length are copied): they keep a `prototype` too.
      for (const key of keys) {
        wrapMethod(exports, key, (original) => function notingDocument(this: unknown): unknown {
          if (wrapperActive) {
            try {
              noteDocument(documentOf(arguments));
            } catch {
              // an odd document: its errors are reported without the operation
            }
          }
          return Reflect.apply(original, this, arguments) as unknown;
        });
      }
      return exports;
    },
    unpatch(exports) {
      if (isObject(exports)) for (const key of keys) unwrapMethod(exports, key);
    },
  };
}

/**
 * `execute` and `executeSync` (`execute({ document })`, or graphql 15's positional form), and
 * `validate(schema, document)`, which servers with their own executor (GraphQL Yoga's
 * @graphql-tools/executor) still call for each new document.
 */
export const graphqlDocumentInstrumentations: readonly ModuleInstrumentation[] = [
  documentNoting('graphql/execution/execute', ['execute', 'executeSync'], (args) => (args.length === 1 ? ownData(args[0], 'document') : args[1])),
  documentNoting('graphql/validation/validate', ['validate'], (args) => args[1]),
];

const EXECUTE_END = 'tracing:graphql:execute:end';
const EXECUTE_ASYNC_END = 'tracing:graphql:execute:asyncEnd';

/** An execution result's errors: `{ errors }`, or `{ initialResult: { errors } }` for @defer/@stream. */
function resultErrors(result: unknown): unknown[] | undefined {
  if (types.isPromise(result)) return undefined;
  const errors = ownData(result, 'errors');
  if (Array.isArray(errors)) return errors;
  const initial = ownData(result, 'initialResult');
  return initial !== undefined && initial !== result ? resultErrors(initial) : undefined;
}

/** End of one `graphql:execute` operation (graphql 17): the context graphql built, with `result`. */
function onExecuteEnd(message: unknown): void {
  try {
    if (!channelActive) return;
    const errors = resultErrors(ownData(message, 'result'));
    if (!errors) return;
    // graphql's own getter: it reads the operation from the document, once, and only when needed.
    const operation = (): unknown => (message as { operationName?: unknown }).operationName;
    for (let i = 0; i < errors.length && i < 100; i++) {
      const located = errors[i] as unknown;
      reportResolverError(ownData(located, 'originalError'), ownData(located, 'path'), operation);
    }
  } catch {
    // never throw into graphql's tracing
  }
}

export const graphqlChannelInstrumentation: ChannelInstrumentation = {
  name: 'graphql',
  versions: '>=17.0.0',
  patch() {
    channelActive = true;
    diagnosticsChannel.subscribe(EXECUTE_END, onExecuteEnd);
    diagnosticsChannel.subscribe(EXECUTE_ASYNC_END, onExecuteEnd);
  },
  unpatch() {
    channelActive = false;
    diagnosticsChannel.unsubscribe(EXECUTE_END, onExecuteEnd);
    diagnosticsChannel.unsubscribe(EXECUTE_ASYNC_END, onExecuteEnd);
  },
};
