// Repositories (#/repos): each with its branches (GET /api/v1/repos/{name}
// /branches), the newest run's status on each, and the branch's badge
// (/badge/{repo}/{branch}.svg, with the Markdown to put it in a README).
// A run event for a shown branch redraws that repository.
import * as api from './api.js';
import {listOf} from './api.js';
import {fmtTime, h, link, replace, seg, shortCommit, statusBadge, table} from './dom.js';

function badgeUrl(repo, branch) {
  return `/badge/${seg(repo)}/${seg(branch)}.svg`;
}

async function repoSection(repo) {
  const section = h('section', {class: 'repo', id: `repo-${repo.name}`, 'aria-labelledby': `repo-h-${repo.name}`});
  const heading = h(
    'h2',
    {id: `repo-h-${repo.name}`},
    repo.name,
    ' ',
    h('a', {class: 'small', href: link('/runs', {repo: repo.name})}, 'runs'),
    ' ',
    h('a', {class: 'small', href: `#/tests/${seg(repo.name)}`}, 'tests'),
  );
  let body;
  try {
    const branches = listOf(await api.api(`/repos/${seg(repo.name)}/branches`), 'branches');
    body = branches.length
      ? table(
          ['Branch', 'Last run', 'Status', 'Commit', 'Queued', 'Badge'],
          branches.map((b) =>
            h(
              'tr',
              {dataset: {branch: b.branch}},
              h('td', null, h('a', {href: link('/runs', {repo: repo.name, branch: b.branch})}, b.branch)),
              h('td', null, b.last_run ? h('a', {href: `#/runs/${b.last_run.id}`}, `#${b.last_run.id}`) : '—'),
              h('td', null, b.last_run ? statusBadge(b.last_run.status) : '—'),
              h('td', {class: 'mono'}, b.last_run ? shortCommit(b.last_run.commit) : '—'),
              h('td', null, b.last_run ? fmtTime(b.last_run.queued_at) : '—'),
              h(
                'td',
                null,
                h('img', {src: badgeUrl(repo.name, b.branch), alt: `${b.branch}: ${b.last_run ? b.last_run.status : 'unknown'}`, height: 20}),
              ),
            ),
          ),
        )
      : h('p', null, 'No runs yet.');
  } catch (e) {
    body = h('p', {class: 'error-text'}, `Could not load the branches: ${e.message}`);
  }
  replace(section, heading, h('p', {class: 'muted mono'}, repo.url), body);
  return section;
}

export function renderRepos(main) {
  let stopped = false;
  const list = h('div', {id: 'repos'});
  replace(main, h('h1', null, 'Repositories'), list);
  const pending = new Set();
  let timer = null;

  async function load() {
    try {
      const repos = listOf(await api.api('/repos'), 'repos');
      if (stopped) return;
      if (!repos.length) {
        replace(list, h('p', null, 'No repositories. Add one with ', h('code', null, 'slipway repo add NAME URL'), '.'));
        return;
      }
      const sections = await Promise.all(repos.map(repoSection));
      if (!stopped) replace(list, sections);
    } catch (e) {
      if (!stopped) replace(list, h('p', {class: 'error-text'}, `Could not load the repositories: ${e.message}`));
    }
  }

  async function redraw() {
    timer = null;
    for (const name of pending) {
      const old = list.querySelector(`#repo-${CSS.escape(name)}`);
      if (!old) continue;
      const fresh = await repoSection({name, url: old.querySelector('.mono') ? old.querySelector('.mono').textContent : ''});
      if (!stopped && old.isConnected) old.replaceWith(fresh);
    }
    pending.clear();
  }

  const offRun = api.onEvent('run', (run) => {
    if (!run || !run.repo || stopped) return;
    pending.add(run.repo);
    if (!timer) timer = setTimeout(redraw, 300);
  });
  const offReset = api.onEvent('reset', load);
  load();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      offRun();
      offReset();
    },
  };
}
