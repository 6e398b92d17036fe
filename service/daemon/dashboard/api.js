// The page's side of slipwayd's API (docs/api.md, docs/dashboard.md):
// JSON calls that carry the session cookie (and, for changes, the CSRF
// header), the session itself, the event stream, and whether slipwayd can
// be reached at all (the banner app.js shows).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;  // 0: no answer at all
    this.code = code;
  }
}

let session = null;  // {name, scope, csrf} once known
const connectionListeners = new Set();
let reachable = true;

export function getSession() {
  return session;
}

// Whether this viewer may cancel, re-run and promote.
export function mayOperate() {
  return !!session && (session.scope === 'operate' || session.scope === 'admin');
}

// fn(reachable: boolean, why: string) whenever that changes.
export function onConnection(fn) {
  connectionListeners.add(fn);
  return () => connectionListeners.delete(fn);
}

function setReachable(value, why) {
  if (value === reachable) return;
  reachable = value;
  for (const fn of connectionListeners) fn(value, why || '');
}

export function isReachable() {
  return reachable;
}

// One API call: `path` under /api/v1. The answer's JSON (null for 204), or
// an ApiError (status 0 when slipwayd did not answer).
export async function api(path, {method = 'GET', body} = {}) {
  const headers = {Accept: 'application/json'};
  if (method !== 'GET' && method !== 'HEAD' && session && session.csrf) headers['X-Slipway-CSRF'] = session.csrf;
  const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch('/api/v1' + path, init);
  } catch (e) {
    setReachable(false, 'a request failed');
    throw new ApiError(0, 'unreachable', 'slipwayd cannot be reached');
  }
  setReachable(true);
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(response.status, err.code || `http_${response.status}`, err.message || response.statusText);
  }
  return data;
}

// GET /api/v1/session: the session, or null when there is none (401).
export async function loadSession() {
  try {
    session = await api('/session');
  } catch (e) {
    if (e.status === 401) {
      session = null;
      return null;
    }
    throw e;
  }
  return session;
}

// POST /ui/login with the token: true when the cookie is set.
export async function login(token) {
  let response;
  try {
    response = await fetch('/ui/login', {
      method: 'POST',
      headers: {'Content-Type': 'application/json', Accept: 'application/json'},
      body: JSON.stringify({token}),
      credentials: 'same-origin',
    });
  } catch (e) {
    setReachable(false, 'a request failed');
    throw new ApiError(0, 'unreachable', 'slipwayd cannot be reached');
  }
  setReachable(true);
  if (response.status === 204 || response.status === 200 || response.status === 303) return true;
  if (response.status === 401) return false;
  throw new ApiError(response.status, `http_${response.status}`, `login failed (${response.status})`);
}

export async function logout() {
  const headers = {};
  if (session && session.csrf) headers['X-Slipway-CSRF'] = session.csrf;
  await fetch('/ui/logout', {method: 'POST', headers, credentials: 'same-origin'});
  session = null;
}

// --- The event stream (GET /api/v1/events) ---
//
// One EventSource for the whole page. EventSource reconnects by itself
// after a network error (sending Last-Event-ID, so the server replays what
// was missed); if the server refuses it (not 200, e.g. 401) it stays
// closed, and we open a new one after a pause. Views subscribe to "run",
// "step" and "reset" (too much missed: reload your lists).

const eventListeners = {run: new Set(), step: new Set(), reset: new Set()};
let source = null;
let retryTimer = null;
let streamState = 'closed';  // 'connecting' | 'open' | 'closed'
const streamListeners = new Set();

export function onEvent(type, fn) {
  eventListeners[type].add(fn);
  return () => eventListeners[type].delete(fn);
}

// fn(state) whenever the stream's state changes.
export function onStreamState(fn) {
  streamListeners.add(fn);
  return () => streamListeners.delete(fn);
}

export function getStreamState() {
  return streamState;
}

function setStreamState(state) {
  if (state === streamState) return;
  streamState = state;
  for (const fn of streamListeners) fn(state);
}

function dispatch(type, event) {
  let data = null;
  try {
    data = event.data ? JSON.parse(event.data) : null;
  } catch (e) {
    return;
  }
  for (const fn of eventListeners[type]) fn(data);
}

export function startEvents() {
  if (source) return;
  clearTimeout(retryTimer);
  setStreamState('connecting');
  source = new EventSource('/api/v1/events');
  source.addEventListener('open', () => {
    setStreamState('open');
    setReachable(true);
  });
  source.addEventListener('error', () => {
    if (!source) return;
    if (source.readyState === EventSource.CLOSED) {
      // slipwayd answered, but not with a stream (401 once the token is
      // revoked, 503 while it stops): whether it is reachable, a plain
      // request tells. Start over after a pause.
      source = null;
      setStreamState('closed');
      api('/session').catch(() => {});
      retryTimer = setTimeout(startEvents, 5000);
    } else {
      // No answer at all: EventSource tries again by itself.
      setStreamState('connecting');
      setReachable(false, 'the event stream is cut');
    }
  });
  for (const type of ['run', 'step', 'reset']) source.addEventListener(type, (e) => dispatch(type, e));
}

export function stopEvents() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  setStreamState('closed');
}

// A list answer: {"repos": [...]} (or a bare array) -> the array.
export function listOf(answer, key) {
  if (Array.isArray(answer)) return answer;
  return (answer && Array.isArray(answer[key]) && answer[key]) || [];
}
