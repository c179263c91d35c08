import type { Logger } from '../../shared/log';
import { addRouteReader } from '../context/store';
import { expressInstrumentations, expressRoute } from './express';
import { fastifyInstrumentation } from './fastify';
import { graphqlChannelInstrumentation, graphqlDocumentInstrumentations, graphqlLocatedErrorInstrumentation } from './graphql';
import { grpcInstrumentation } from './grpc';
import { hapiInstrumentations } from './hapi';
import { http5xxInstrumentation } from './http-5xx';
import { httpInstrumentation } from './http';
import { http2Instrumentation } from './http2';
import { koaInstrumentations } from './koa';
import { hookModules } from './module-hook';
import { nestInstrumentations } from './nestjs';
import { nextjsInstrumentation, nextServerInstrumentation } from './nextjs';
import { nestEsmInstrumentation } from './nestjs-esm';
import { honoInstrumentation } from './hono';
import { bullmqJobInstrumentation, bullmqScopeInstrumentation } from './bullmq';
import { bullJobInstrumentation, bullScopeInstrumentation } from './bull';
import { cronJobInstrumentation } from './cron';
import { nodeCron3Instrumentation, nodeCronModuleInstrumentation, nodeCronSourceInstrumentation } from './node-cron';
import { restifyServerInstrumentation } from './restify';
import { hookSources, type SourceInstrumentation } from './source-hook';
import type { ChannelInstrumentation, ModuleInstrumentation } from './types';

/** Every instrumentation the agent applies. */
export const MODULE_INSTRUMENTATIONS: readonly ModuleInstrumentation[] = [...expressInstrumentations, ...koaInstrumentations, ...nestInstrumentations, ...hapiInstrumentations, restifyServerInstrumentation, graphqlLocatedErrorInstrumentation, ...graphqlDocumentInstrumentations, grpcInstrumentation, nextjsInstrumentation, nextServerInstrumentation, bullmqJobInstrumentation, bullJobInstrumentation, nodeCronModuleInstrumentation, nodeCron3Instrumentation];
export const CHANNEL_INSTRUMENTATIONS: readonly ChannelInstrumentation[] = [httpInstrumentation, http2Instrumentation, http5xxInstrumentation, fastifyInstrumentation, graphqlChannelInstrumentation];
export const SOURCE_INSTRUMENTATIONS: readonly SourceInstrumentation[] = [nestEsmInstrumentation, honoInstrumentation, bullmqScopeInstrumentation, bullScopeInstrumentation, nodeCronSourceInstrumentation, cronJobInstrumentation];

let installed: (() => void) | undefined;

/**
 * Installs request context and framework error capture: diagnostics_channel subscriptions and one
 * require hook limited to the files we patch; for NestJS 12+ and Hono apps only, one in-thread load
 * hook (source-hook.ts). Idempotent; returns the uninstaller.
 */
export function installInstrumentation(logger: Logger): () => void {
  if (installed) return installed;
  const undo: Array<() => void> = [];
  for (const inst of CHANNEL_INSTRUMENTATIONS) {
    try {
      inst.patch(logger);
      undo.push(() => inst.unpatch());
    } catch (err) {
      logger.debug(`could not install ${inst.name}: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  // express sets `req.route` itself: events of an app whose express is bundled (no module to hook)
  // name the route too.
  addRouteReader(expressRoute);
  if (logger.debugEnabled) reportLoadedTooEarly(logger);
  try {
    undo.push(hookModules(MODULE_INSTRUMENTATIONS, logger));
  } catch (err) {
    logger.debug(`could not install the require hook: ${(err as Error)?.message ?? String(err)}`);
  }
  try {
    const unhook = hookSources(SOURCE_INSTRUMENTATIONS, logger);
    if (unhook) undo.push(unhook);
  } catch (err) {
    logger.debug(`could not install the module load hook: ${(err as Error)?.message ?? String(err)}`);
  }
  const uninstall = (): void => {
    if (installed !== uninstall) return;
    installed = undefined;
    for (const fn of undo.reverse()) {
      try {
        fn();
      } catch {
        // keep going
      }
    }
  };
  installed = uninstall;
  return uninstall;
}

/**
 * init() called in code after express was required: express already holds the real finalhandler,
 * so its errors would only be seen as crashes. Said in debug mode (the preload never hits this).
 */
function reportLoadedTooEarly(logger: Logger): void {
  const loaded = Object.keys(require.cache).filter((f) => /[\\/]node_modules[\\/](finalhandler|express|router)[\\/]/.test(f));
  if (loaded.length > 0) logger.debug('express was loaded before the agent started: its errors are reported only when they crash the app; start with --import/--require aivory-monitor/register or call init() first');
}
