import { setBounded } from './bounded-map';

/**
 * Per-key rate limit: the first `perMinute` events of a key in a minute go out in full, later ones
 * are only counted; the next one sent carries that count. The worker keys by fingerprint (the count
 * becomes `suppressed_count`); the app's thread keys by error type and stack text, which is at least
 * as fine as the fingerprint, so repeats are dropped before any event is built.
 */
export interface FingerprintLimiter {
  /**
   * undefined: drop (counted). A number: send, with this many suppressed since the last one sent.
   * `alreadySuppressed`: drops counted elsewhere (the app's thread) for this event's key.
   */
  admit(fingerprint: string, alreadySuppressed?: number): number | undefined;
  /** Counts one more drop and returns true when the key is over its limit in the current window; else changes nothing. */
  dropIfOver(fingerprint: string): boolean;
}

const MINUTE = 60_000;
const MAX_TRACKED = 5000;

export function createFingerprintLimiter(perMinute: number, now: () => number = Date.now): FingerprintLimiter {
  const seen = new Map<string, { windowStart: number; sent: number; suppressed: number }>();
  return {
    admit(fingerprint, alreadySuppressed = 0) {
      const t = now();
      let s = seen.get(fingerprint);
      if (!s) {
        s = { windowStart: t, sent: 0, suppressed: 0 };
        setBounded(seen, fingerprint, s, MAX_TRACKED);
      } else if (t - s.windowStart >= MINUTE) {
        s.windowStart = t;
        s.sent = 0;
      }
      s.suppressed += alreadySuppressed;
      if (s.sent >= perMinute) {
        s.suppressed++;
        return undefined;
      }
      s.sent++;
      const suppressed = s.suppressed;
      s.suppressed = 0;
      return suppressed;
    },
    dropIfOver(fingerprint) {
      const s = seen.get(fingerprint);
      if (!s || s.sent < perMinute || now() - s.windowStart >= MINUTE) return false;
      s.suppressed++;
      return true;
    },
  };
}
