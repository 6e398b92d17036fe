// A step's log followed live (GET /api/v1/runs/{id}/steps/{step}/logs
// ?follow=true over Server-Sent Events), with ANSI colours and an anchor
// per line. Chunks are cut into lines as they come (a chunk may end inside
// a line: its rest waits for the next one); whole lines are queued and
// drawn once per animation frame, in batches parsed into a DocumentFragment
// at once, so that 10,000 lines cost a few frames, not 10,000 reflows.
// Lines live in blocks of kLinesPerBlock whose layout the browser skips
// while they are off screen (content-visibility: auto), and the page reads
// the layout (to stay at the bottom) only when the reader is there.
import {makeConverter, paintRgb} from './ansi.js';
import {h} from './dom.js';

const kLinesPerFrame = 2500;
const kLinesPerBlock = 500;
const kRetryMs = 2000;

// Returns {element, stop()}. `anchorBase` is the route of this log
// ("#/runs/12/steps/unit"); line N's anchor is anchorBase + "/L" + N.
// `targetLine` (0: none) is scrolled to and marked once drawn. `onEnd(step)`
// gets the step object the stream ends with.
export function followLog({runId, step, anchorBase, targetLine = 0, onEnd}) {
  const state = h('p', {class: 'log-state', 'aria-live': 'polite'}, 'Connecting…');
  const lines = h('div', {class: 'log-lines'});
  const box = h('div', {class: 'log', tabindex: '0', role: 'log', 'aria-label': `Log of ${step}`}, lines);
  const element = h('section', {class: 'log-panel', 'aria-label': `Log of step ${step}`}, state, box);
  const converter = makeConverter();
  // A line's number is drawn by CSS (.line::before, from data-n): one
  // element a line, not two. A click on it makes its anchor the address.
  lines.addEventListener('click', (event) => {
    const line = event.target;
    if (!(line instanceof HTMLElement) || !line.classList.contains('line')) return;
    if (event.clientX - line.getBoundingClientRect().left > parseFloat(getComputedStyle(line).paddingLeft)) return;
    location.hash = `${anchorBase}/L${line.dataset.n}`;
  });
  const rest = {stdout: '', stderr: ''};
  const queue = [];
  let count = 0;
  let consumed = 0;  // characters taken from the stream (skipped again after a reconnect)
  let skip = 0;
  let scheduled = false;
  let ended = false;
  let stopped = false;
  let source = null;
  let retry = null;
  let targetShown = false;

  function take(stream, text) {
    if (skip > 0) {
      if (text.length <= skip) {
        skip -= text.length;
        return;
      }
      text = text.slice(skip);
      skip = 0;
    }
    consumed += text.length;
    let start = 0;
    const all = rest[stream] + text;
    for (let nl = all.indexOf('\n'); nl >= 0; nl = all.indexOf('\n', start)) {
      queue.push(stream === 'stderr' ? [all.slice(start, nl), true] : [all.slice(start, nl), false]);
      start = nl + 1;
    }
    rest[stream] = all.slice(start);
    schedule();
  }

  function schedule() {
    if (scheduled || stopped) return;
    scheduled = true;
    requestAnimationFrame(draw);
  }

  // Whether to keep the newest line in view: until the reader scrolls up.
  let following = true;
  let scrolling = false;  // our own scrollTop write, not the reader's
  box.addEventListener('scroll', () => {
    if (scrolling) {
      scrolling = false;
      return;
    }
    following = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  });
  let block = null;
  let inBlock = kLinesPerBlock;

  function draw() {
    scheduled = false;
    if (stopped) return;
    let batch = queue.splice(0, kLinesPerFrame);
    const drew = batch.length > 0;
    while (batch.length) {
      // Fill the open block, then start new ones.
      if (inBlock === kLinesPerBlock) {
        block = document.createElement('div');
        block.className = 'block';
        lines.appendChild(block);
        inBlock = 0;
      }
      const take = batch.slice(0, kLinesPerBlock - inBlock);
      batch = batch.slice(take.length);
      inBlock += take.length;
      const parts = [];
      let rgb = false;
      for (const [text, err] of take) {
        count++;
        const html = converter.ansi_to_html(text);
        if (!rgb && html.indexOf('ansi-rgb-') >= 0) rgb = true;
        parts.push(
          `<div class="line${err ? ' err' : ''}" id="L${count}" data-n="${count}">${html}</div>`,
        );
      }
      const template = document.createElement('template');
      template.innerHTML = parts.join('');
      if (rgb) paintRgb(template.content);
      block.appendChild(template.content);
    }
    if (drew) {
      if (following && !targetLine) {
        scrolling = true;
        box.scrollTop = box.scrollHeight;
      }
      showTarget();
    }
    if (queue.length) schedule();
    else if (ended) finish();
  }

  function showTarget() {
    if (!targetLine || targetShown || count < targetLine) return;
    const el = lines.querySelector(`#L${targetLine}`);
    if (!el) return;
    targetShown = true;
    el.classList.add('target');
    el.scrollIntoView({block: 'center'});
  }

  function finish() {
    state.textContent = count ? `${count} lines` : 'No output.';
    lines.dataset.done = 'true';
    lines.dataset.count = String(count);
    // For bench/dashboard: when the whole log was on screen.
    performance.mark('slipway-log-drawn');
  }

  function connect() {
    if (stopped) return;
    state.textContent = consumed ? 'Reconnecting…' : 'Connecting…';
    const url = `/api/v1/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(step)}/logs?follow=true`;
    source = new EventSource(url);
    source.addEventListener('open', () => {
      state.textContent = 'Following…';
    });
    source.addEventListener('stdout', (e) => take('stdout', e.data));
    source.addEventListener('stderr', (e) => take('stderr', e.data));
    source.addEventListener('end', (e) => {
      ended = true;
      source.close();
      // What no line ending closed is a last line of its own.
      for (const stream of ['stdout', 'stderr']) {
        if (rest[stream]) queue.push([rest[stream], stream === 'stderr']);
        rest[stream] = '';
      }
      schedule();
      if (!queue.length) finish();
      let stepObject = null;
      try {
        stepObject = JSON.parse(e.data);
      } catch (err) {
        stepObject = null;
      }
      if (onEnd) onEnd(stepObject);
    });
    source.addEventListener('error', () => {
      if (ended || stopped) return;
      // The stream was cut before its end: the log is sent again from its
      // start, so what was shown already is skipped.
      source.close();
      skip = consumed;
      state.textContent = 'The log stream was cut; reconnecting…';
      retry = setTimeout(connect, kRetryMs);
    });
  }

  connect();
  return {
    element,
    stop() {
      stopped = true;
      clearTimeout(retry);
      if (source) source.close();
    },
  };
}
