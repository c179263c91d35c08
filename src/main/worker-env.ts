/**
 * The environment of the agent worker: the app's env without our preload in NODE_OPTIONS, so the
 * preload never runs again inside the worker (which would start an agent per agent, forever).
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  if (out.NODE_OPTIONS) {
    const kept = removePreload(out.NODE_OPTIONS);
    if (kept) out.NODE_OPTIONS = kept;
    else delete out.NODE_OPTIONS;
  }
  return out;
}

/** NODE_OPTIONS without `--require`/`--import`/`-r` of aivory-monitor's register entry. */
export function removePreload(nodeOptions: string): string {
  const parts = nodeOptions.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const flag = /^(--require|--import|-r)$/.test(p);
    if (flag && i + 1 < parts.length && isOurPreload(parts[i + 1])) {
      i++;
      continue;
    }
    const inline = /^(--require|--import)=(.*)$/.exec(p);
    if (inline && isOurPreload(inline[2])) continue;
    out.push(p);
  }
  return out.join(' ');
}

function isOurPreload(spec: string): boolean {
  const s = spec.replace(/^["']|["']$/g, '');
  return /aivory-monitor[\\/]register(\.m?js)?$/.test(s) || /(^|[\\/])register\.m?js$/.test(s) && s.includes('aivory');
}
