import type { Logger } from '../../shared/log';

/**
 * A patch applied to a CommonJS module file when it is first required (through the one
 * require-in-the-middle hook). `module` is the package name plus the file inside it, without `.js`
 * (`express/lib/router/layer`). `versions` is checked against the package's own package.json.
 */
export interface ModuleInstrumentation {
  name: string;
  module: string;
  /** A range such as `>=4.0.0 <5.0.0`; unsupported versions load untouched (debug line). */
  versions: string;
  /** Later versions another instrumentation covers: said instead of "not supported". */
  coveredElsewhere?: { versions: string; by: string };
  /** Returns the exports the app will see (the same object when patched in place). */
  patch(exports: unknown, version: string, logger: Logger): unknown;
  /** Restores what patch() changed in place; wrappers that cannot be taken back turn into pass-throughs. */
  unpatch(exports: unknown): void;
}

/**
 * A patch that is not tied to a module load: diagnostics_channel subscriptions (http requests,
 * fastify instances). `versions` is checked by the instrumentation itself when it sees a target.
 */
export interface ChannelInstrumentation {
  name: string;
  versions: string;
  patch(logger: Logger): void;
  unpatch(): void;
}
