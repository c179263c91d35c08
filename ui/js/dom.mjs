// DOM building without innerHTML: every piece of data becomes a text node, so nothing a monitored
// app sends (messages, locals, headers) can ever be interpreted as markup.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<event>` (listener), `dataset`, boolean
 * attributes (true adds, false/undefined skips), everything else via setAttribute.
 * Children: nodes, strings (as text), arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = String(value);
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (value === true) el.setAttribute(key, '');
      else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
      else el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatAbsolute(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso ?? '') : dateTime.format(d);
}

export function formatRelative(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '—';
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours}h ago`;
  return `${Math.floor(hours / 24)}d ago`;
}

/** A <time> that shows "3m ago", the exact time in its tooltip; refreshed by refreshTimes(). */
export function timeAgo(iso) {
  return h('time', { datetime: iso, title: formatAbsolute(iso), class: 'ago', text: formatRelative(iso) });
}

export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time.ago')) el.textContent = formatRelative(el.getAttribute('datetime'), now);
}

export function badge(text, kind = '', title) {
  return h('span', { class: `badge ${kind}`.trim(), title, text });
}

/** The last path segment, for compact file labels. */
export function baseName(path) {
  const s = String(path ?? '');
  const i = Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\'));
  return i >= 0 ? s.slice(i + 1) : s;
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** `context.thread` of an event or hit from one of the app's worker threads: its id, and its name when Node gave one; null otherwise. */
export function threadText(thread) {
  if (!thread || typeof thread !== 'object' || !Number.isInteger(thread.id)) return null;
  return typeof thread.name === 'string' && thread.name ? `worker thread ${thread.id} (${thread.name})` : `worker thread ${thread.id}`;
}
