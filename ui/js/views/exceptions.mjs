// Exception groups, newest first, live: a new or repeated exception re-sorts the list and flashes its row.
import { api, coalesced } from '../api.mjs';
import { h, replace, timeAgo, plural } from '../dom.mjs';

const MAX_ROWS = 500;

function groupMatches(g, needle) {
  if (!needle) return true;
  return `${g.exception_type} ${g.message} ${g.fingerprint}`.toLowerCase().includes(needle);
}

function emptyState() {
  return h('div', { class: 'empty' },
    h('h2', null, 'No exceptions yet'),
    h('p', null, 'Run your app with the agent pointed at this server; exceptions show up here as they happen.'),
    h('pre', { class: 'cmd' }, h('code', null,
      `AIVORY_API_KEY=ilscipio-dev-2024 \\\nAIVORY_BACKEND_URL=${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/monitor/agent \\\nnode --import aivory-monitor/register app.js`)));
}

export function mountExceptions(root) {
  const filter = h('input', { type: 'search', id: 'exc-filter', placeholder: 'Filter by type, message or fingerprint', autocomplete: 'off' });
  const status = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const listBox = h('div', { class: 'list-box' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(root,
    h('div', { class: 'view-head' },
      h('h1', { tabindex: '-1' }, 'Exceptions'),
      h('div', { class: 'filter' }, h('label', { for: 'exc-filter', class: 'sr-only' }, 'Filter exceptions'), filter, h('kbd', { title: 'Press / to filter' }, '/'))),
    status, listBox);

  let groups = [];
  let lastCounts = new Map();
  let loadedOnce = false;

  function render(flash) {
    const needle = filter.value.trim().toLowerCase();
    const matching = groups.filter((g) => groupMatches(g, needle));
    // a table of thousands of rows re-rendered on every live event would make the page sluggish
    const shown = matching.slice(0, MAX_ROWS);
    status.textContent = groups.length ? `${plural(groups.length, 'group')}${needle || shown.length < matching.length ? `, ${shown.length} shown` : ''}${shown.length < matching.length ? ' (filter to narrow)' : ''}` : '';
    if (groups.length === 0) return replace(listBox, emptyState());
    if (shown.length === 0) return replace(listBox, h('p', { class: 'muted' }, 'Nothing matches the filter.'));
    // keep keyboard focus on the same group across a live refresh
    const focusedFp = document.activeElement && document.activeElement.closest && document.activeElement.closest('[data-fp]')?.dataset.fp;
    const tbody = h('tbody');
    for (const g of shown) {
      const href = `#/exceptions/${encodeURIComponent(g.fingerprint)}`;
      const row = h('tr', { dataset: { fp: g.fingerprint }, class: flash.has(g.fingerprint) ? 'flash' : null },
        h('td', { class: 'exc' },
          h('a', { href, class: 'row-link' }, h('span', { class: 'exc-type' }, g.exception_type || 'Error')),
          h('span', { class: 'exc-msg', title: g.message }, g.message || '')),
        h('td', { class: 'num' }, h('span', { class: 'count' }, String(g.count))),
        h('td', { class: 'num' }, String(Array.isArray(g.agent_ids) ? g.agent_ids.length : 0)),
        h('td', { class: 'nowrap' }, timeAgo(g.last_seen)),
        h('td', { class: 'nowrap' }, timeAgo(g.first_seen)));
      // the whole row is a click target for the mouse; the link inside is the keyboard target
      row.addEventListener('click', (e) => {
        if (e.target.closest('a')) return;
        location.hash = href;
      });
      tbody.appendChild(row);
    }
    replace(listBox, h('table', { class: 'groups' },
      h('caption', { class: 'sr-only' }, 'Exception groups, most recent first'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Exception'),
        h('th', { scope: 'col', class: 'num' }, 'Events'),
        h('th', { scope: 'col', class: 'num' }, 'Agents'),
        h('th', { scope: 'col' }, 'Last seen'),
        h('th', { scope: 'col' }, 'First seen'))),
      tbody));
    if (focusedFp) listBox.querySelector(`tr[data-fp="${CSS.escape(focusedFp)}"] a`)?.focus();
  }

  const load = coalesced(async () => {
    try {
      const data = await api.exceptionGroups();
      groups = Array.isArray(data) ? [...data] : [];
      groups.sort((a, b) => String(b.last_seen).localeCompare(String(a.last_seen)));
      const flash = new Set();
      if (loadedOnce) for (const g of groups) if (lastCounts.get(g.fingerprint) !== g.count) flash.add(g.fingerprint);
      lastCounts = new Map(groups.map((g) => [g.fingerprint, g.count]));
      loadedOnce = true;
      render(flash);
    } catch (err) {
      replace(listBox, h('p', { class: 'error', role: 'alert' }, `Could not load exceptions: ${err.message}`));
    }
  });

  filter.addEventListener('input', () => render(new Set()));
  // arrow keys move between rows (from the filter too), Enter opens: the list works without a mouse
  root.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const links = [...listBox.querySelectorAll('a.row-link')];
    if (links.length === 0) return;
    const i = links.indexOf(document.activeElement);
    if (i < 0 && document.activeElement !== filter) return;
    e.preventDefault();
    const next = i < 0 ? 0 : Math.min(links.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)));
    links[next].focus();
  });
  void load();
  return {
    onEvent(name) {
      if (name === 'exception') void load();
    },
    focusFilter() {
      filter.focus();
    },
  };
}
