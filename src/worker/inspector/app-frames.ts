import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../shared/package-root';

/** file:// URL and plain path of the agent's own code (dist/), whose throws are never the app's. */
const OWN_ROOT_PATH = join(PACKAGE_ROOT, 'dist') + '/';
const OWN_ROOT_URL = pathToFileURL(OWN_ROOT_PATH).href;

/** Whether a script URL (or path) is the agent's own code. */
export function isOwnUrl(url: string): boolean {
  return url.startsWith(OWN_ROOT_URL) || url.startsWith(OWN_ROOT_PATH);
}

/** A path or url inside some node_modules folder. */
export function isDependency(pathOrUrl: string): boolean {
  return pathOrUrl.includes('/node_modules/') || pathOrUrl.includes('\\node_modules\\');
}

/** A script of the app: has a url, is not Node's own, not a dependency's, not the agent's. */
export function isAppUrl(url: string): boolean {
  if (url === '' || url.startsWith('node:') || url.startsWith('internal/')) return false;
  if (isDependency(url)) return false;
  return !isOwnUrl(url);
}

/** Regex source matching a literal string (for Debugger.setBlackboxPatterns). */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Scripts whose own throws should never pause: dependencies and the agent itself. V8 still pauses
 * for a throw in app code that a dependency catches; on Node 20 it also skips "a dependency throws,
 * the app catches" (those errors are still reported, without locals). `node:` built-ins cannot be
 * blackboxed by any pattern; the pause handler resumes those at once.
 */
export function blackboxPatterns(): string[] {
  return ['/node_modules/', escapeRegExp(OWN_ROOT_URL), '^' + escapeRegExp(OWN_ROOT_PATH)];
}
