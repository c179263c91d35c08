// A stack trace: in-app frames stand out, runs of library frames fold into one line, and each
// frame opens to its source (read by the server, lazily) and its locals.
import { api } from './api.mjs';
import { h, replace, baseName } from './dom.mjs';
import { renderVariables } from './variables.mjs';

function frameName(f) {
  const fn = f.method_name || '<anonymous>';
  return f.class_name ? `${f.class_name}.${fn}` : fn;
}

function frameLocation(f) {
  const parts = [f.file_path || f.file_name || '<unknown>'];
  if (f.line_number) parts.push(f.line_number);
  if (f.column_number) parts.push(f.column_number);
  return parts.join(':');
}

function isInApp(f) {
  if (typeof f.in_app === 'boolean') return f.in_app;
  // agents that do not say: a frame without a file (Node internals) or in node_modules is not app code
  const p = String(f.file_path || '');
  return !f.is_native && p !== '' && !p.startsWith('node:') && !/[\\/]node_modules[\\/]/.test(p);
}

function canReadSource(f) {
  const p = String(f.file_path || '');
  return !f.is_native && p !== '' && !p.startsWith('node:') && f.line_number > 0;
}

async function loadSource(f, box) {
  try {
    const src = await api.source(f.file_path, f.line_number, 5);
    const lines = Array.isArray(src && src.lines) ? src.lines : [];
    if (lines.length === 0) throw new Error('empty');
    const pre = h('pre', { class: 'source', tabindex: '0', 'aria-label': `Source around ${baseName(f.file_path)} line ${f.line_number}` });
    for (const line of lines) {
      const current = Number(line.number) === Number(f.line_number);
      pre.appendChild(h('span', { class: current ? 'src-line current' : 'src-line', 'aria-current': current ? 'true' : null },
        h('span', { class: 'ln', 'aria-hidden': 'true' }, String(line.number)),
        h('code', null, String(line.text ?? '') || ' ')));
    }
    replace(box, pre);
  } catch (err) {
    replace(box, h('p', { class: 'muted small' }, err && err.status === 404 ? 'Source not readable by the server (file not found on this machine).' : 'Source unavailable.'));
  }
}

/** A box that fills itself with the source around `file:line` (or says why it cannot). */
export function sourceBox(file, line) {
  const box = h('div', { class: 'source-box' });
  if (canReadSource({ file_path: file, line_number: line })) void loadSource({ file_path: file, line_number: line }, box);
  return box;
}

/** Link that opens the breakpoint form prefilled with this frame's file and line. */
export function breakpointLink(file, line) {
  const q = new URLSearchParams({ file, line: String(line) });
  return h('a', { class: 'button small ghost', href: `#/breakpoints?${q}`, title: 'Set a breakpoint on this line' }, 'Set breakpoint');
}

function renderFrame(f, index, { topLocals, isTopInApp, open }) {
  const inApp = isInApp(f);
  const locals = f.local_variables && Object.keys(f.local_variables).length ? f.local_variables : (isTopInApp ? topLocals : f.local_variables);
  const localCount = locals ? Object.keys(locals).length : 0;
  const sourceBox = h('div', { class: 'source-box' });
  const body = h('div', { class: 'frame-body' },
    canReadSource(f) ? sourceBox : null,
    h('div', { class: 'frame-locals' },
      h('h4', null, 'Locals'),
      renderVariables(locals, { emptyText: inApp ? 'No locals captured for this frame.' : 'Locals are captured for in-app frames only.', label: `Locals of ${frameName(f)}` })),
    inApp && canReadSource(f) ? h('div', { class: 'frame-actions' }, breakpointLink(f.file_path, f.line_number)) : null,
  );
  const details = h('details', { class: `frame ${inApp ? 'in-app' : 'library'}`, dataset: { index: String(index) } },
    h('summary', null,
      h('span', { class: 'fn' }, frameName(f)),
      h('span', { class: 'loc', title: f.file_path || '' }, h('bdi', null, frameLocation(f))),
      h('span', { class: 'frame-badges' },
        inApp ? h('span', { class: 'badge app' }, 'in app') : h('span', { class: 'badge' }, f.is_native ? 'native' : 'library'),
        localCount ? h('span', { class: 'badge count', title: 'captured local variables' }, `${localCount} locals`) : null,
        f.generated ? h('span', { class: 'badge', title: `generated: ${f.generated.file_path}:${f.generated.line_number}:${f.generated.column_number}` }, 'source-mapped') : null)),
    body);
  let loaded = false;
  details.addEventListener('toggle', () => {
    if (details.open && !loaded && canReadSource(f)) {
      loaded = true;
      sourceBox.appendChild(h('p', { class: 'muted small' }, 'Loading source…'));
      void loadSource(f, sourceBox);
    }
  });
  if (open) details.open = true;
  return h('li', null, details);
}

/**
 * Renders frames (innermost first). `topLocals`: the event's top-level local_variables, which
 * belong to the innermost in-app frame when that frame carries none of its own.
 */
export function renderStack(frames, { topLocals, openFirst = true } = {}) {
  const list = h('ol', { class: 'frames' });
  if (!Array.isArray(frames) || frames.length === 0) return h('p', { class: 'muted' }, 'No stack trace.');
  const firstInApp = frames.findIndex(isInApp);
  const anyInApp = firstInApp >= 0;
  let folded = [];
  const flush = () => {
    if (folded.length === 0) return;
    const items = folded;
    folded = [];
    const li = h('li', { class: 'fold' });
    const button = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false' }, `${items.length} library ${items.length === 1 ? 'frame' : 'frames'} hidden — show`);
    button.addEventListener('click', () => li.replaceWith(...items));
    li.appendChild(button);
    list.appendChild(li);
  };
  frames.forEach((f, i) => {
    const li = renderFrame(f, i, { topLocals, isTopInApp: i === firstInApp, open: openFirst && i === (anyInApp ? firstInApp : 0) });
    if (anyInApp && !isInApp(f)) folded.push(li);
    else {
      flush();
      list.appendChild(li);
    }
  });
  flush();
  return list;
}
