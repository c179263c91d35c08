/**
 * The few semver ranges the instrumentations declare: space-separated comparators (`>=4.0.0 <6`),
 * all of which must hold, or `*`. Pre-release tags are ignored (4.0.0-beta counts as 4.0.0).
 */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  if (range.trim() === '*') return true;
  for (const part of range.trim().split(/\s+/)) {
    const m = /^(>=|<=|>|<|=)?(.+)$/.exec(part);
    const want = m && parseVersion(m[2]);
    if (!m || !want) return false;
    const c = compare(v, want);
    const ok = m[1] === '>=' ? c >= 0 : m[1] === '<=' ? c <= 0 : m[1] === '>' ? c > 0 : m[1] === '<' ? c < 0 : c === 0;
    if (!ok) return false;
  }
  return true;
}

function parseVersion(text: string): [number, number, number] | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

function compare(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}
