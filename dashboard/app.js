// The live dashboard: a snapshot from the REST API, then every change from the event
// stream (GET /v1/events); no polling. On `reset`, `overflow` or a reconnect it takes a
// new snapshot and goes on. DOM is built with textContent only: names and labels are
// client data and never become markup.
import { readEventStream } from './event-stream.js';

const TOKEN_KEY = 'tpmutex.token';
const RECENT_WORKS = 200; // finished works kept in the table (unfinished ones always stay)
const EVENT_TAIL = 50;
const REPLAY_EVENTS = 500; // events replayed on connect, to fill the recent works and the tail
const MAX_RETRY_MS = 10_000;
const TERMINAL = new Set(['released', 'abandoned', 'timed_out', 'cancelled', 'failed']);

const state = {
  info: null,
  boot: null,
  mutexes: new Map(),
  works: new Map(),
  pool: null,
  events: [],
  selectedWork: null,
  serverClockOffsetMs: 0,
};

class Unauthorized extends Error {}
class ReloadRequested extends Error {}

const $ = (selector) => document.querySelector(selector);

/** An element with attributes/properties and children (strings become text nodes). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el) el[key] = value;
    else el.setAttribute(key, value);
  }
  el.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(c ?? ''))));
  return el;
}

// ---- API ----------------------------------------------------------------------------

async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const response = await fetch(path, { ...init, headers, cache: 'no-store' });
  if (response.status === 401) throw new Unauthorized();
  const date = response.headers.get('date');
  if (date) state.serverClockOffsetMs = Date.parse(date) - Date.now();
  return response;
}

async function getJson(path) {
  const response = await api(path);
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return response.json();
}

async function listAll(path) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJson(`${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && items.length < 10_000);
  return items;
}

const mutexPath = (name) => `v1/mutexes/${encodeURIComponent(name)}`;

// ---- connection ----------------------------------------------------------------------

function setConnection(kind, text) {
  const el = $('#connection');
  el.dataset.state = kind;
  el.textContent = text;
}

/** Asks for a token (once per tab: it is kept in sessionStorage) and resolves when one is given. */
function askForToken(refused) {
  setConnection('token', 'Waiting for a token');
  const form = $('#token-form');
  $('#token-error').textContent = refused ? 'That token was refused: check it and try again.' : '';
  form.hidden = false;
  $('#token-input').focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $('#token-input').value.trim());
      $('#token-input').value = '';
      form.hidden = true;
      resolve();
    }, { once: true });
  });
}

/** Takes a snapshot; returns the seq to stream from (a little history is replayed). */
async function loadSnapshot() {
  const [info, status] = await Promise.all([getJson('v1/info'), getJson('v1/status')]);
  const [mutexes, unfinished] = await Promise.all([
    listAll('v1/mutexes?limit=1000'),
    listAll('v1/work?state=queued,waiting,holding&limit=1000'),
  ]);
  Object.assign(state, {
    info, boot: status.boot, pool: status.pool, events: [],
    mutexes: new Map(mutexes.map((m) => [m.name, m])),
    works: new Map(unfinished.map((w) => [w.id, w])),
  });
  render();
  return Math.max(0, status.events.lastSeq - Math.min(REPLAY_EVENTS, info.events.bufferSize - 1));
}

async function connect(signal) {
  const after = await loadSnapshot();
  const response = await api(`v1/events?after=${after}`, { signal, headers: { accept: 'text/event-stream' } });
  if (!response.ok) throw new Error(`the event stream answered HTTP ${response.status}`);
  setConnection('live', 'Live');
  let eventsSeen = 0;
  let reload = false;
  // A connection that died silently (no FIN) sends nothing, not even heartbeats.
  let lastBytesAt = Date.now();
  const silenceMs = 3 * state.info.events.heartbeatMs + 5000;
  const watchdog = setInterval(() => {
    if (Date.now() - lastBytesAt > silenceMs) controller.abort(new Error(`nothing received for ${Math.round(silenceMs / 1000)} s`));
  }, 1000);
  await readEventStream(response, (frame) => {
    if (frame.type === 'reset') {
      // At the start of a stream of this same process, the replay simply begins later
      // than asked; anything else (a new process, a reset mid-stream) needs a snapshot.
      if (eventsSeen === 0 && frame.data.boot === state.boot) return;
      reload = true;
    } else if (frame.type === 'overflow') {
      reload = true;
    } else {
      eventsSeen++;
      applyEvent(frame.data);
      return;
    }
    controller.abort(new ReloadRequested());
  }, signal, () => { lastBytesAt = Date.now(); })
    .catch((err) => { if (!signal.aborted) throw err; }) // an abort is reported below, by its reason
    .finally(() => clearInterval(watchdog));
  if (reload) throw new ReloadRequested();
  if (signal.aborted) throw signal.reason;
}

let controller = new AbortController();

