import type { Logger } from '../../shared/log';
import { reportError } from '../capture/report';
import { ownData } from '../context/request-info';
import { publishGlobals } from '../globals';
import { isObject } from './error-status';
import { handOffStatement, replaceOnce, type SourceInstrumentation } from './source-hook';
import type { ModuleInstrumentation } from './types';
import { isWrapper, markWrapper, unwrapMethod, wrapMethod } from './wrap';
import { enterWork, reportInScope, scopeOfWork, workStatements, type WorkEntry } from './work-scope';

/**
 * node-cron 3 and 4. A task whose function throws or rejects does not crash anything: node-cron catches
 * the error, logs it through its logger and emits `execution:failed` to the task's listeners, so
 * no crash hook sees it. Every event of a task goes through `InlineScheduledTask.prototype.emit`
 * (in `dist/_shared.cjs`, and `dist/_shared.js` for ES module apps); on `execution:failed` the
 * error the execution recorded is reported as `node_cron`, with the task's name and expression.
 *  - Where Node runs module hooks on the app's thread (22.22.3+, 24.11.1+, 26), the load hook
 *    appends one statement to the line `emit(event, context) {` of both builds: no frame of ours
 *    is below the app's own task listeners.
 *    There each run of a task also gets its own scope (work-scope.ts), entered on the line where
 *    the task's runner callback starts and left at the end of the next, which calls the task.
 *  - Elsewhere the require hook wraps that method of the CommonJS build; ES module apps there
 *    get nothing (no hook reaches their build), and tasks run in the scope they were scheduled in.
 */

const EMIT_KEY = Symbol.for('aivory-monitor.cron-emit');
const RUN_SCOPE = workStatements('cron-run');
const MAX_TEXT = 200;
const VERSIONS = '>=4.0.0 <5.0.0';

/** Set once the load hook rewrites node-cron's builds: the require hook's patch then stands aside. */
let rewriting = false;

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v.slice(0, MAX_TEXT) : undefined;
}

/** What events say about a task: its name and cron expression. */
function describeTask(task: unknown): Record<string, string> {
  const cron: Record<string, string> = {};
  const name = text(ownData(task, 'name'));
  if (name !== undefined) cron.task = name;
  const expression = text(ownData(task, 'cronExpression'));
  if (expression !== undefined) cron.expression = expression;
  return cron;
}

/** Called with every event a task emits; reports a failed execution's error, in the run's scope. */
function onTaskEvent(task: unknown, event: unknown, context: unknown): void {
  try {
    if (event !== 'execution:failed') return;
    const execution = ownData(context, 'execution');
    if (!isObject(execution) || !('error' in execution)) return;
    reportInScope(scopeOfWork(execution), ownData(execution, 'error'), 'node_cron', { cron: describeTask(task) });
  } catch {
    // never disturb node-cron's events
  }
}

/** Entered right before node-cron calls the task's function for `execution`. */
function enterRun(task: unknown, execution: unknown): WorkEntry | undefined {
  return isObject(execution) ? enterWork({ cron: describeTask(task) }, execution) : undefined;
}

