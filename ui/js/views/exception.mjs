// One exception group: its occurrences, and for the chosen one the message, cause chain, stack with
// locals, request and user.
import { api, coalesced } from '../api.mjs';
import { h, replace, timeAgo, formatAbsolute, plural, badge, threadText } from '../dom.mjs';
import { renderStack } from '../stack.mjs';
import { renderVariables, jsonToVariables, setTreeOpen } from '../variables.mjs';

const LOCALS_STATUS = {
  captured: null,
  budget: 'Locals were skipped for this event: the agent’s pause budget was spent (a hot error is rate-limited).',
  not_ready: 'Locals were not captured: the agent was still starting when this error was thrown.',
  primitive: 'Locals were not captured: a primitive value was thrown, not an Error.',
  unavailable: 'Locals were not available for this event.',
};

function section(title, ...content) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), content);
}

function kv(rows) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === '') continue;
    dl.appendChild(h('dt', null, k));
    dl.appendChild(h('dd', null, v));
  }
  return dl;
}

function renderRequest(req) {
  const headers = req.headers && typeof req.headers === 'object' ? Object.entries(req.headers) : [];
  return section('Request',
    h('p', { class: 'request-line' },
      req.method ? h('span', { class: 'badge method' }, req.method) : null,
      h('code', null, req.url || ''),
      req.status_code ? h('span', { class: `badge ${req.status_code >= 500 ? 'bad' : req.status_code >= 400 ? 'warn' : 'ok'}` }, String(req.status_code)) : null),
    kv([['Route', req.route], ['Client IP', req.client_ip], ['User agent', req.user_agent], ['Request ID', req.request_id]]),
    headers.length ? h('details', { class: 'headers' }, h('summary', null, `Headers (${headers.length})`),
      h('table', { class: 'kv-table' }, h('tbody', null, headers.map(([k, v]) =>
        h('tr', null, h('th', { scope: 'row' }, k), h('td', { class: v === '[REDACTED]' ? 'redacted-cell' : null }, String(v), v === '[REDACTED]' ? h('span', { class: 'badge redacted' }, 'redacted') : null)))))) : null);
}

/** An AggregateError's errors (`aggregated`) come first, then the chain of causes. */
function causeLabel(c, i, causes) {
  if (c.aggregated === true) return 'one of its errors: ';
  return i === 0 || causes[i - 1].aggregated === true ? 'caused by ' : 'which was caused by ';
}

function renderCauses(causes) {
  const title = causes.some((c) => c.aggregated === true) ? 'Errors and causes' : 'Cause chain';
  return section(title, h('ol', { class: 'causes' }, causes.map((c, i) =>
    h('li', null,
      h('p', null, h('span', { class: 'muted' }, causeLabel(c, i, causes)), h('strong', null, c.exception_type || 'Error'), ': ', h('span', { class: 'msg' }, c.message || '')),
      Array.isArray(c.stack_trace) && c.stack_trace.length ? h('details', { class: 'cause-stack' }, h('summary', null, `Stack (${c.stack_trace.length} frames)`), renderStack(c.stack_trace, { openFirst: false })) : null))));
}

function releaseText(git) {
  if (!git || typeof git !== 'object') return null;
  const commit = git.commit_short || (git.commit_hash ? String(git.commit_hash).slice(0, 8) : '');
  const parts = [git.project_name, git.version, git.branch].filter(Boolean).join(' · ');
  return parts || commit ? h('span', null, parts, commit ? [parts ? ' @ ' : '', h('code', null, commit)] : null) : null;
}

