import { setBounded } from '../../shared/bounded-map';

/**
 * How many exception pauses the app can afford. Each pause stops the app's thread for ~0.3 ms
 * (plus ~1 ms to capture), so pauses come from a token bucket (`perSecond`, bursts up to one
 * second's worth); when it is empty the caller turns exception pauses off until a token is back.
 * A per-site cap keeps one hot throw site from taking every capture.
 */
export interface PauseBudget {
  /** Takes a token for a pause that happened; false when there was none. */
  take(): boolean;
  /** Whether the bucket is empty now (turn pauses off before resuming). */
  empty(): boolean;
  /** Milliseconds until at least one token is available again. */
  msUntilToken(): number;
  /** Whether `site` may be captured once more this minute (counts it when true). */
  allowSite(site: string): boolean;
}

const MAX_SITES = 1000;
const MINUTE = 60_000;

/** Tokens refilled at `perSecond`, at most `capacity` of them (a burst). */
export interface TokenBucket {
  /** Takes a token; false when there was none. */
  take(): boolean;
  /** Whether the bucket is empty now. */
  empty(): boolean;
  /** Milliseconds until at least one token is available again (Infinity when it never refills). */
  msUntilToken(): number;
}

export function createTokenBucket(perSecond: number, capacity: number, now: () => number = Date.now): TokenBucket {
  const rate = Math.max(0, perSecond);
  const max = Math.max(0, capacity);
  let tokens = max;
  let last = now();
  const refill = (): void => {
    const t = now();
    if (t > last) {
      tokens = Math.min(max, tokens + ((t - last) / 1000) * rate);
      last = t;
    }
  };
  return {
    take() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    empty() {
      refill();
      return tokens < 1;
    },
    msUntilToken() {
      refill();
      if (rate <= 0) return Infinity;
      return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / rate) * 1000);
    },
  };
}

export function createPauseBudget(perSecond: number, perSitePerMinute: number, now: () => number = Date.now): PauseBudget {
  const bucket = createTokenBucket(perSecond, perSecond, now);
  const sites = new Map<string, { windowStart: number; count: number }>();

  return {
    take: bucket.take,
    empty: bucket.empty,
    msUntilToken: bucket.msUntilToken,
    allowSite(site) {
      const t = now();
      let s = sites.get(site);
      if (!s || t - s.windowStart >= MINUTE) {
        s = { windowStart: t, count: 0 };
        // Bounded memory for apps with endless sites: the oldest is forgotten.
        setBounded(sites, site, s, MAX_SITES);
      }
      if (s.count >= perSitePerMinute) return false;
      s.count++;
      return true;
    },
  };
}