/** `emit(event, context) {` of the InlineScheduledTask class, as node-cron 4 builds spell it. */
const EMIT = /(\n[ \t]*emit\(([\w$]+), ?([\w$]+)\) ?\{)/g;

/**
 * The task's runner callback, `(date, execution) => {`, and its next line, which calls the task:
 * `return taskFn(this.createContext(date, execution));`.
 */
const RUN = /(\n[ \t]*this\.runner = new Runner\([^\n]*\(([\w$]+), ?([\w$]+)\) => \{)(\n[ \t]*return [\w$]+\(this\.createContext\(\2, ?\3\)\);)/g;

/** node-cron's shared build with its failures reported and, where its layout allows, each run scoped (`scoped`). */
export function rewriteShared(source: string): { source: string; scoped: boolean } | undefined {
  const reported = replaceOnce(source, EMIT, (m) => m[1] + handOffStatement(EMIT_KEY, `this, ${m[2]}, ${m[3]}`));
  if (reported === undefined) return undefined;
  const scoped = replaceOnce(reported, RUN, (m) => `${m[1]}${RUN_SCOPE.enter('$aivoryCronRun', `this,${m[3]}`)}try{${m[4]}}finally{${RUN_SCOPE.leave('$aivoryCronRun')}}`);
  return scoped === undefined ? { source: reported, scoped: false } : { source: scoped, scoped: true };
}

let log: Logger | undefined;
let version = '';

export const nodeCronSourceInstrumentation: SourceInstrumentation = {
  name: 'node-cron',
  package: 'node-cron',
  versions: VERSIONS,
  formats: new Set(['commonjs', 'module']),
  withoutHook: "failed tasks of CommonJS apps are reported (through a wrapper of node-cron's emit), those of ES module apps are not, and tasks run without a scope of their own (Node 22.22.3+, 24.11.1+ and 26+ report both and scope each run)",
  fileOf: (url) => /\/node_modules\/node-cron\/dist\/(_shared)\.c?js$/.exec(url)?.[1],
  expected: () => new Set(['_shared']),
  rewrite(_file, url, source) {
    const out = rewriteShared(source);
    if (out === undefined) log?.debug(`node-cron ${version}: ${url} is not laid out as expected; left as it is (failed tasks are not reported)`);
    else log?.debug(`instrumented node-cron ${version} (${url})${out.scoped ? '' : '; its tasks run without a scope of their own (the line that calls them is not laid out as expected)'}`);
    return out?.source;
  },
  install(installed: string, logger: Logger) {
    log = logger;
    version = installed;
    rewriting = true;
    const withdraw = publishGlobals([[EMIT_KEY, onTaskEvent], ...RUN_SCOPE.globals(enterRun)]);
    return () => {
      rewriting = false;
      withdraw();
    };
  },
};

/**
 * node-cron 3 (CommonJS only): its `Task` (an EventEmitter) catches what the task's function throws
 * or rejects with and emits `task-failed`. `Task.prototype` gets its own `emit`, which reports that
 * error and calls the inherited one (looked up on each call); nothing of the task's own code runs
 * below it. A v3 task knows neither its name nor its expression.
 */
export const nodeCron3Instrumentation: ModuleInstrumentation = {
  name: 'node-cron',
  module: 'node-cron/src/task',
  versions: '>=3.0.0 <4.0.0',
  patch(exports) {
    const proto = typeof exports === 'function' ? ownData(exports, 'prototype') : undefined;
    if (!isObject(proto) || Object.getOwnPropertyDescriptor(proto, 'emit')) return exports;
    const parent: unknown = Object.getPrototypeOf(proto);
    const inherited = isObject(parent) ? (parent as { emit?: unknown }).emit : undefined;
    if (!isObject(parent) || typeof inherited !== 'function') return exports;
    const emit = markWrapper(
      {
        emit(this: unknown, event: unknown): unknown {
          if (event === 'task-failed') {
            try {
              reportError(arguments[1], 'node_cron', { cron: {} });
            } catch {
              // never disturb the task's events
            }
          }
          const current: unknown = Reflect.get(parent, 'emit', this);
          return Reflect.apply(typeof current === 'function' ? current : inherited, this, arguments);
        },
      }.emit,
      inherited,
    );
    Object.defineProperty(proto, 'emit', { value: emit, writable: true, enumerable: false, configurable: true });
    return exports;
  },
  unpatch(exports) {
    const proto = typeof exports === 'function' ? ownData(exports, 'prototype') : undefined;
    const d = isObject(proto) ? Object.getOwnPropertyDescriptor(proto, 'emit') : undefined;
    if (d && isWrapper(d.value)) delete (proto as Record<string, unknown>).emit;
  },
};

/** node-cron 4's CommonJS build, where the load hook does not run. */
export const nodeCronModuleInstrumentation: ModuleInstrumentation = {
  name: 'node-cron',
  module: 'node-cron/dist/_shared.cjs',
  versions: VERSIONS,
  patch(exports) {
    if (rewriting) return exports;
    const Task = ownData(exports, 'InlineScheduledTask');
    const proto = typeof Task === 'function' ? ownData(Task, 'prototype') : undefined;
    if (!isObject(proto)) return exports;
    // A method, as node-cron's class method is: no `prototype` property.
    wrapMethod(proto, 'emit', (original) => ({
      emit(this: unknown, event: unknown, context: unknown): unknown {
        onTaskEvent(this, event, context);
        return Reflect.apply(original, this, arguments);
      },
    }).emit);
    return exports;
  },
  unpatch(exports) {
    const Task = ownData(exports, 'InlineScheduledTask');
    const proto = typeof Task === 'function' ? ownData(Task, 'prototype') : undefined;
    if (isObject(proto)) unwrapMethod(proto, 'emit');
  },
};
