/**
 * The worker's inspector: one session on the app's main thread, exception capture armed on it.
 * Breakpoints add their pause handler to the same session (`ready` resolves to it).
 */
import type { AgentConfig } from '../../shared/config';
import type { Logger } from '../../shared/log';
import { SHARED } from '../../shared/messages';
import { startExceptionCapture, type ExceptionCapture } from './exception-pauses';
import { openSession, type InspectorSession } from './session';

export interface AgentInspector {
  /** The session once attached; undefined when it could not be opened or stop() came first. */
  readonly ready: Promise<InspectorSession | undefined>;
  /** Stops exception pauses and detaches, synchronously. Must run before the app's process exits. */
  stop(): void;
}

export interface AgentInspectorOptions {
  config: AgentConfig;
  logger: Logger;
  /** Int32Array over WorkerData.shared. */
  flags: Int32Array;
  /** WorkerData.userInspector: the app runs its own inspector. */
  userInspector: boolean;
}

export function startAgentInspector(opts: AgentInspectorOptions): AgentInspector {
  const { config, logger, flags } = opts;
  if (opts.userInspector) Atomics.store(flags, SHARED.userInspector, 1);
  let stopped = false;
  let session: InspectorSession | undefined;
  let capture: ExceptionCapture | undefined;

  const ready = (async (): Promise<InspectorSession | undefined> => {
    try {
      // While the app's own debugger is attached, pauses we did not cause are its to resume.
      const s = await openSession(logger, { resumeUnclaimed: () => Atomics.load(flags, SHARED.userInspector) !== 1 });
      session = s;
      if (stopped) {
        s.disconnect();
        return undefined;
      }
      const c = await startExceptionCapture({ session: s, config, logger, flags });
      capture = c;
      if (stopped) {
        c.stop();
        s.disconnect();
        return undefined;
      }
      Atomics.store(flags, SHARED.inspectorReady, 1);
      logger.debug(opts.userInspector ? 'inspector attached; exception pauses off (the app runs its own inspector)' : 'inspector attached; exception locals armed');
      return s;
    } catch (err) {
      logger.debug(`inspector unavailable: ${(err as Error)?.message}`);
      session?.disconnect();
      return undefined;
    }
  })();

  return {
    ready,
    stop() {
      if (stopped) return;
      stopped = true;
      Atomics.store(flags, SHARED.inspectorReady, 0);
      Atomics.store(flags, SHARED.pausesArmed, 0);
      capture?.stop();
      session?.disconnect();
    },
  };
}
