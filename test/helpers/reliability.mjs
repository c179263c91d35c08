// Shared checks of the reliability tests: the fixture app's own measurements of itself.
import assert from 'node:assert/strict';
import { statsOf } from './edge.mjs';

const MB = 1024 * 1024;

/**
 * The app's `stats` lines since it started: worst event-loop lateness and growth of RSS and heap
 * from the first line to the highest. Asserts generous bounds (slow CI machines, three Node
 * versions): an agent that blocks the app's thread or buffers without bound fails them.
 */
export function assertAppUnaffected(t, app, { maxLateMs = 500, maxRssGrowthMb = 64, maxHeapGrowthMb = 32, label = '' } = {}) {
  const stats = statsOf(app.stdout());
  assert.ok(stats.length >= 2, `the app printed ${stats.length} stats lines`);
  const late = Math.max(...stats.map((s) => s.lateMs));
  const rss = (Math.max(...stats.map((s) => s.rss)) - stats[0].rss) / MB;
  const heap = (Math.max(...stats.map((s) => s.heap)) - stats[0].heap) / MB;
  t.diagnostic(`${label}app over ${stats.length} samples: worst event-loop lateness ${late} ms, rss +${rss.toFixed(1)} MB, heap +${heap.toFixed(1)} MB`);
  assert.ok(late < maxLateMs, `event loop held up ${late} ms`);
  assert.ok(rss < maxRssGrowthMb, `rss grew ${rss.toFixed(1)} MB`);
  assert.ok(heap < maxHeapGrowthMb, `heap grew ${heap.toFixed(1)} MB`);
  return { late, rss, heap };
}

/** Resolves after `ms`: a measuring window (never used to wait for an event). */
export const windowOf = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends the fixture app SIGUSR2 (it reports BATCH errors) and waits for its `emitted <total>` line. */
export async function emitBatch(app, total) {
  app.child.kill('SIGUSR2');
  await app.waitForOutput(new RegExp(`emitted ${total}\\b`));
}

/** Waits until the fixture app's work loop has run on past where it is now (it is alive and not stuck). */
export async function waitLoopsAdvance(app, timeoutMs = 5000) {
  await app.waitForOutput(/^stats /m, timeoutMs);
  const loops = statsOf(app.stdout()).at(-1).loops;
  await app.waitForOutput(new RegExp(`"loops":(?!${loops},)\\d+`), timeoutMs);
}
