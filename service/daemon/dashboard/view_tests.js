// Tests per repository (#/tests/{repo}[/{test id}]): the flaky tests with
// their flip counts, a test's history as a strip of results across runs
// (newest on the right), and the slowest tests as a chart (Debian's
// chart.js, loaded only here) with the same figures as a table.
import * as api from './api.js';
import {listOf} from './api.js';
import {fmtDuration, h, replace, seg, table} from './dom.js';

function testName(t) {
  return `${t.class_name ? t.class_name + '.' : ''}${t.name}`;
}

function testLink(repo, t) {
  return h('a', {href: `#/tests/${seg(repo)}/${t.id}`}, testName(t));
}

async function historySection(repo, testId) {
  const section = h('section', {id: 'history', 'aria-labelledby': 'history-h'});
  try {
    const answer = await api.api(`/repos/${seg(repo)}/tests/${seg(testId)}/history?runs=100`);
    const runs = [...answer.history].reverse();  // oldest first: time runs left to right
    replace(
      section,
      h('h2', {id: 'history-h'}, 'History of ', h('code', null, testName(answer.test))),
      runs.length
        ? h(
            'ol',
            {class: 'strip', id: 'strip', 'aria-label': 'Results, oldest first'},
            runs.map((r) =>
              h(
                'li',
                null,
                h(
                  'a',
                  {
                    href: `#/runs/${r.run}`,
                    class: `cell status-${r.status}`,
                    title: `run #${r.run}: ${r.status}${r.message ? ' — ' + r.message : ''} (${fmtDuration(r.duration_us / 1000)})`,
                  },
                  h('span', {class: 'sr'}, `run ${r.run} ${r.status}`),
                ),
              ),
            ),
          )
        : h('p', null, 'No recorded results.'),
      runs.length
        ? h('p', {class: 'muted'}, `${runs.filter((r) => r.status === 'passed').length} passed, ${runs.filter((r) => r.status === 'failed' || r.status === 'error').length} failed of ${runs.length} runs.`)
        : null,
    );
  } catch (e) {
    replace(section, h('h2', {id: 'history-h'}, 'History'), h('p', {class: 'error-text'}, e.message));
  }
  return section;
}

async function flakySection(repo) {
  const section = h('section', {id: 'flaky', 'aria-labelledby': 'flaky-h'}, h('h2', {id: 'flaky-h'}, 'Flaky tests'));
  try {
    const answer = await api.api(`/repos/${seg(repo)}/tests/flaky`);
    section.appendChild(
      answer.tests.length
        ? table(
            ['Test', 'Flips', 'Failures', 'Runs', 'Last failure'],
            answer.tests.map((f) =>
              h(
                'tr',
                null,
                h('td', null, testLink(repo, f.test)),
                h('td', {class: 'num'}, String(f.flips)),
                h('td', {class: 'num'}, String(f.failures)),
                h('td', {class: 'num'}, String(f.runs)),
                h('td', null, f.last_failure ? [h('a', {href: `#/runs/${f.last_failure.run}`}, `#${f.last_failure.run}`), ' ', f.last_failure.message || ''] : '—'),
              ),
            ),
          )
        : h('p', null, `No flaky tests in the last ${answer.runs} runs.`),
    );
  } catch (e) {
    section.appendChild(h('p', {class: 'error-text'}, e.message));
  }
  return section;
}

async function slowestSection(repo, charts) {
  const section = h('section', {id: 'slowest', 'aria-labelledby': 'slowest-h'}, h('h2', {id: 'slowest-h'}, 'Slowest tests'));
  let answer;
  try {
    answer = await api.api(`/repos/${seg(repo)}/tests/slowest?limit=15`);
  } catch (e) {
    section.appendChild(h('p', {class: 'error-text'}, e.message));
    return section;
  }
  if (!answer.tests.length) {
    section.appendChild(h('p', null, 'No timed tests yet.'));
    return section;
  }
  const canvas = h('canvas', {id: 'slowest-chart', role: 'img', 'aria-label': 'Median duration of the slowest tests'});
  const box = h('div', {class: 'chart-box'}, canvas);
  box.classList.add(`rows-${Math.min(answer.tests.length, 15)}`);
  section.appendChild(box);
  section.appendChild(
    h(
      'details',
      null,
      h('summary', null, 'As a table'),
      table(
        ['Test', 'Median', 'Latest', 'Max', 'Runs'],
        answer.tests.map((t) =>
          h(
            'tr',
            null,
            h('td', null, testLink(repo, t.test)),
            h('td', {class: 'num'}, fmtDuration(t.median_us / 1000)),
            h('td', {class: 'num'}, fmtDuration(t.latest_us / 1000)),
            h('td', {class: 'num'}, fmtDuration(t.max_us / 1000)),
            h('td', {class: 'num'}, String(t.runs)),
          ),
        ),
      ),
    ),
  );
  // Chart.js sizes the chart by its box: it is drawn once the section is
  // in the document (draw(), called by renderTests).
  section.draw = async () => {
    try {
      const {Chart, BarController, BarElement, CategoryScale, LinearScale, Tooltip} = await import('./chart.esm.js');
      Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);
      const chart = new Chart(canvas, {
        type: 'bar',
        data: {
          labels: answer.tests.map((t) => testName(t.test)),
          datasets: [{label: 'median (ms)', data: answer.tests.map((t) => t.median_us / 1000), backgroundColor: '#4c78a8'}],
        },
        options: {
          indexAxis: 'y',
          animation: false,
          maintainAspectRatio: false,
          scales: {x: {title: {display: true, text: 'median, ms'}}},
          onClick: (_, elements) => {
            if (elements.length) location.hash = `#/tests/${seg(repo)}/${answer.tests[elements[0].index].test.id}`;
          },
        },
      });
      charts.push(chart);
      section.dataset.chart = 'drawn';
    } catch (e) {
      box.replaceWith(h('p', {class: 'error-text'}, `The chart could not be drawn: ${e.message}`));
    }
  };
  return section;
}

export function renderTests(main, repo, testId) {
  let stopped = false;
  const charts = [];
  const body = h('div', {id: 'tests-view'}, h('p', null, 'Loading…'));
  replace(main, h('h1', null, repo ? ['Tests of ', h('code', null, repo)] : 'Tests'), body);
  (async () => {
    if (!repo) {
      try {
        const repos = listOf(await api.api('/repos'), 'repos');
        if (stopped) return;
        replace(
          body,
          repos.length
            ? h('ul', {class: 'repo-list'}, repos.map((r) => h('li', null, h('a', {href: `#/tests/${seg(r.name)}`}, r.name))))
            : h('p', null, 'No repositories.'),
        );
      } catch (e) {
        if (!stopped) replace(body, h('p', {class: 'error-text'}, e.message));
      }
      return;
    }
    const parts = await Promise.all([
      testId ? historySection(repo, testId) : null,
      flakySection(repo),
      slowestSection(repo, charts),
    ]);
    if (stopped) return;
    replace(body, parts);
    for (const part of parts) if (part && part.draw) await part.draw();
    if (stopped) for (const c of charts) c.destroy();
  })();
  return {
    stop() {
      stopped = true;
      for (const c of charts) c.destroy();
    },
  };
}


