// The locals tree: protocol Variables ({name, type, value, is_null, is_truncated, children?,
// array_elements?, array_length?}) as nested <details>, so every node opens with Enter/Space.
// Children are built when a node is first opened: a 10k-node capture costs nothing until looked at.
import { h } from './dom.mjs';

const REDACTED = '[REDACTED]';

function childEntries(v) {
  const out = [];
  if (v.children && typeof v.children === 'object') {
    for (const [key, child] of Object.entries(v.children)) out.push([key, child]);
  }
  if (Array.isArray(v.array_elements)) {
    v.array_elements.forEach((child, i) => out.push([child && child.name != null && child.name !== '' ? child.name : String(i), child]));
  }
  return out;
}

function valueKind(v) {
  if (v.is_null) return 'null';
  const t = String(v.type || '').toLowerCase();
  if (t === 'string') return 'string';
  if (t === 'number' || t === 'bigint' || t === 'int' || t === 'float') return 'number';
  if (t === 'boolean' || t === 'bool') return 'boolean';
  if (t === 'undefined' || t === 'null' || t === 'none') return 'null';
  if (t === 'function' || t === 'asyncfunction' || t === 'class') return 'function';
  return 'object';
}

/** Badges that say a bound cut this value or a secret was hidden: never silently. */
function markers(v, shownCount) {
  const out = [];
  if (v.value === REDACTED) out.push(h('span', { class: 'badge redacted', title: 'Hidden by the agent: the name looks like a secret' }, 'redacted'));
  if (typeof v.array_length === 'number' && v.array_length > shownCount) {
    out.push(h('span', { class: 'badge truncated', title: 'Cut at max_collection_size' }, `${shownCount} of ${v.array_length}`));
  } else if (v.is_truncated) {
    out.push(h('span', { class: 'badge truncated', title: 'Cut by the agent (max depth, string length or collection size)' }, 'truncated'));
  }
  return out;
}

function renderValue(v) {
  const kind = v.value === REDACTED ? 'redacted' : valueKind(v);
  const text = v.is_null && (v.value === undefined || v.value === '') ? 'null' : String(v.value ?? '');
  return h('span', { class: `value v-${kind}` }, text);
}

/** details element -> builds its children once; gone after the first open. */
const builders = new WeakMap();

function renderNode(name, v) {
  if (!v || typeof v !== 'object') return h('li', { class: 'var leaf' }, h('span', { class: 'name' }, name), h('span', { class: 'value v-null' }, 'undefined'));
  const entries = childEntries(v);
  const head = [
    h('span', { class: 'name' }, name),
    v.type ? h('span', { class: 'type' }, v.type) : null,
    renderValue(v),
    markers(v, Array.isArray(v.array_elements) ? v.array_elements.length : 0),
  ];
  if (entries.length === 0) return h('li', { class: 'var leaf' }, head);
  const list = h('ul', { class: 'vars' });
  const details = h('details', { class: 'var-node' }, h('summary', null, head), list);
  builders.set(details, () => {
    builders.delete(details);
    for (const [key, child] of entries) list.appendChild(renderNode(key, child));
  });
  details.addEventListener('toggle', () => {
    if (details.open) builders.get(details)?.();
  });
  return h('li', { class: 'var' }, details);
}

/** A tree of `{name: Variable}`; `emptyText` when there is nothing. */
export function renderVariables(vars, { emptyText = 'No local variables captured.', label } = {}) {
  const entries = vars && typeof vars === 'object' ? Object.entries(vars) : [];
  if (entries.length === 0) return h('p', { class: 'muted empty-vars' }, emptyText);
  const list = h('ul', { class: 'vars root', 'aria-label': label });
  for (const [key, v] of entries) list.appendChild(renderNode(v && v.name ? v.name : key, v));
  return list;
}

/** Opens every node of a rendered tree (building children as it goes), or closes them all. */
export function setTreeOpen(root, open, maxNodes = 2000) {
  if (!open) {
    for (const d of root.querySelectorAll('details.var-node[open]')) d.open = false;
    return;
  }
  // 'toggle' fires later, so build children here, level by level, bounded for huge captures.
  let opened = 0;
  let level = [...root.querySelectorAll('details.var-node:not([open])')];
  while (level.length && opened < maxNodes) {
    for (const d of level) {
      builders.get(d)?.();
      d.open = true;
      opened++;
    }
    level = level.flatMap((d) => [...d.querySelectorAll(':scope > ul > li > details.var-node:not([open])')]);
  }
}

/** Plain JSON (request context, user, custom context) as Variables, to reuse the same tree. */
export function jsonToVariables(obj) {
  const out = {};
  if (!obj || typeof obj !== 'object') return out;
  for (const [k, v] of Object.entries(obj)) out[k] = jsonToVariable(k, v);
  return out;
}

function jsonToVariable(name, value) {
  if (value === null || value === undefined) return { name, type: 'null', value: 'null', is_null: true, is_truncated: false };
  if (Array.isArray(value)) {
    return { name, type: 'Array', value: `Array(${value.length})`, is_null: false, is_truncated: false, array_elements: value.map((v, i) => jsonToVariable(String(i), v)), array_length: value.length };
  }
  if (typeof value === 'object') {
    const children = {};
    for (const [k, v] of Object.entries(value)) children[k] = jsonToVariable(k, v);
    return { name, type: 'Object', value: `{${Object.keys(value).length}}`, is_null: false, is_truncated: false, children };
  }
  return { name, type: typeof value, value: String(value), is_null: false, is_truncated: false };
}
