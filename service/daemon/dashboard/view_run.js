// A run (#/runs/{id}, #/runs/{id}/steps/{step}[/L{n}]): commit, author,
// message, event and timing; the step graph from the steps' `needs` (steps
// that may run at once side by side, a column per depth); each step's
// status, reason, duration, peak memory and limits; the services; the chosen
// step's log followed live; test counts and failed tests with messages;
// promotion. Cancel, Re-run and Promote for viewers whose scope allows them.
// The run is fetched again when the event stream says it or a step changed.
import * as api from './api.js';
import {fmtBytes, fmtDuration, fmtTime, h, replace, runDuration, seg, shortCommit, statusBadge, table} from './dom.js';
import {followLog} from './log.js';

const kEnded = new Set(['success', 'failure', 'error', 'cancelled', 'interrupted']);

// Depth of each step: 0 without needs, else one more than its deepest need.
// Without `needs` (an older slipwayd) each step waits for the one before.
export function layoutSteps(steps) {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depth = new Map();
  const visiting = new Set();
  function depthOf(step, index) {
    if (depth.has(step.name)) return depth.get(step.name);
    if (visiting.has(step.name)) return 0;  // a cycle cannot come from slipwayd; do not hang on one
    visiting.add(step.name);
    let needs = step.needs;
    if (!Array.isArray(needs)) needs = index > 0 ? [steps[index - 1].name] : [];
    let d = 0;
    for (const n of needs) {
      const other = byName.get(n);
      if (other) d = Math.max(d, depthOf(other, steps.indexOf(other)) + 1);
    }
    visiting.delete(step.name);
    depth.set(step.name, d);
    return d;
  }
  const columns = [];
  steps.forEach((s, i) => {
    const d = depthOf(s, i);
    (columns[d] = columns[d] || []).push(s);
  });
  return columns.filter(Boolean);
}

function limitsText(limits) {
  if (!limits) return '—';
  const parts = [];
  if (limits.timeout_ms) parts.push(`timeout ${fmtDuration(limits.timeout_ms)}`);
  if (limits.memory_bytes) parts.push(`memory ${fmtBytes(limits.memory_bytes)}`);
  if (limits.millicpus) parts.push(`cpu ${(limits.millicpus / 1000).toFixed(limits.millicpus % 1000 ? 1 : 0)}`);
  if (limits.pids) parts.push(`pids ${limits.pids}`);
  return parts.length ? parts.join(', ') : 'none';
}

function stepDuration(step) {
  if (step.duration_ms !== undefined && step.duration_ms !== null && step.finished_at) return step.duration_ms;
  if (step.started_at && !step.finished_at) return new Date() - new Date(step.started_at);
  return step.duration_ms;
}

function stepCard(run, step, selected) {
  const reason = step.reason ? step.reason.toUpperCase() === 'OOM' ? 'OOM' : step.reason : '';
  return h(
    'li',
    {class: `step${selected ? ' selected' : ''}`, id: `step-${step.name}`, dataset: {status: step.status}},
    h(
      'a',
      {href: `#/runs/${run.id}/steps/${seg(step.name)}`, id: `step-link-${step.name}`, 'aria-current': selected ? 'true' : null},
      h('span', {class: 'step-name'}, step.name),
      ' ',
      statusBadge(step.status),
    ),
    h(
      'dl',
      {class: 'facts'},
      reason ? [h('dt', null, 'Reason'), h('dd', {class: 'reason'}, reason)] : null,
      step.exit_code !== undefined && step.exit_code !== null && step.finished_at ? [h('dt', null, 'Exit'), h('dd', null, String(step.exit_code))] : null,
      h('dt', null, 'Duration'),
      h('dd', null, fmtDuration(stepDuration(step))),
      h('dt', null, 'Peak memory'),
      h('dd', null, fmtBytes(step.peak_memory_bytes)),
      h('dt', null, 'Limits'),
      h('dd', null, limitsText(step.limits)),
      step.error ? [h('dt', null, 'Error'), h('dd', {class: 'error-text'}, step.error)] : null,
    ),
  );
}

