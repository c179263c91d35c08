import type { Logger } from '../../shared/log';
import { NEST_HANDLER_CLASSES, type NestHandlerClass } from './nestjs';
import { packageOf } from './module-hook';
import { handOffStatement, installedVersion, type SourceInstrumentation } from './source-hook';
import { publishGlobals } from '../globals';

/**
 * NestJS 12 and later ship ES modules only: no Nest file passes through `require`, so the require
 * hook never sees the exceptions handler classes (nestjs.ts, nestjs-transports.ts). Through the
 * in-thread load hook (source-hook.ts), one statement is appended to each of Nest's exceptions
 * handler modules that hands its class to the agent once the module has run; the class is then
 * patched as for Nest 8-11. import-in-the-middle would do the same job by generating and parsing a
 * re-exporting module around Nest's; a reference to one class needs one appended statement.
 */

const RECEIVER = Symbol.for('aivory-monitor.nestjs-exceptions-handler');

/** Appended to a handler module: runs at its end and never throws, whatever the module declares. */
function handOff(className: string): string {
  return `\n;${handOffStatement(RECEIVER, `${JSON.stringify(className)}, typeof ${className} === 'function' ? ${className} : undefined`)}\n`;
}

function handlerOf(url: string): NestHandlerClass | undefined {
  return NEST_HANDLER_CLASSES.find((h) => url.endsWith(`/${h.module}.js`));
}

export const nestEsmInstrumentation: SourceInstrumentation = {
  name: 'NestJS',
  package: '@nestjs/core',
  versions: '>=12.0.0 <13.0.0',
  formats: new Set(['module']),
  withoutHook:
    'ES modules only; its errors are reported from their 5xx answers, not those of its microservices and gateways (Node 22.22.3+, 24.11.1+ and 26+ report them all)',
  fileOf: (url) => handlerOf(url)?.module,
  // each handler module of the Nest packages the app has (microservices and websockets are optional)
  expected: (dirs) => new Set(NEST_HANDLER_CLASSES.map((h) => h.module).filter((m) => installedVersion(packageOf(m), dirs) !== undefined)),
  rewrite(file, _url, source) {
    const handler = NEST_HANDLER_CLASSES.find((h) => h.module === file);
    return handler ? source + handOff(handler.className) : undefined;
  },
  install(version: string, logger: Logger) {
    const patched: Array<{ handler: NestHandlerClass; cls: unknown }> = [];
    const withdraw = publishGlobals([
      [
        RECEIVER,
        (className: unknown, cls: unknown) => {
          const handler = NEST_HANDLER_CLASSES.find((h) => h.className === className);
          if (handler?.patch(cls)) {
            patched.push({ handler, cls });
            logger.debug(`instrumented NestJS ${version} ${handler.className} (ES modules)`);
          }
        },
      ],
    ]);
    return () => {
      withdraw();
      for (const { handler, cls } of patched.splice(0)) handler.unpatch(cls);
    };
  },
};
