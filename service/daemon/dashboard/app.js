// The dashboard (docs/dashboard.md): the session, hash routes to views, the
// "slipwayd cannot be reached" banner and the event stream's state. Each
// view is a module whose render(main, route) returns a stop() that ends its
// subscriptions and streams.
import * as api from './api.js';
import {h, replace} from './dom.js';
import {renderLogin} from './view_login.js';
import {renderPromotions} from './view_promotions.js';
import {renderRepos} from './view_repos.js';
import {renderRun} from './view_run.js';
import {renderRuns} from './view_runs.js';
import {renderTests} from './view_tests.js';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

let current = null;  // the view shown: {stop}
let sessionKnown = false;

// "#/runs/12/steps/unit/L40?x=1" -> {parts: ["runs", "12", "steps", "unit", "L40"], query}
function parseHash() {
  const hash = location.hash.slice(1);
  const [path, q] = hash.split('?');
  const parts = (path || '').split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch (e) {
      return p;
    }
  });
  return {parts, query: new URLSearchParams(q || '')};
}

function viewFor(route) {
  const [first, second, third, fourth, fifth] = route.parts;
  switch (first) {
    case undefined:
    case 'runs':
      if (second === undefined) return ['runs', (m) => renderRuns(m, route.query)];
      if (third === 'steps' && fourth !== undefined) {
        const line = /^L(\d+)$/.exec(fifth || '');
        return ['runs', (m) => renderRun(m, second, fourth, line ? Number(line[1]) : 0)];
      }
      return ['runs', (m) => renderRun(m, second, null, 0)];
    case 'repos':
      return ['repos', (m) => renderRepos(m)];
    case 'tests':
      return ['tests', (m) => renderTests(m, second, third)];
    case 'promotions':
      return ['promotions', (m) => renderPromotions(m, route.query)];
    default:
      return [null, (m) => {
        replace(m, h('h1', null, 'Not found'), h('p', null, 'No such page. ', h('a', {href: '#/runs'}, 'See the runs.')));
        return null;
      }];
  }
}

async function show(focus) {
  if (current && current.stop) current.stop();
  current = null;
  if (!sessionKnown) {
    try {
      await api.loadSession();
      sessionKnown = true;
    } catch (e) {
      showUnreachable(e);
      return;
    }
  }
  const session = api.getSession();
  updateHeader(session);
  if (!session) {
    api.stopEvents();
    current = renderLogin(main, async () => {
      sessionKnown = false;
      await show(true);
    });
    return;
  }
  api.startEvents();
  const [name, render] = viewFor(parseHash());
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  current = render(main);
  if (focus) main.focus({preventScroll: true});
}

function showUnreachable(error) {
  updateHeader(null);
  const answered = error && error.status;
  replace(
    main,
    h('h1', null, answered ? 'slipwayd answered with an error' : 'slipwayd cannot be reached'),
    h('p', null, answered ? `${error.status}: ${error.message}` : 'The page could not talk to slipwayd.'),
    h('button', {type: 'button', onclick: () => show(true)}, 'Try again'),
  );
  if (!answered) setBanner(false, 'a request failed');
}

function updateHeader(session) {
  nav.hidden = !session;
  if (!session) {
    replace(who);
    return;
  }
  const label = session.name ? `${session.name} (${session.scope})` : `anonymous (${session.scope})`;
  const logout =
    session.csrf || session.name
      ? h('button', {type: 'button', class: 'link', id: 'logout', onclick: doLogout}, 'Log out')
      : null;
  replace(who, h('span', {class: 'session', id: 'session'}, label), ' ', session.csrf ? logout : null);
}

async function doLogout() {
  try {
    await api.logout();
  } catch (e) {
    // The banner says why, if slipwayd is gone.
  }
  sessionKnown = false;
  show(true);
}

// The banner: shown while fetches fail or the event stream is cut.
function setBanner(reachable, why) {
  if (reachable) {
    banner.hidden = true;
    replace(banner);
    return;
  }
  replace(
    banner,
    h('strong', null, 'slipwayd cannot be reached'),
    ` (${why || 'no answer'}). `,
    api.getStreamState() === 'connecting' ? 'Reconnecting by itself… ' : '',
    h('button', {type: 'button', onclick: () => retry()}, 'Retry now'),
  );
  banner.hidden = false;
}

function retry() {
  api.stopEvents();
  sessionKnown = false;
  show(false);
}

api.onConnection((reachable, why) => setBanner(reachable, why));
api.onStreamState((state) => {
  document.body.dataset.stream = state;
  if (!api.isReachable()) setBanner(false, state === 'open' ? '' : 'the event stream is cut');
});

window.addEventListener('hashchange', () => show(true));
// Streams hold connections, and a browser opens only six per origin over
// HTTP/1.1: a page left (or kept in the back-forward cache) closes its
// streams at once, so that the next page's are not queued behind them.
window.addEventListener('pagehide', () => {
  if (current && current.stop) current.stop();
  current = null;
  api.stopEvents();
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted) show(false);
});
show(false);
