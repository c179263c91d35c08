import type { AgentConfig } from '../../shared/config';
import type { CapturedError } from '../../shared/messages';
import type { ExceptionPayload } from '../../shared/protocol';
import { toExceptionPayload } from '../event-payload';
import { createFingerprintLimiter } from '../../shared/rate-limit';
import { createSourceMapper, type ScriptMapLookup } from './source-maps';

export interface ExceptionEvents {
  /** The wire payload for a capture, or undefined when its fingerprint is over the rate limit. */
  toPayload(event: CapturedError): ExceptionPayload | undefined;
}

/** Turns captures from the main thread into wire events: source maps, locals, fingerprint, rate limit. */
export function createExceptionEvents(config: AgentConfig, agentId: string, cwd: string, scriptMapOf?: ScriptMapLookup): ExceptionEvents {
  const mapper = createSourceMapper(scriptMapOf);
  const limiter = createFingerprintLimiter(config.maxEventsPerFingerprintPerMinute);
  return {
    toPayload(event) {
      const payload = toExceptionPayload(event, config, agentId, cwd, mapper);
      const suppressed = limiter.admit(payload.fingerprint, event.suppressedBefore ?? 0);
      if (suppressed === undefined) return undefined;
      if (suppressed > 0) payload.suppressed_count = suppressed;
      return payload;
    },
  };
}
