/**
 * Reconnect delay with exponential back-off and full jitter: uniform in [floor, ceiling] where the
 * ceiling is base * 2^attempt capped at max. The floor (base / 10) keeps a backend that fails at once
 * from being hammered in a tight loop when the random draw is near zero.
 */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  const floor = Math.max(1, Math.floor(baseMs / 10));
  return Math.max(floor, Math.round(random() * ceiling));
}
