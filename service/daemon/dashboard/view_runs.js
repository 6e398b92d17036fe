// The runs list (#/runs?repo=&branch=&status=&event=&before=): filters,
// paging by `before`, and live rows from the event stream: a run that
// matches the filters appears at the top of the first page when queued, and
// every shown run's row changes as it starts and ends, without a reload.
import * as api from './api.js';
import {listOf} from './api.js';
import {fmtDuration, fmtTime, firstLine, h, link, replace, runDuration, shortCommit, statusBadge} from './dom.js';

const kStatuses = ['queued', 'running', 'success', 'failure', 'error', 'cancelled', 'interrupted'];
const kEvents = ['push', 'tag', 'pull_request', 'manual'];
const kPage = 50;

export function runRow(run) {
  return h(
    'tr',
    {id: `run-${run.id}`, dataset: {id: String(run.id), status: run.status}},
    h('td', null, h('a', {href: `#/runs/${run.id}`}, `#${run.id}`)),
    h('td', null, statusBadge(run.status)),
    h('td', null, run.repo || h('em', null, 'exec')),
    h('td', null, run.branch || run.tag || '—'),
    h('td', {class: 'mono'}, shortCommit(run.commit)),
    h('td', {class: 'msg'}, firstLine(run.message)),
    h('td', null, run.event),
    h('td', null, fmtTime(run.queued_at)),
    h('td', null, fmtDuration(runDuration(run))),
  );
}

export const kRunHeaders = ['Run', 'Status', 'Repository', 'Branch', 'Commit', 'Message', 'Event', 'Queued', 'Duration'];

function matches(run, filters) {
  for (const key of ['repo', 'branch', 'status', 'event']) {
    if (filters[key] && run[key] !== filters[key]) return false;
  }
  return true;
}

function select(name, label, options, value) {
  return h(
    'label',
    null,
    label,
    h('select', {name, id: `filter-${name}`}, h('option', {value: ''}, 'any'), options.map((o) => h('option', {value: o, selected: o === value}, o))),
  );
}

export function renderRuns(main, query) {
  const filters = {};
  for (const key of ['repo', 'branch', 'status', 'event', 'before']) filters[key] = query.get(key) || '';
  const stops = [];
  let stopped = false;
  const tbody = h('tbody', {id: 'runs-body'});
  const pager = h('nav', {class: 'pager', 'aria-label': 'Pages'});
  const note = h('p', {class: 'note', id: 'runs-note'});
  const repoSelect = h('span');
  const form = h(
    'form',
    {class: 'filters', id: 'run-filters'},
    repoSelect,
    h('label', null, 'Branch', h('input', {name: 'branch', id: 'filter-branch', value: filters.branch, size: 12})),
    select('status', 'Status', kStatuses, filters.status),
    select('event', 'Event', kEvents, filters.event),
    h('button', {type: 'submit'}, 'Filter'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const q = {};
    for (const key of ['repo', 'branch', 'status', 'event']) q[key] = (data.get(key) || '').trim();
    location.hash = link('/runs', q);
  });
  replace(
    main,
    h('h1', null, 'Runs'),
    form,
    note,
    h('div', {class: 'table-wrap'}, h('table', {id: 'runs'}, h('thead', null, h('tr', null, kRunHeaders.map((t) => h('th', {scope: 'col'}, t)))), tbody)),
    pager,
  );

  api.api('/repos').then(
    (repos) => {
      const names = listOf(repos, 'repos').map((r) => r.name);
      replace(repoSelect, select('repo', 'Repository', names, filters.repo));
    },
    () => replace(repoSelect, h('label', null, 'Repository', h('input', {name: 'repo', id: 'filter-repo', value: filters.repo, size: 10}))),
  );

  let shown = [];  // runs on this page, newest first
  let loading = null;

  async function load() {
    const q = new URLSearchParams();
    for (const key of ['repo', 'branch', 'status', 'event', 'before']) if (filters[key]) q.set(key, filters[key]);
    q.set('limit', String(kPage));
    note.textContent = 'Loading…';
    try {
      const page = await api.api('/runs?' + q.toString());
      if (stopped) return;
      shown = page.runs;
      replace(tbody, shown.map(runRow));
      note.textContent = shown.length ? '' : 'No runs match.';
      const base = {repo: filters.repo, branch: filters.branch, status: filters.status, event: filters.event};
      replace(
        pager,
        filters.before ? h('a', {href: link('/runs', base)}, 'Newest') : null,
        page.next_before ? h('a', {href: link('/runs', {...base, before: page.next_before}), rel: 'next', id: 'older'}, 'Older runs') : null,
      );
    } catch (e) {
      if (!stopped) note.textContent = `Could not load the runs: ${e.message}`;
    }
  }

  function onRun(run) {
    if (!run || stopped) return;
    const row = tbody.querySelector(`#run-${run.id}`);
    const index = shown.findIndex((r) => r.id === run.id);
    if (index >= 0) {
      shown[index] = run;
      if (!matches(run, filters)) {
        // A status filter: the run has left it.
        shown.splice(index, 1);
        if (row) row.remove();
      } else if (row) {
        row.replaceWith(runRow(run));
      }
      return;
    }
    // New runs belong on the first page only, above the newest.
    if (filters.before || !matches(run, filters)) return;
    if (shown.length && run.id < shown[0].id) return;
    shown.unshift(run);
    tbody.insertBefore(runRow(run), tbody.firstChild);
    note.textContent = '';
    if (shown.length > kPage) {
      shown.pop();
      tbody.lastChild.remove();
    }
  }

  stops.push(api.onEvent('run', onRun));
  stops.push(api.onEvent('reset', () => load()));
  // Durations of running runs move on.
  const tick = setInterval(() => {
    for (const run of shown) {
      if (run.status !== 'running') continue;
      const cell = tbody.querySelector(`#run-${run.id} td:last-child`);
      if (cell) cell.textContent = fmtDuration(runDuration(run));
    }
  }, 1000);
  load();
  return {
    stop() {
      stopped = true;
      clearInterval(tick);
      for (const s of stops) s();
    },
  };
}


