// Connected (and previously seen) agents: who they are, what they run, whether they are alive.
import { api, coalesced } from '../api.mjs';
import { h, replace, timeAgo, badge } from '../dom.mjs';

function gitText(git) {
  if (!git || typeof git !== 'object') return null;
  const parts = [];
  if (git.project_name) parts.push(git.project_name);
  if (git.version) parts.push(git.version);
  if (git.branch) parts.push(git.branch);
  const commit = git.commit_short || (git.commit_hash ? String(git.commit_hash).slice(0, 8) : '');
  return h('span', { class: 'git', title: [git.remote_url, git.commit_hash].filter(Boolean).join('\n') || null },
    parts.join(' · '), commit ? [parts.length ? ' @ ' : '', h('code', null, commit)] : null);
}

function agentRow(a) {
  const caps = a.capabilities && typeof a.capabilities === 'object' ? a.capabilities : {};
  return h('tr', { class: a.connected ? null : 'dim', dataset: { agent: a.agent_id } },
    h('td', null,
      h('div', { class: 'strong' }, a.hostname || '—'),
      h('code', { class: 'small muted' }, a.agent_id)),
    h('td', null, a.environment ? badge(a.environment, 'env') : '—'),
    h('td', { class: 'nowrap' }, `${a.runtime || ''} ${a.runtimeVersion || ''}`.trim() || '—', h('div', { class: 'small muted' }, [a.platform, a.arch].filter(Boolean).join(' / '))),
    h('td', null, a.agent_version || '—'),
    h('td', null, gitText(a.git_context) || h('span', { class: 'muted' }, '—')),
    h('td', null,
      caps.breakpoints === true ? badge('breakpoints', 'ok', 'This agent accepts breakpoints') : badge('no breakpoints', '', 'This agent does not accept breakpoints'),
      a.dropped_messages ? badge(`${a.dropped_messages} dropped`, 'warn', 'Messages the agent dropped from its queue') : null),
    h('td', null, a.last_heartbeat ? timeAgo(a.last_heartbeat) : h('span', { class: 'muted' }, 'none yet'), h('div', { class: 'small muted' }, 'since ', a.connected_at ? timeAgo(a.connected_at) : '—')),
    h('td', null, a.connected ? badge('connected', 'ok') : badge('disconnected', 'off')));
}

export function mountAgents(root) {
  const box = h('div', { class: 'list-box' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Agents')), box);

  const load = coalesced(async () => {
    try {
      const agents = await api.agents();
      const list = Array.isArray(agents) ? [...agents] : [];
      list.sort((a, b) => Number(b.connected) - Number(a.connected) || String(b.connected_at).localeCompare(String(a.connected_at)));
      if (list.length === 0) {
        return replace(box, h('div', { class: 'empty' }, h('h2', null, 'No agents yet'),
          h('p', null, 'Start an app with AIVORY_API_KEY=ilscipio-dev-2024 and AIVORY_BACKEND_URL pointing here; it appears as soon as it registers.')));
      }
      replace(box, h('table', { class: 'agents' },
        h('caption', { class: 'sr-only' }, 'Agents, connected first'),
        h('thead', null, h('tr', null, ['Host', 'Environment', 'Runtime', 'Agent', 'Git', 'Capabilities', 'Last heartbeat', 'Status'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, list.map(agentRow))));
    } catch (err) {
      replace(box, h('p', { class: 'error', role: 'alert' }, `Could not load agents: ${err.message}`));
    }
  });

  void load();
  return {
    onEvent(name) {
      if (name === 'agent') void load();
    },
  };
}
