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
 *   not the operation; so `execute` and `validate` are wrapped too, and note, once per parsed
 *   document, which operation each field node of it belongs to (operationOfField below).
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
 * graphql 15/16: the operation each field node of an executed document belongs to (null: to
 * several, through a shared fragment). Servers parse a query once and keep the document, so a
 * document is walked once (at most MAX_INDEXED_NODES nodes); node objects are the keys, so nothing
 * outlives the documents.
 */
const operationOfField = new WeakMap<object, string | null>();
const indexedDocuments = new WeakSet<object>();
const MAX_INDEXED_NODES = 10_000;

interface AstNode {
  kind?: unknown;
  name?: { value?: unknown };
  selectionSet?: { selections?: unknown };
  definitions?: unknown;
}

function nameOf(node: AstNode | undefined): string | undefined {
  const value = node?.name?.value;
  return typeof value === 'string' ? value : undefined;
}

/** Notes the operation of every field node in `document` (a parsed GraphQL document). */
function indexDocument(document: unknown): void {
  if (!isObject(document) || types.isProxy(document) || indexedDocuments.has(document)) return;
  indexedDocuments.add(document);
  const definitions = (document as AstNode).definitions;
  if (!Array.isArray(definitions)) return;
  const fragments = new Map<string, AstNode>();
  const operations: AstNode[] = [];
  for (const def of definitions as AstNode[]) {
    if (def?.kind === 'FragmentDefinition') {
      const name = nameOf(def);
      if (name !== undefined) fragments.set(name, def);
    } else if (def?.kind === 'OperationDefinition') operations.push(def);
  }
  let budget = MAX_INDEXED_NODES;
  for (const operation of operations) {
    // An anonymous operation has no name to give: its fields are left out.
    const name = nameOf(operation);
    if (name === undefined) continue;
    const pending: unknown[] = [operation.selectionSet?.selections];
    const spread = new Set<string>();
    while (pending.length > 0) {
      const selections = pending.pop();
      if (!Array.isArray(selections)) continue;
      for (const node of selections as AstNode[]) {
        if (--budget < 0) return;
        if (!isObject(node)) continue;
        if (node.kind === 'Field') {
          const known = operationOfField.get(node);
          operationOfField.set(node, known === undefined || known === name ? name : null);
          pending.push(node.selectionSet?.selections);
        } else if (node.kind === 'InlineFragment') {
          pending.push(node.selectionSet?.selections);
        } else if (node.kind === 'FragmentSpread') {
          const fragmentName = nameOf(node);
          const fragment = fragmentName === undefined ? undefined : fragments.get(fragmentName);
          if (fragment !== undefined && !spread.has(fragmentName as string)) {
            spread.add(fragmentName as string);
            pending.push(fragment.selectionSet?.selections);
          }
        }
      }
    }
  }
}

/** The operation of the field a located error belongs to (graphql passes the field's nodes). */
function operationOfNodes(nodes: unknown): string | undefined {
  const first = Array.isArray(nodes) ? (nodes[0] as unknown) : nodes;
  return isObject(first) ? operationOfField.get(first) ?? undefined : undefined;
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
 * index the document (the argument `documentOf` picks) before it runs as graphql's own.
 */
function documentIndexing(module: string, keys: readonly string[], documentOf: (args: IArguments) => unknown): ModuleInstrumentation {
  return {
    name: 'graphql',
    module,
    versions: '>=15.0.0 <17.0.0',
    coveredElsewhere: { versions: '>=17.0.0', by: 'its graphql:execute tracing channel' },
    patch(exports) {
      if (!isObject(exports)) return exports;
      // Plain functions, as graphql's (name and length are copied): they keep a `prototype` too.
      for (const key of keys) {
        wrapMethod(exports, key, (original) => function indexingDocument(this: unknown): unknown {
          if (wrapperActive) {
            try {
              indexDocument(documentOf(arguments));
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
  documentIndexing('graphql/execution/execute', ['execute', 'executeSync'], (args) => (args.length === 1 ? ownData(args[0], 'document') : args[1])),
  documentIndexing('graphql/validation/validate', ['validate'], (args) => args[1]),
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