async function run() {
  let retryMs = 1000;
  let refused = false;
  for (;;) {
    controller = new AbortController();
    try {
      if (state.boot === null) setConnection('connecting', 'Connecting…');
      await connect(controller.signal);
      setConnection('disconnected', 'Disconnected: the service ended the stream; reconnecting…');
      retryMs = 1000;
    } catch (err) {
      if (err instanceof Unauthorized) { await askForToken(refused); refused = true; continue; }
      if (err instanceof ReloadRequested) { setConnection('connecting', 'Reloading…'); continue; }
      setConnection('disconnected', `Disconnected (${err.message || 'network error'}); retrying in ${Math.round(retryMs / 1000)} s`);
    }
    refused = false;
    await new Promise((resolve) => setTimeout(resolve, retryMs));
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  }
}

// ---- applying events -----------------------------------------------------------------

const dirtyMutexes = new Set();
const settlingMutexes = new Set();
let refreshTimer = null;
let settleTimer = null;
let refreshing = Promise.resolve();
let renderTimer = null;

function applyEvent(event) {
  state.events.unshift(event);
  if (state.events.length > EVENT_TAIL) state.events.length = EVENT_TAIL;
  if (event.work) {
    state.works.set(event.work.id, event.work);
    // A semaphore work, or one that only sets an event, has no mutex to refresh.
    if (event.work.mutex !== null) {
      dirtyMutexes.add(event.work.mutex);
      settlingMutexes.add(event.work.mutex);
    }
    scheduleRefresh();
  }
  if (event.mutex) {
    if (event.type === 'mutex.closed') state.mutexes.delete(event.mutex.name);
    else state.mutexes.set(event.mutex.name, event.mutex);
  }
  pruneWorks();
  scheduleRender();
}

/**
 * A work event changes its mutex's holder, counts and token, and the pool: fetch those,
 * coalesced, one refresh at a time (so an older answer never lands last). The service
 * may count a step a moment after announcing it, so the same mutexes are fetched once
 * more when the events have been quiet for a while.
 */
function scheduleRefresh() {
  if (refreshTimer === null) refreshTimer = setTimeout(() => { refreshTimer = null; queueRefresh(dirtyMutexes); }, 50);
  clearTimeout(settleTimer);
  settleTimer = setTimeout(() => queueRefresh(settlingMutexes), 500);
}

function queueRefresh(pending) {
  const names = [...pending];
  pending.clear();
  refreshing = refreshing.then(() => refresh(names));
}

async function refresh(names) {
  try {
    const [pool, ...mutexes] = await Promise.all([
      getJson('v1/pool'),
      ...(names.length > 20 ? [] : names.map(async (name) => {
        const response = await api(mutexPath(name));
        return response.status === 404 ? { name, gone: true } : response.json();
      })),
    ]);
    if (names.length > 20) state.mutexes = new Map((await listAll('v1/mutexes?limit=1000')).map((m) => [m.name, m]));
    for (const m of mutexes) {
      if (m.gone) state.mutexes.delete(m.name);
      else state.mutexes.set(m.name, m);
    }
    state.pool = pool;
    scheduleRender();
  } catch {
    // The stream's own error handling reports the disconnect; the next snapshot catches up.
  }
}

function pruneWorks() {
  const finished = [...state.works.values()].filter((w) => TERMINAL.has(w.state));
  if (finished.length <= RECENT_WORKS) return;
  finished.sort(newestFirst);
  for (const w of finished.slice(RECENT_WORKS)) state.works.delete(w.id);
}

const newestFirst = (a, b) => (b.queuedAt ?? '').localeCompare(a.queuedAt ?? '') || b.id.localeCompare(a.id);

function scheduleRender() {
  if (renderTimer === null) renderTimer = setTimeout(() => { renderTimer = null; render(); }, 30);
}

// ---- rendering -----------------------------------------------------------------------

function render() {
  renderService();
  renderMutexes();
  renderPool();
  renderWorks();
  renderTimeline();
  renderEvents();
}

function renderService() {
  if (state.info === null) return;
  const { version, engine } = state.info;
  $('#service').textContent = `v${version} · ${engine.kind} engine · process ${state.boot}`;
}

const heldSeconds = (sinceIso) => Math.max(0, (Date.now() + state.serverClockOffsetMs - Date.parse(sinceIso)) / 1000);

function formatDuration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function renderMutexes() {
  const rows = [...state.mutexes.values()].sort((a, b) => a.name.localeCompare(b.name)).map((m) => h('tr', { 'data-mutex': m.name },
    h('td', { class: 'name' }, m.name),
    h('td', { class: `state-${m.state}`, 'data-field': 'state' }, m.state),
    h('td', { 'data-field': 'holder' }, m.holder ? workButton(m.holder.workId) : '—'),
    h('td', {}, m.holder ? String(m.holder.threadId) : '—'),
    h('td', m.holder ? { class: 'held-for', 'data-since': m.holder.since } : {}, m.holder ? formatDuration(heldSeconds(m.holder.since)) : '—'),
    h('td', { 'data-field': 'waiting' }, String(m.waiting)),
    h('td', { 'data-field': 'queued' }, String(m.queued)),
    h('td', {}, String(m.fencingToken)),
    h('td', {}, String(m.counters.abandonedAcquisitions)),
  ));
  $('#mutexes tbody').replaceChildren(...rows);
  $('#mutex-count').textContent = `(${rows.length})`;
  $('#mutexes-empty').hidden = rows.length > 0;
}

