/**
 * Per-fingerprint rate limit: the first `perMinute` events of a fingerprint in a minute go out in
 * full, later ones are only counted; the next one sent carries that count as `suppressed_count`.
 */
export interface FingerprintLimiter {
  /** undefined: drop (counted). A number: send, with this many suppressed since the last one sent. */
  admit(fingerprint: string): number | undefined;
}

const MINUTE = 60_000;
const MAX_TRACKED = 5000;

export function createFingerprintLimiter(perMinute: number, now: () => number = Date.now): FingerprintLimiter {
  const seen = new Map<string, { windowStart: number; sent: number; suppressed: number }>();
  return {
    admit(fingerprint) {
      const t = now();
      let s = seen.get(fingerprint);
      if (!s) {
        if (seen.size >= MAX_TRACKED) seen.delete(seen.keys().next().value as string);
        s = { windowStart: t, sent: 0, suppressed: 0 };
        seen.set(fingerprint, s);
      } else if (t - s.windowStart >= MINUTE) {
        s.windowStart = t;
        s.sent = 0;
      }
      if (s.sent >= perMinute) {
        s.suppressed++;
        return undefined;
      }
      s.sent++;
      const suppressed = s.suppressed;
      s.suppressed = 0;
      return suppressed;
    },
  };
}