function header(run) {
  const facts = [
    ['Repository', run.repo || run.source_dir || '—'],
    ['Branch', run.branch || run.tag || '—'],
    ['Commit', h('code', {title: run.commit}, shortCommit(run.commit))],
    ['Author', run.author || '—'],
    ['Event', run.event],
    ['Queued', fmtTime(run.queued_at)],
    ['Started', fmtTime(run.started_at)],
    ['Finished', fmtTime(run.finished_at)],
    ['Duration', fmtDuration(runDuration(run))],
  ];
  if (run.rerun_of) facts.push(['Re-run of', h('a', {href: `#/runs/${run.rerun_of}`}, `#${run.rerun_of}`)]);
  return [
    h('h1', null, `Run #${run.id} `, statusBadge(run.status)),
    run.message ? h('pre', {class: 'commit-message'}, run.message) : null,
    h('dl', {class: 'facts run-facts'}, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    run.error ? h('p', {class: 'error-text'}, run.error) : null,
    (run.warnings || []).length ? h('ul', {class: 'warnings'}, run.warnings.map((w) => h('li', null, w))) : null,
  ];
}

function actions(run, reload) {
  if (!api.mayOperate()) return null;
  const message = h('span', {class: 'action-result', role: 'status'});
  async function act(path, what, after) {
    message.textContent = `${what}…`;
    try {
      const answer = await api.api(path, {method: 'POST'});
      message.textContent = `${what}: done.`;
      if (after) after(answer);
      else reload();
    } catch (e) {
      message.textContent = `${what} failed: ${e.message}`;
    }
  }
  const ended = kEnded.has(run.status);
  return h(
    'div',
    {class: 'actions'},
    !ended ? h('button', {type: 'button', id: 'cancel', onclick: () => act(`/runs/${run.id}/cancel`, 'Cancel')}, 'Cancel') : null,
    ended && run.repo !== undefined
      ? h('button', {type: 'button', id: 'rerun', onclick: () => act(`/runs/${run.id}/rerun`, 'Re-run', (r) => (location.hash = `#/runs/${r.id}`))}, 'Re-run')
      : null,
    run.status === 'success' && run.promotion && run.promotion.status && run.promotion.status !== 'refused'
      ? h('button', {type: 'button', id: 'promote', onclick: () => act(`/runs/${run.id}/promote`, 'Promote')}, 'Promote')
      : null,
    message,
  );
}

async function testsSection(run) {
  const counts = run.tests;
  const section = h('section', {class: 'tests', id: 'tests', 'aria-labelledby': 'tests-h'}, h('h2', {id: 'tests-h'}, 'Tests'));
  if (!counts) {
    section.appendChild(h('p', null, kEnded.has(run.status) ? 'No test reports.' : 'Counted when the steps have ended.'));
    return section;
  }
  section.appendChild(
    h(
      'p',
      {class: 'counts', id: 'test-counts'},
      `${counts.total} total: `,
      h('span', {class: 'status status-success'}, `${counts.passed} passed`),
      ' ',
      h('span', {class: 'status status-failure'}, `${counts.failed} failed`),
      ' ',
      h('span', {class: 'status status-error'}, `${counts.errors} errors`),
      ' ',
      h('span', {class: 'status status-skipped'}, `${counts.skipped} skipped`),
    ),
  );
  if (!counts.failed && !counts.errors) return section;
  const list = h('ol', {class: 'failed-tests', id: 'failed-tests'});
  section.appendChild(h('h3', null, 'Failed'));
  section.appendChild(list);
  let offset = 0;
  const more = h('button', {type: 'button', class: 'more'}, 'More failed tests');
  async function page() {
    const answer = await api.api(`/runs/${run.id}/tests?status=failed,error&offset=${offset}&limit=200`);
    for (const c of answer.tests) {
      const details = h('details', {class: 'test-details'}, h('summary', null, 'Details'));
      details.addEventListener(
        'toggle',
        async () => {
          if (!details.open || details.dataset.loaded) return;
          details.dataset.loaded = '1';
          try {
            const full = await api.api(`/runs/${run.id}/tests/${c.index}`);
            for (const [label, text] of [['Details', full.details], ['Output', full.system_out], ['Errors', full.system_err]]) {
              if (text) details.appendChild(h('div', null, h('h4', null, label), h('pre', null, text)));
            }
          } catch (e) {
            details.appendChild(h('p', null, e.message));
          }
        },
      );
      list.appendChild(
        h(
          'li',
          {class: 'failed-test'},
          h('span', {class: 'test-name'}, `${c.test.class_name ? c.test.class_name + '.' : ''}${c.test.name}`),
          ' ',
          statusBadge(c.status),
          ' ',
          h('span', {class: 'muted'}, `${c.step || ''} ${c.report || ''}`),
          c.message ? h('pre', {class: 'test-message'}, c.message) : null,
          details,
        ),
      );
    }
    offset = answer.next_offset;
    if (offset === null || offset === undefined) more.remove();
    else if (!more.isConnected) section.appendChild(more);
  }
  more.addEventListener('click', () => page().catch(() => {}));
  try {
    await page();
  } catch (e) {
    section.appendChild(h('p', null, `Could not load the failed tests: ${e.message}`));
  }
  return section;
}

async function promotionSection(run) {
  if (!run.promotion || !run.promotion.status) return null;
  const section = h(
    'section',
    {class: 'promotion', id: 'promotion', 'aria-labelledby': 'promotion-h'},
    h('h2', {id: 'promotion-h'}, 'Promotion'),
    h('p', null, statusBadge(run.promotion.status), run.promotion.error ? h('span', {class: 'error-text'}, ` ${run.promotion.error}`) : null),
  );
  try {
    const audit = await api.api(`/promotions?run=${run.id}&limit=10`);
    if (audit.promotions.length) section.appendChild(promotionTable(audit.promotions));
  } catch (e) {
    // No promotion routes on this slipwayd: the run's own status is all.
  }
  return section;
}

export function promotionTable(promotions, withRun) {
  return table(
    [withRun ? 'Run' : null, 'Result', 'Target', 'Tags', 'Digest', 'Provenance', 'By', 'Attempts', 'Finished', 'Error'].filter(Boolean),
    promotions.map((p) =>
      h(
        'tr',
        null,
        withRun ? h('td', null, h('a', {href: `#/runs/${p.run}`}, `#${p.run}`), ' ', p.repo) : null,
        h('td', null, statusBadge(p.result)),
        h('td', {class: 'mono'}, p.target),
        h('td', null, (p.tags || []).join(', ')),
        h('td', {class: 'mono digest'}, p.manifest_digest || '—'),
        h('td', {class: 'mono digest'}, p.provenance_digest || '—'),
        h('td', null, p.started_by),
        h('td', null, String(p.attempts)),
        h('td', null, fmtTime(p.finished_at)),
        h('td', {class: 'error-text'}, p.error || ''),
      ),
    ),
  );
}

export function renderRun(main, idText, selectedStep, targetLine) {
  const id = Number(idText);
  let stopped = false;
  let log = null;
  let run = null;
  let refetch = null;
  const stops = [];
  const top = h('div', {class: 'run-top'});
  const graph = h('section', {class: 'graph-section', 'aria-labelledby': 'steps-h'});
  const services = h('section', {class: 'services-section'});
  const logSlot = h('div', {class: 'log-slot', id: 'log'});
  const extra = h('div', {class: 'run-extra'});
  replace(main, top, graph, services, logSlot, extra);

  if (!Number.isInteger(id) || id <= 0) {
    replace(main, h('h1', null, 'No such run'));
    return null;
  }

  function draw() {
    // Redrawn as the run moves on: the keyboard's focus stays where it was.
    const focused = document.activeElement && document.activeElement.id;
    drawParts();
    if (focused && document.activeElement !== document.getElementById(focused)) {
      const again = document.getElementById(focused);
      if (again) again.focus({preventScroll: true});
    }
  }

  function drawParts() {
    replace(top, header(run), actions(run, reload));
    const steps = run.steps || [];
    const regular = steps.filter((s) => s.kind !== 'service' && s.kind !== 'setup');
    const setup = steps.filter((s) => s.kind === 'setup');
    const svc = steps.filter((s) => s.kind === 'service');
    const columns = layoutSteps(regular);
    replace(
      graph,
      h('h2', {id: 'steps-h'}, 'Steps'),
      setup.length ? h('ul', {class: 'setup-steps'}, setup.map((s) => stepCard(run, s, s.name === selectedStep))) : null,
      h(
        'ol',
        {class: 'graph', id: 'graph'},
        columns.map((col, i) => h('li', {class: 'column', 'aria-label': `Stage ${i + 1}`}, h('ul', null, col.map((s) => stepCard(run, s, s.name === selectedStep))))),
      ),
    );
    replace(
      services,
      svc.length ? [h('h2', null, 'Services'), h('ul', {class: 'services', id: 'services'}, svc.map((s) => stepCard(run, s, s.name === selectedStep)))] : null,
    );
  }

  async function drawExtra() {
    const parts = await Promise.all([testsSection(run), promotionSection(run)]);
    if (stopped) return;
    replace(extra, parts);
    if (run.tests) performance.mark('slipway-tests-drawn');  // for bench/dashboard
  }

  let extraFor = '';
  async function reload() {
    try {
      const fresh = await api.api(`/runs/${id}`);
      if (stopped) return;
      run = fresh;
      draw();
      // Tests and promotion change when the run ends and when it promotes.
      const key = `${run.status}/${run.promotion ? run.promotion.status : ''}/${run.tests ? run.tests.total : ''}`;
      if (key !== extraFor) {
        extraFor = key;
        drawExtra();
      }
      if (!log) startLog();
    } catch (e) {
      if (stopped) return;
      if (e.status === 404) replace(main, h('h1', null, `No run #${id}`), h('p', null, h('a', {href: '#/runs'}, 'See the runs.')));
      else if (!run) replace(top, h('h1', null, `Run #${id}`), h('p', {class: 'error-text'}, `Could not load the run: ${e.message}`));
    }
  }

  function startLog() {
    const steps = run.steps || [];
    let name = selectedStep;
    if (!name) {
      // The first failed step, else the running one, else the last that ran.
      const regular = steps.filter((s) => s.kind === 'step');
      const pick =
        regular.find((s) => s.status === 'failure' || s.status === 'error') ||
        regular.find((s) => s.status === 'running') ||
        [...regular].reverse().find((s) => s.started_at) ||
        steps.find((s) => s.kind === 'setup');
      name = pick ? pick.name : null;
    }
    if (!name || !steps.some((s) => s.name === name)) {
      replace(logSlot, selectedStep ? h('p', null, `This run has no step ${selectedStep}.`) : null);
      return;
    }
    log = followLog({
      runId: id,
      step: name,
      anchorBase: `#/runs/${id}/steps/${seg(name)}`,
      targetLine,
      onEnd: () => scheduleReload(),
    });
    replace(logSlot, h('h2', null, 'Log of ', h('code', null, name)), log.element);
  }

  function scheduleReload() {
    if (refetch || stopped) return;
    refetch = setTimeout(() => {
      refetch = null;
      reload();
    }, 250);
  }

  stops.push(api.onEvent('run', (r) => r && r.id === id && scheduleReload()));
  stops.push(api.onEvent('step', (e) => e && e.run_id === id && scheduleReload()));
  stops.push(api.onEvent('reset', () => scheduleReload()));
  const tick = setInterval(() => {
    if (run && !kEnded.has(run.status)) draw();
  }, 5000);
  reload();
  return {
    stop() {
      stopped = true;
      clearInterval(tick);
      clearTimeout(refetch);
      if (log) log.stop();
      for (const s of stops) s();
    },
  };
}
