// Breakpoints: set one (file + line, optional condition / max hits / expiry / agent), watch its
// status on each agent, open its hits, remove it.
import { api, coalesced } from '../api.mjs';
import { h, replace, timeAgo, badge, plural, formatAbsolute, threadText } from '../dom.mjs';
import { renderStack, sourceBox } from '../stack.mjs';
import { renderVariables } from '../variables.mjs';

const STATUS_KIND = { installed: 'ok', received: 'info', pending: 'warn', error: 'bad', removed: 'off', expired: 'off', exhausted: 'off' };

function field(id, label, input, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('small', { id: `${id}-hint`, class: 'muted' }, hint) : null);
}

function bpLocation(bp) {
  return `${bp.file_path}:${bp.line_number}`;
}

function renderStatuses(bp, agentNames) {
  const entries = bp.statuses && typeof bp.statuses === 'object' ? Object.entries(bp.statuses) : [];
  if (entries.length === 0) return h('p', { class: 'muted small' }, bp.removed ? 'No agent reported a status.' : 'Waiting for an agent to acknowledge…');
  return h('ul', { class: 'statuses' }, entries.map(([agentId, s]) =>
    h('li', null,
      badge(s.status, STATUS_KIND[s.status] || ''),
      h('span', { class: 'small' }, agentNames.get(agentId) || agentId),
      s.actual_line && Number(s.actual_line) !== Number(bp.line_number) ? h('span', { class: 'small muted' }, ` snapped to line ${s.actual_line}`) : null,
      s.message ? h('span', { class: 'small status-msg' }, ` — ${s.message}`) : null,
      s.at ? h('span', { class: 'small muted' }, ' · ', timeAgo(s.at)) : null)));
}

function renderBreakpoint(bp, agentNames, onRemove, { withHitsLink = true } = {}) {
  const hitsHref = `#/breakpoints/${encodeURIComponent(bp.id)}`;
  const remove = bp.removed ? null : h('button', { type: 'button', class: 'button small danger', 'aria-label': `Remove breakpoint ${bpLocation(bp)}` }, 'Remove');
  remove?.addEventListener('click', () => onRemove(bp, remove));
  return h('li', { class: `bp${bp.removed ? ' removed' : ''}`, dataset: { bp: bp.id } },
    h('div', { class: 'bp-main' },
      h('a', { href: hitsHref, class: 'bp-loc' }, h('code', null, bpLocation(bp))),
      h('div', { class: 'bp-meta small' },
        bp.condition ? h('span', null, 'if ', h('code', null, bp.condition)) : h('span', { class: 'muted' }, 'no condition'),
        h('span', null, `hits ${bp.hit_count ?? 0} / ${bp.max_hits ?? 1}`),
        h('span', null, bp.agent_id ? ['agent ', h('code', null, agentNames.get(bp.agent_id) || bp.agent_id)] : 'all agents'),
        bp.ttl_seconds ? h('span', null, `expires after ${bp.ttl_seconds}s`) : null,
        bp.stack_locals ? h('span', null, 'locals of every frame') : null,
        h('span', { class: 'muted' }, 'set ', timeAgo(bp.created_at))),
      renderStatuses(bp, agentNames)),
    h('div', { class: 'bp-actions' },
      withHitsLink ? h('a', { href: hitsHref, class: 'button small' }, bp.hit_count ? `View ${plural(bp.hit_count, 'hit')}` : 'Hits') : null,
      remove));
}