function tickHoldTimes() {
  for (const cell of document.querySelectorAll('.held-for')) cell.textContent = formatDuration(heldSeconds(cell.dataset.since));
}

function renderPool() {
  const pool = state.pool;
  if (pool === null) return;
  const figures = [['Threads', pool.threads], ['Active', pool.active], ['Queued', pool.queued], ['Min threads', pool.minThreads],
    ['Max threads', pool.maxThreads], ['Submitted', pool.submitted], ['Completed', pool.completed]];
  $('#pool').replaceChildren(...figures.flatMap(([name, value]) => [h('dt', {}, name), h('dd', { 'data-field': name.toLowerCase() }, String(value))]));
}

/** What a work acquires (a mutex or a semaphore), else the event object it sets on return. */
function objectOf(work) {
  return work.resource?.name ?? work.setEventOnReturn ?? work.mutex ?? '';
}

function workButton(id) {
  return h('button', { type: 'button', class: 'link', onclick: () => selectWork(id), 'aria-label': `Timeline of work ${id}` }, id);
}

function renderWorks() {
  const stateFilter = $('#filter-state').value;
  const mutexFilter = $('#filter-mutex').value.trim().toLowerCase();
  const labelFilter = $('#filter-label').value.trim().toLowerCase();
  const works = [...state.works.values()]
    .filter((w) => (!stateFilter || w.state === stateFilter)
      && (!mutexFilter || objectOf(w).toLowerCase().includes(mutexFilter))
      && (!labelFilter || (w.label ?? '').toLowerCase().includes(labelFilter)))
    .sort(newestFirst);
  $('#works tbody').replaceChildren(...works.map((w) => h('tr', { 'data-work': w.id, 'aria-current': String(w.id === state.selectedWork) },
    h('td', {}, workButton(w.id)),
    h('td', { class: 'name' }, objectOf(w)),
    h('td', { class: `state-${w.state}` }, w.state),
    h('td', { class: 'name' }, w.label ?? ''),
    h('td', {}, w.threadId === null ? '—' : String(w.threadId)),
    h('td', {}, w.fencingToken === null ? '—' : String(w.fencingToken)),
    h('td', {}, w.queuedAt ? new Date(w.queuedAt).toLocaleTimeString() : '—'),
  )));
}

async function selectWork(id) {
  state.selectedWork = id;
  try {
    const response = await api(`v1/work/${encodeURIComponent(id)}`);
    if (response.ok) state.works.set(id, await response.json());
  } catch {
    // Shown from what the page already has.
  }
  render();
  $('#timeline').scrollIntoView({ block: 'nearest' });
}

const STEPS = [['queued', 'Queued'], ['started', 'Started on a pool thread'], ['acquired', 'Acquired'], ['returned', 'Callback returned'], ['released', 'Released'], ['ended', 'Ended']];

function renderTimeline() {
  const work = state.selectedWork === null ? undefined : state.works.get(state.selectedWork);
  $('#timeline').hidden = work === undefined;
  if (work === undefined) return;
  $('#timeline-title').textContent = `Timeline of ${work.id} (${objectOf(work)})`;
  const queuedNs = work.queuedAtNs === null ? null : BigInt(work.queuedAtNs);
  $('#timeline tbody').replaceChildren(...STEPS.filter(([key]) => work[`${key}At`] !== null).map(([key, title]) => {
    const ns = work[`${key}AtNs`];
    const after = ns === null || queuedNs === null ? '—' : `${(Number(BigInt(ns) - queuedNs) / 1e6).toFixed(3)} ms`;
    return h('tr', {}, h('td', {}, title), h('td', {}, new Date(work[`${key}At`]).toISOString()), h('td', {}, after));
  }));
  const notes = [`state ${work.state}`, work.fencingToken === null ? null : `fencing token ${work.fencingToken}`,
    work.abandoned ? 'acquired abandoned' : null, work.signaled ? 'ended by signal or cancel' : null,
    work.error ? `error: ${work.error.detail}` : null, work.invariantViolation ? `invariant violation: ${work.invariantViolation.detail}` : null];
  $('#timeline-detail').textContent = notes.filter(Boolean).join(' · ');
}

function renderEvents() {
  $('#events tbody').replaceChildren(...state.events.map((e) => h('tr', {},
    h('td', {}, String(e.seq)),
    h('td', {}, new Date(e.at).toLocaleTimeString()),
    h('td', {}, e.type),
    h('td', { class: 'name' }, e.work ? objectOf(e.work) : e.mutex?.name ?? e.semaphore?.name ?? e.eventObject?.name ?? ''),
    h('td', {}, e.work ? e.work.id : ''),
  )));
}

$('#work-filter').addEventListener('input', renderWorks);
$('#work-filter').addEventListener('submit', (event) => event.preventDefault());
setInterval(tickHoldTimes, 1000);
void run();
