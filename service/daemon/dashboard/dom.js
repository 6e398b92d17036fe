// Small DOM helpers. Text always goes in as text nodes (never as HTML): the
// only HTML the page inserts is ansi_up's escaped output (ansi.js).

// h('a', {href: '#/runs', class: 'x', onclick: fn}, 'text', child...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'class') {
        el.className = value;
      } else if (key === 'dataset') {
        Object.assign(el.dataset, value);
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// "#/runs?repo=app" pieces, URL-encoded.
export function link(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') params.set(k, v);
  const q = params.toString();
  return '#' + path + (q ? '?' + q : '');
}

export function seg(s) {
  return encodeURIComponent(s);
}

// --- Formatting ---

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function fmtBytes(n) {
  if (!n) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${units[i]}`;
}

// A run's duration: started to finished, or to now while it runs.
export function runDuration(run) {
  if (!run.started_at) return null;
  const end = run.finished_at ? new Date(run.finished_at) : new Date();
  return end - new Date(run.started_at);
}

export function shortCommit(commit) {
  return commit ? commit.slice(0, 8) : '—';
}

export function statusBadge(status, extra) {
  const s = status || 'unknown';
  return h('span', {class: `status status-${s.replace(/[^a-z_]/g, '')}`}, s, extra ? ` (${extra})` : null);
}

export function firstLine(text) {
  return (text || '').split('\n')[0];
}

// A table inside a scrolling box, so that it stays readable on a phone.
export function table(headers, rows, caption) {
  return h(
    'div',
    {class: 'table-wrap'},
    h(
      'table',
      null,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null, headers.map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', null, rows),
    ),
  );
}