function renderEvent(ev) {
  const ctx = ev.context && typeof ev.context === 'object' ? ev.context : {};
  const { user, request, thread, ...rest } = ctx;
  const threadRow = threadText(thread);
  // A thread value that is not what the agent sends stays visible under Context.
  if (thread !== undefined && threadRow === null) rest.thread = thread;
  const note = LOCALS_STATUS[ev.locals_status];
  const stack = renderStack(ev.stack_trace, { topLocals: ev.local_variables });
  const expand = h('button', { type: 'button', class: 'button small ghost' }, 'Expand all locals');
  let expanded = false;
  expand.addEventListener('click', () => {
    expanded = !expanded;
    // open the frames too, otherwise expanded locals stay hidden in closed frames
    if (expanded) for (const d of stack.querySelectorAll('details.frame.in-app')) d.open = true;
    setTreeOpen(stack, expanded);
    expand.textContent = expanded ? 'Collapse all locals' : 'Expand all locals';
  });
  return [
    h('div', { class: 'event-meta' }, kv([
      ['Captured', ev.captured_at ? h('span', null, formatAbsolute(ev.captured_at), ' (', timeAgo(ev.captured_at), ')') : null],
      ['Agent', ev.agent_id ? h('a', { href: '#/agents' }, h('code', null, ev.agent_id)) : null],
      ['Environment', ev.environment],
      ['Runtime', ev.runtime ? `${ev.runtime} ${ev.runtimeVersion || ''}${ev.platform ? ` (${ev.platform}/${ev.arch || ''})` : ''}`.trim() : null],
      ['Release', releaseText(ev.git_context)],
      ['Mechanism', ev.mechanism],
      ['Thread', threadRow],
      ['Event ID', ev.id ? h('code', null, ev.id) : null],
    ])),
    note ? h('p', { class: 'note', role: 'note' }, note) : null,
    ev.suppressed_count > 0 ? h('p', { class: 'note', role: 'note' }, `${plural(ev.suppressed_count, 'more event')} of this exception were counted but not sent by the agent (rate limit).`) : null,
    Array.isArray(ev.cause_chain) && ev.cause_chain.length ? renderCauses(ev.cause_chain) : null,
    section('Stack trace', h('div', { class: 'section-tools' }, expand), stack),
    request && typeof request === 'object' ? renderRequest(request) : null,
    user && typeof user === 'object' ? section('User', renderVariables(jsonToVariables(user), { label: 'User' })) : null,
    Object.keys(rest).length ? section('Context', renderVariables(jsonToVariables(rest), { label: 'Context' })) : null,
  ];
}

export function mountException(root, { params, query }) {
  const fingerprint = params.id;
  const head = h('div', { class: 'exc-head' }, h('p', { class: 'muted' }, 'Loading…'));
  const picker = h('div', { class: 'picker' });
  const body = h('div', { class: 'event-body' });
  replace(root, h('p', { class: 'crumbs' }, h('a', { href: '#/exceptions' }, '← All exceptions')), head, picker, body);

  let events = [];
  let selectedId = query.get('event') || null;
  let shownId = null;

  function renderHead(group) {
    replace(head,
      h('h1', { tabindex: '-1' }, h('span', { class: 'exc-type' }, group.exception_type || 'Error')),
      h('p', { class: 'exc-message' }, group.message || ''),
      h('p', { class: 'meta-row' },
        badge(plural(group.count, 'event'), 'count'),
        h('span', null, 'first seen ', timeAgo(group.first_seen)),
        h('span', null, 'last seen ', timeAgo(group.last_seen)),
        h('span', null, plural(Array.isArray(group.agent_ids) ? group.agent_ids.length : 0, 'agent')),
        h('span', { class: 'muted' }, 'fingerprint ', h('code', null, group.fingerprint))));
  }

  function renderPicker() {
    if (events.length <= 1) return replace(picker);
    const select = h('select', { id: 'occurrence' }, events.map((e, i) =>
      h('option', { value: e.id, selected: e.id === selectedId }, `#${events.length - i} · ${formatAbsolute(e.captured_at)} · ${e.agent_id || ''}${e.mechanism ? ` · ${e.mechanism}` : ''}`)));
    select.addEventListener('change', () => {
      selectedId = select.value;
      history.replaceState(null, '', `#/exceptions/${encodeURIComponent(fingerprint)}?event=${encodeURIComponent(selectedId)}`);
      void showEvent();
    });
    replace(picker, h('label', { for: 'occurrence' }, 'Occurrence'), select, h('span', { class: 'muted small' }, `${events.length} stored`));
  }

  async function showEvent() {
    if (!selectedId || selectedId === shownId) return;
    const id = selectedId;
    try {
      const ev = await api.event(id);
      if (id !== selectedId) return;
      shownId = id;
      replace(body, renderEvent(ev));
    } catch (err) {
      replace(body, h('p', { class: 'error', role: 'alert' }, `Could not load event ${id}: ${err.message}`));
    }
  }

  const load = coalesced(async (first) => {
    try {
      const data = await api.exceptionGroup(fingerprint);
      events = Array.isArray(data.events) ? [...data.events] : [];
      events.sort((a, b) => String(b.captured_at).localeCompare(String(a.captured_at)));
      if (!selectedId) selectedId = (events[0] && events[0].id) || data.group.last_event_id;
      renderHead(data.group);
      renderPicker();
      if (first) head.querySelector('h1')?.focus({ preventScroll: true });
      await showEvent();
    } catch (err) {
      replace(head, h('h1', { tabindex: '-1' }, 'Exception'), h('p', { class: 'error', role: 'alert' },
        err.status === 404 ? `No exception group with fingerprint ${fingerprint}.` : `Could not load: ${err.message}`));
    }
  });

  void load(true);
  return {
    onEvent(name, data) {
      // a new occurrence updates counts and the picker, never the event the user is reading
      if (name === 'exception' && (!data || !data.fingerprint || data.fingerprint === fingerprint)) void load(false);
    },
  };
}
