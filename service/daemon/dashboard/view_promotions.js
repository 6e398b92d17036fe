// The promotion audit (#/promotions?repo=&before=): newest first, paged.
import * as api from './api.js';
import {h, link, replace} from './dom.js';
import {promotionTable} from './view_run.js';

export function renderPromotions(main, query) {
  let stopped = false;
  const repo = query.get('repo') || '';
  const before = query.get('before') || '';
  const body = h('div', {id: 'promotions'}, h('p', null, 'Loading…'));
  const pager = h('nav', {class: 'pager', 'aria-label': 'Pages'});
  replace(main, h('h1', null, 'Promotions'), repo ? h('p', null, `Repository ${repo}. `, h('a', {href: '#/promotions'}, 'All')) : null, body, pager);
  const q = new URLSearchParams({limit: '50'});
  if (repo) q.set('repo', repo);
  if (before) q.set('before', before);
  api.api('/promotions?' + q.toString()).then(
    (page) => {
      if (stopped) return;
      replace(body, page.promotions.length ? promotionTable(page.promotions, true) : h('p', null, 'Nothing was promoted yet.'));
      replace(
        pager,
        before ? h('a', {href: link('/promotions', {repo})}, 'Newest') : null,
        page.next_before ? h('a', {href: link('/promotions', {repo, before: page.next_before})}, 'Older') : null,
      );
    },
    (e) => {
      if (stopped) return;
      replace(body, h('p', {class: 'error-text'}, e.status === 404 ? 'This slipwayd does not promote.' : `Could not load the audit: ${e.message}`));
    },
  );
  return {
    stop() {
      stopped = true;
    },
  };
}