export function mountBreakpoints(root, { query }) {
  const file = h('input', { id: 'bp-file', name: 'file_path', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'src/routes/users.js', 'aria-describedby': 'bp-file-hint', value: query.get('file') || '' });
  const line = h('input', { id: 'bp-line', name: 'line_number', type: 'number', min: '1', step: '1', required: true, inputmode: 'numeric', value: query.get('line') || '' });
  const condition = h('input', { id: 'bp-condition', name: 'condition', autocomplete: 'off', spellcheck: 'false', placeholder: 'user.id === 42', 'aria-describedby': 'bp-condition-hint' });
  const maxHits = h('input', { id: 'bp-max', name: 'max_hits', type: 'number', min: '1', max: '50', step: '1', value: '1', 'aria-describedby': 'bp-max-hint' });
  const ttl = h('input', { id: 'bp-ttl', name: 'ttl_seconds', type: 'number', min: '1', step: '1', placeholder: '3600', 'aria-describedby': 'bp-ttl-hint' });
  const stackLocals = h('input', { id: 'bp-stack', name: 'stack_locals', type: 'checkbox', 'aria-describedby': 'bp-stack-hint' });
  const agent = h('select', { id: 'bp-agent', name: 'agent_id' }, h('option', { value: '' }, 'All agents'));
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Set breakpoint');
  const formMsg = h('p', { class: 'form-msg', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'panel bp-form', 'aria-labelledby': 'bp-form-title', novalidate: true },
    h('h2', { id: 'bp-form-title' }, 'New breakpoint'),
    h('div', { class: 'grid' },
      field('bp-file', 'File', file, 'Absolute, relative or just the end of the path'),
      field('bp-line', 'Line', line),
      field('bp-agent', 'Agent', agent),
      field('bp-condition', 'Condition (optional)', condition, 'A JavaScript expression over the frame’s variables'),
      field('bp-max', 'Max hits', maxHits, '1 to 50'),
      field('bp-ttl', 'Expires after (seconds)', ttl, 'Optional; default 1 hour'),
      field('bp-stack', 'Locals of every frame', stackLocals, 'Pauses the app for each hit (about 30 µs per stack frame); unchecked: the line’s own locals, no pause')),
    h('div', { class: 'form-actions' }, submit, formMsg));
  const listBox = h('div', { class: 'list-box' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(root,
    h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Breakpoints')),
    h('p', { class: 'muted lede' }, 'Non-breaking: the app never stops. When the line runs, the agent sends a snapshot of the stack and locals.'),
    form,
    h('section', { 'aria-labelledby': 'bp-list-title' }, h('h2', { id: 'bp-list-title' }, 'Set breakpoints'), listBox));

  let agentNames = new Map();

  function fillAgents(agents) {
    const chosen = agent.value;
    agentNames = new Map(agents.map((a) => [a.agent_id, `${a.hostname || 'agent'} · ${String(a.agent_id).slice(-8)}`]));
    replace(agent, h('option', { value: '' }, 'All agents'),
      agents.filter((a) => a.connected).map((a) => h('option', { value: a.agent_id, selected: a.agent_id === chosen }, `${agentNames.get(a.agent_id)}${a.capabilities && a.capabilities.breakpoints === false ? ' (breakpoints off)' : ''}`)));
  }

  function setMessage(text, kind) {
    formMsg.textContent = text;
    formMsg.className = `form-msg ${kind || ''}`;
  }

  async function onRemove(bp, button) {
    button.disabled = true;
    try {
      await api.removeBreakpoint(bp.id);
      setMessage(`Removed ${bpLocation(bp)}.`, 'ok');
      await load();
    } catch (err) {
      button.disabled = false;
      setMessage(`Could not remove: ${err.message}`, 'bad');
    }
  }

  const load = coalesced(async () => {
    try {
      const [bps, agents] = await Promise.all([api.breakpoints(), api.agents().catch(() => [])]);
      fillAgents(Array.isArray(agents) ? agents : []);
      const list = Array.isArray(bps) ? [...bps] : [];
      list.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
      const active = list.filter((b) => !b.removed);
      const removed = list.filter((b) => b.removed);
      const focusedId = document.activeElement?.closest?.('[data-bp]')?.dataset.bp;
      replace(listBox,
        active.length ? h('ul', { class: 'bps' }, active.map((b) => renderBreakpoint(b, agentNames, onRemove))) : h('p', { class: 'muted' }, 'No active breakpoints.'),
        removed.length ? h('details', { class: 'removed-bps' }, h('summary', null, `Removed (${removed.length})`), h('ul', { class: 'bps' }, removed.map((b) => renderBreakpoint(b, agentNames, onRemove)))) : null);
      if (focusedId) listBox.querySelector(`[data-bp="${CSS.escape(focusedId)}"] a`)?.focus();
    } catch (err) {
      replace(listBox, h('p', { class: 'error', role: 'alert' }, `Could not load breakpoints: ${err.message}`));
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { file_path: file.value.trim(), line_number: Number(line.value) };
    if (!body.file_path) return setMessage('Enter a file path.', 'bad'), file.focus();
    if (!Number.isInteger(body.line_number) || body.line_number < 1) return setMessage('Enter a line number (1 or more).', 'bad'), line.focus();
    if (condition.value.trim()) body.condition = condition.value.trim();
    if (maxHits.value) body.max_hits = Number(maxHits.value);
    if (ttl.value) body.ttl_seconds = Number(ttl.value);
    if (stackLocals.checked) body.stack_locals = true;
    if (agent.value) body.agent_id = agent.value;
    submit.disabled = true;
    try {
      const bp = await api.createBreakpoint(body);
      setMessage(`Breakpoint set on ${bpLocation(bp || body)}.`, 'ok');
      await load();
    } catch (err) {
      setMessage(`Could not set the breakpoint: ${err.message}`, 'bad');
    } finally {
      submit.disabled = false;
    }
  });

  void load();
  return {
    onEvent(name) {
      if (name === 'breakpoint' || name === 'breakpoint_status' || name === 'breakpoint_hit' || name === 'agent') void load();
    },
  };
}

function renderHit(hit, index, total, open) {
  const stack = renderStack(hit.stack_trace, { topLocals: hit.local_variables, openFirst: false });
  return h('li', null, h('details', { class: 'hit', open },
    h('summary', null,
      h('strong', null, `Hit ${total - index}`),
      h('span', { class: 'muted' }, ` · ${formatAbsolute(hit.captured_at)} (`, timeAgo(hit.captured_at), ')'),
      h('span', { class: 'small muted' }, ` · ${hit.agent_id || ''}`),
      threadText(hit.context?.thread) ? h('span', { class: 'small muted hit-thread' }, ` · ${threadText(hit.context.thread)}`) : null),
    h('div', { class: 'hit-body' },
      h('h3', null, 'At ', h('code', null, `${hit.file_path}:${hit.line_number}`)),
      sourceBox(hit.file_path, hit.line_number),
      h('h3', null, 'Locals'),
      renderVariables(hit.local_variables, { label: 'Locals at the breakpoint' }),
      h('h3', null, 'Stack'),
      stack)));
}

export function mountBreakpointHits(root, { params }) {
  const id = params.id;
  const head = h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Breakpoint'));
  const info = h('div', { class: 'bp-info' });
  const hitsBox = h('div', { class: 'list-box' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('p', { class: 'crumbs' }, h('a', { href: '#/breakpoints' }, '← All breakpoints')), head, info,
    h('section', { 'aria-labelledby': 'hits-title' }, h('h2', { id: 'hits-title' }, 'Hits'), hitsBox));
  let shownHits = -1;

  const load = coalesced(async (first) => {
    try {
      const [bps, agents] = await Promise.all([api.breakpoints(), api.agents().catch(() => [])]);
      const bp = (Array.isArray(bps) ? bps : []).find((b) => b.id === id);
      if (!bp) return replace(info, h('p', { class: 'error', role: 'alert' }, `No breakpoint ${id}.`));
      const names = new Map((Array.isArray(agents) ? agents : []).map((a) => [a.agent_id, `${a.hostname || 'agent'} · ${String(a.agent_id).slice(-8)}`]));
      replace(head, h('h1', { tabindex: '-1' }, 'Breakpoint ', h('code', null, bpLocation(bp))));
      replace(info, h('ul', { class: 'bps' }, renderBreakpoint(bp, names, async (b, button) => {
        button.disabled = true;
        try {
          await api.removeBreakpoint(b.id);
        } catch {
          button.disabled = false;
        }
        await load(false);
      }, { withHitsLink: false })));
      if (first) head.querySelector('h1')?.focus({ preventScroll: true });
      const hits = await api.breakpointHits(id);
      const list = Array.isArray(hits) ? [...hits] : [];
      if (list.length === shownHits) return;
      shownHits = list.length;
      list.sort((a, b) => String(b.captured_at).localeCompare(String(a.captured_at)));
      if (list.length === 0) return replace(hitsBox, h('p', { class: 'muted' }, bp.removed ? 'This breakpoint was never hit.' : 'No hits yet: run the code at this line. This page updates live.'));
      replace(hitsBox, h('ol', { class: 'hits', reversed: true }, list.map((hit, i) => renderHit(hit, i, list.length, i === 0))));
    } catch (err) {
      replace(hitsBox, h('p', { class: 'error', role: 'alert' }, `Could not load hits: ${err.message}`));
    }
  });

  void load(true);
  return {
    onEvent(name, data) {
      if (data && data.breakpoint_id && data.breakpoint_id !== id && data.id !== id) return;
      if (name.startsWith('breakpoint') || name === 'agent') void load(false);
    },
  };
}
