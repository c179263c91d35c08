// Entry: hash routing, the live event stream, nav counters, keyboard shortcuts.
import { api, openStream } from './api.mjs';
import { refreshTimes } from './dom.mjs';
import { mountExceptions } from './views/exceptions.mjs';
import { mountException } from './views/exception.mjs';
import { mountAgents } from './views/agents.mjs';
import { mountBreakpoints, mountBreakpointHits } from './views/breakpoints.mjs';

const ROUTES = [
  { re: /^\/?(?:exceptions)?\/?$/, nav: 'exceptions', mount: mountExceptions },
  { re: /^\/exceptions\/([^/]+)$/, nav: 'exceptions', mount: mountException },
  { re: /^\/agents\/?$/, nav: 'agents', mount: mountAgents },
  { re: /^\/breakpoints\/?$/, nav: 'breakpoints', mount: mountBreakpoints },
  { re: /^\/breakpoints\/([^/]+)$/, nav: 'breakpoints', mount: mountBreakpointHits },
];

const main = document.getElementById('main');
const liveEl = document.getElementById('live');
let current = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  return { path: q >= 0 ? raw.slice(0, q) : raw, query: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '') };
}

function route() {
  const { path, query } = parseHash();
  let match = null;
  let found = ROUTES[0];
  for (const r of ROUTES) {
    match = r.re.exec(path || '/');
    if (match) {
      found = r;
      break;
    }
  }
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    if (a.dataset.nav === found.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const params = { id: match && match[1] ? decodeURIComponent(match[1]) : undefined };
  const isFirst = current === null;
  current = found.mount(main, { params, query }) || {};
  document.title = `${found.nav[0].toUpperCase()}${found.nav.slice(1)} · AIVory Monitor (local)`;
  // move focus to the new view's heading so keyboard and screen-reader users land on it
  if (!isFirst) main.querySelector('h1')?.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

// ---- nav counters: one cheap refresh per burst of events ----
let countsTimer = null;
async function refreshCounts() {
  countsTimer = null;
  const set = (id, text) => {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  };
  try {
    const [groups, agents, bps] = await Promise.all([api.exceptionGroups(), api.agents(), api.breakpoints()]);
    set('count-exceptions', Array.isArray(groups) && groups.length ? String(groups.length) : '');
    set('count-agents', Array.isArray(agents) ? String(agents.filter((a) => a.connected).length || '') : '');
    set('count-breakpoints', Array.isArray(bps) ? String(bps.filter((b) => !b.removed).length || '') : '');
  } catch {
    // the live indicator already tells the user when the server is unreachable
  }
}
function scheduleCounts() {
  if (!countsTimer) countsTimer = setTimeout(refreshCounts, 250);
}

// ---- live stream: views get each event; bursts of events coalesce per view ----
const pending = new Map();
let flushTimer = null;
function dispatch(name, data) {
  pending.set(`${name}:${(data && (data.fingerprint || data.breakpoint_id || data.id || data.agent_id)) || ''}`, [name, data]);
  if (!flushTimer) {
    flushTimer = setTimeout(() => {
      flushTimer = null;
      const batch = [...pending.values()];
      pending.clear();
      for (const [n, d] of batch) current?.onEvent?.(n, d);
    }, 100);
  }
  scheduleCounts();
}

function setLive(state) {
  liveEl.dataset.state = state;
  liveEl.querySelector('.live-text').textContent = state === 'live' ? 'Live' : state === 'connecting' ? 'Reconnecting…' : 'Offline';
  if (state === 'live') scheduleCounts();
}

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  const typing = t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  if (typing) {
    if (e.key === 'Escape' && t instanceof HTMLInputElement && t.type === 'search') t.blur();
    return;
  }
  if (e.key === '/') {
    const filter = document.getElementById('exc-filter');
    if (filter) {
      e.preventDefault();
      filter.focus();
    }
  }
});

window.addEventListener('hashchange', route);
setInterval(() => refreshTimes(), 10_000);
route();
refreshCounts();
openStream(dispatch, setLive);
