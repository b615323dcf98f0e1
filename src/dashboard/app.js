// Sluice dashboard. No build step, no framework: plain DOM and uPlot.
// Rule: data from the server is only ever put in the page with textContent (via el()), never as
// HTML — a stored webhook may hold anything. The page's CSP forbids inline script besides.
'use strict';

const KEY_STORAGE = 'sluice.key';
const HISTORY_POINTS = 300;
const CHART_SERIES = 6;
const MULTIPLES = 4;
const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#db2777', '#7c3aed', '#0891b2', '#dc2626'];
/** Sources change rarely and their counts are this node's: read them again at most this often. */
const SOURCES_EVERY_MS = 5000;
/** Schedules (their runs, their state) are read again at most this often. */
const SCHEDULES_EVERY_MS = 5000;
/** Workflows are read again at most this often; runs on the live stream's word. */
const WORKFLOWS_EVERY_MS = 5000;
const RUNS_PER_PAGE = 20;
/** A burst of run events (a run's steps) reloads an open run or list once, this long after the first. */
const RUN_RELOAD_MS = 1000;
/** Variables of a run (a source's whole request, say) are shown up to this many characters. */
const RUN_VARS_TEXT_MAX = 2000;
const WEEKDAY_ORDER = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const CONDITION_TEXT_MAX = 160;

const state = { key: null, abort: null, history: [], events: [], last: null, charts: {}, deadIds: [], pending: null, sourcesAt: 0, schedulesAt: 0, workflowsAt: 0, workflow: null, runId: null, reloads: {} };

// ── DOM helpers ──────────────────────────────────────────────

const $ = (id) => document.getElementById(id);

/** Create an element; strings become text nodes, never markup. */
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = String(value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren(...(rows.length ? rows : [el('tr', { class: 'empty' }, el('td', { colspan: columns, text: empty }))]));
}

const fmt = new Intl.NumberFormat();
const num = (n) => (n === null || n === undefined ? '—' : fmt.format(n));
const ms = (n) => (n === null || n === undefined ? '—' : n < 1000 ? `${Math.round(n)} ms` : n < 60000 ? `${(n / 1000).toFixed(1)} s` : `${(n / 60000).toFixed(1)} min`);
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '—');
const rate = (n) => (n === null || n === undefined ? '—' : n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10));
function ago(iso) {
  if (!iso) return '—';
  return `${ms(Math.max(0, Date.now() - new Date(iso).getTime()))} ago`;
}
function until(iso) {
  if (!iso) return '—';
  return `in ${ms(Math.max(0, new Date(iso).getTime() - Date.now()))}`;
}

// ── API ──────────────────────────────────────────────────────

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (res.status === 401) signOut('That key was refused.');
  if (!res.ok) throw new Error((data && (data.detail || data.title)) || `HTTP ${res.status}`);
  return data;
}

// ── connect, stream ──────────────────────────────────────────

function setConn(kind, text) {
  const pill = $('conn');
  pill.className = `pill pill-${kind}`;
  pill.textContent = text;
}

async function connect(key) {
  state.key = key;
  $('login-error').textContent = '';
  try {
    const first = await api('GET', '/v1/stats');
    sessionStorage.setItem(KEY_STORAGE, key);
    $('login').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
    state.events = (first.recentEvents || []).slice();
    onSnapshot(first);
    renderEvents();
    runStream();
  } catch (error) {
    state.key = null;
    $('login-error').textContent = `Could not connect: ${error.message}`;
  }
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  if (state.abort) state.abort.abort();
  state.key = null;
  state.history = [];
  state.sourcesAt = 0;
  state.schedulesAt = 0;
  closeWorkflow();
  $('app').hidden = true;
  $('login').hidden = false;
  $('signout').hidden = true;
  $('scope').hidden = true;
  $('key-input').value = '';
  $('login-error').textContent = message || '';
  setConn('idle', 'not connected');
}

/** EventSource cannot send an Authorization header, so the stream is read with fetch(). */
async function runStream() {
  const controller = new AbortController();
  state.abort = controller;
  while (!controller.signal.aborted && state.key) {
    try {
      const res = await fetch('/v1/stats/stream', { headers: { authorization: `Bearer ${state.key}` }, signal: controller.signal });
      if (res.status === 401) return signOut('That key was refused.');
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setConn('live', 'live');
      await readFrames(res.body, controller.signal);
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    setConn('warn', 'reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function readFrames(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      onFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

function onFrame(frame) {
  let type = 'message';
  const data = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return;
  const payload = JSON.parse(data.join('\n'));
  if (type === 'snapshot') return onSnapshot(payload);
  if (type.startsWith('run-')) return onRunEvent(payload);
  state.events.unshift(payload);
  state.events.length = Math.min(state.events.length, 200);
  renderEvents();
}

// ── snapshots ────────────────────────────────────────────────

function onSnapshot(snapshot) {
  const previous = state.history[state.history.length - 1];
  const t = new Date(snapshot.at).getTime() / 1000;
  let perSecond = null;
  if (previous && t > previous.t) {
    const done = (s) => s.totals.delivered + s.totals.failed;
    perSecond = Math.max(0, (done(snapshot) - done(previous.snapshot)) / (t - previous.t));
  }
  if (previous && t <= previous.t) state.history.pop();
  state.history.push({ t, snapshot, perSecond });
  if (state.history.length > HISTORY_POINTS) state.history.shift();
  state.last = snapshot;
  const scope = $('scope');
  scope.hidden = false;
  scope.textContent = snapshot.scope === 'admin' ? 'admin' : `tenant ${snapshot.tenants[0] ? snapshot.tenants[0].tenant : ''}`;
  renderTiles(snapshot, perSecond);
  renderDomains(snapshot);
  renderQueues(snapshot);
  renderTenants(snapshot);
  renderDeadQueues(snapshot);
  renderCharts();
  if (Date.now() - state.sourcesAt >= SOURCES_EVERY_MS) loadSources();
  if (Date.now() - state.schedulesAt >= SCHEDULES_EVERY_MS) loadSchedules();
  if (Date.now() - state.workflowsAt >= WORKFLOWS_EVERY_MS) loadWorkflows();
}

function renderTiles(s, perSecond) {
  const tile = (label, value, kind) => el('div', { class: `tile ${kind || ''}` }, el('div', { class: 'tile-value', text: value }), el('div', { class: 'tile-label', text: label }));
  $('tiles').replaceChildren(
    tile('deliveries / s', perSecond === null ? '—' : perSecond.toFixed(1), 'accent'),
    tile('in flight', num(s.totals.inFlight)),
    tile('ready', num(s.totals.ready)),
    tile('received', num(s.totals.received)),
    tile('delivered', num(s.totals.delivered), 'good'),
    tile('failed attempts', num(s.totals.failed), s.totals.failed ? 'warn' : ''),
    tile('retried', num(s.totals.retried)),
    tile('dead', num(s.totals.dead), s.totals.dead ? 'bad' : ''),
    ...(s.cluster ? [clusterTile(s.cluster, tile)] : []),
    ...(s.cluster && s.cluster.inFlight !== undefined ? [tile('in flight, whole cluster', num(s.cluster.inFlight))] : []),
  );
}

/** On a cluster: how many nodes are alive, and which one answers. */
function clusterTile(cluster, tile) {
  const alive = cluster.nodes.filter((node) => node.alive).length;
  const dead = cluster.nodes.length - alive;
  return tile(`nodes alive (this: ${cluster.node}${cluster.leader ? ', leader' : ''})`, dead > 0 ? `${alive} / ${cluster.nodes.length}` : num(alive), dead > 0 ? 'warn' : '');
}

const STATUS_LABEL = { ok: 'ok', throttled: 'throttled', paused: 'paused', 'circuit-open': 'circuit open', 'half-open': 'half-open' };

function renderDomains(s) {
  const rows = s.domains.map((d) => {
    const rateText = `${rate(d.observedRatePerSecond)} / ${d.limit.ratePerSecond === null ? '—' : d.limit.ratePerSecond}`;
    const lat = d.latencyMs ? `${ms(d.latencyMs.p50)} / ${ms(d.latencyMs.p95)} / ${ms(d.latencyMs.p99)}` : '—';
    // With limits shared in Redis, the cluster's figures: in flight on every node, AIMD, pause and circuit as Redis holds them.
    const c = d.cluster;
    const effectiveNow = c ? c.effectiveConcurrency : d.effectiveConcurrency;
    const effective = el('span', { class: effectiveNow < d.limit.concurrency ? 'reduced' : '' }, `${effectiveNow} / ${d.limit.concurrency}`);
    const inFlight = c ? `${num(d.inFlight)} (cluster ${num(c.inFlight)})` : num(d.inFlight);
    const pausedUntil = c ? c.pausedUntil : d.pausedUntil;
    return el('tr', { 'data-domain': d.domain, class: d.status === 'ok' ? '' : 'row-alert' },
      el('td', { class: 'mono', text: d.domain }),
      el('td', {}, el('span', { class: `badge badge-${d.status}`, text: STATUS_LABEL[d.status] || d.status })),
      el('td', { class: 'num', text: inFlight }),
      el('td', { class: 'num' }, effective),
      el('td', { class: 'num', text: rateText }),
      el('td', { class: 'num', text: d.ready === null ? num(d.buffered) : `${num(d.ready + d.buffered)} / ${num(d.scheduled)}` }),
      el('td', { class: 'num', text: num(d.delivered) }),
      el('td', { class: 'num', text: num(d.failed) }),
      el('td', { class: 'num', text: lat }),
      el('td', { text: d.throttledSince ? ago(d.throttledSince) : '—' }),
      el('td', { text: pausedUntil ? until(pausedUntil) : '—' }),
      el('td', { text: c ? c.circuit : d.circuit }));
  });
  fill($('domains-table').tBodies[0], rows, 'No push traffic yet.', 12);
  $('domains-note').textContent = s.domainsOmitted ? `${s.domainsOmitted} quieter domains not shown` : `${s.domains.length} domain${s.domains.length === 1 ? '' : 's'}`;
}

function renderQueues(s) {
  const rows = s.queues.map((q) => {
    const d = q.depth || {};
    return el('tr', {},
      el('td', { class: 'mono' }, q.name, q.paused ? el('span', { class: 'badge badge-paused', text: 'paused' }) : null),
      el('td', { text: q.mode }),
      el('td', { text: q.tenant }),
      el('td', { class: 'num', text: num(d.scheduled) }),
      el('td', { class: 'num', text: num(d.ready) }),
      el('td', { class: 'num', text: num((d.inflight || 0) + (d.leased || 0)) }),
      el('td', { class: `num ${d.dead ? 'bad' : ''}`, text: num(d.dead) }),
      el('td', { class: 'num', text: ms(q.oldestReadyAgeMs) }),
      el('td', { class: 'num', text: num(q.received) }));
  });
  fill($('queues-table').tBodies[0], rows, 'No queues.', 9);
}

function renderTenants(s) {
  const rows = s.tenants.map((t) => el('tr', {},
    el('td', { class: 'mono', text: t.tenant }),
    el('td', { class: 'num', text: num(t.inFlight) }),
    el('td', { class: 'num', text: t.concurrency === null ? '—' : num(t.concurrency) }),
    el('td', { class: 'num', text: num(t.queues) }),
    el('td', { class: 'num', text: num(t.ready) }),
    el('td', { class: 'num', text: num(t.dead) })));
  fill($('tenants-table').tBodies[0], rows, 'No tenants.', 6);
}

// ── sources ──────────────────────────────────────────────────

async function loadSources() {
  state.sourcesAt = Date.now();
  try {
    const { sources } = await api('GET', '/v1/sources');
    renderSources(sources);
  } catch (error) {
    $('sources-note').textContent = `Could not read sources: ${error.message}`;
  }
}

/** One row per route (a source with one queue: one row), then its fallback and unrouted requests. */
function renderSources(sources) {
  const rows = [];
  for (const source of sources) {
    const lines = sourceLines(source);
    lines.forEach((line, i) => {
      const head = i === 0 ? [
        el('td', { class: 'mono', rowspan: lines.length }, source.name, source.fromFile ? el('span', { class: 'badge badge-file', text: 'sluice.yaml' }) : null),
        el('td', { rowspan: lines.length, text: source.tenant }),
      ] : [];
      rows.push(el('tr', { 'data-source': source.name, 'data-route': line.route, class: line.kind === 'unrouted' && line.count > 0 ? 'row-alert' : '' },
        ...head,
        el('td', { class: line.kind === 'route' ? 'mono' : 'muted', text: line.label }),
        el('td', { class: 'mono', text: line.queue }),
        el('td', { class: 'mono clip', title: line.when, text: line.when }),
        el('td', { class: 'num', text: line.count === null ? '—' : num(line.count) })));
    });
  }
  fill($('sources-table').tBodies[0], rows, 'No sources.', 6);
  $('sources-note').textContent = `${sources.length} source${sources.length === 1 ? '' : 's'} · counts are this node's, since it started`;
}

function sourceLines(source) {
  const config = source.config;
  if (!config.routes) return [{ kind: 'queue', route: '', label: '—', queue: config.queue, when: 'every request', count: null }];
  const lines = config.routes.map((route, index) => {
    const label = route.name === undefined ? String(index) : route.name;
    return { kind: 'route', route: label, label, queue: route.queue || `workflow ${route.workflow}`, when: route.when ? conditionText(route.when) : 'every request', count: source.counts.routes[label] || 0 };
  });
  if (config.first) lines[0].label = `${lines[0].label} (first match only)`;
  if (config.fallback) lines.push({ kind: 'fallback', route: '(fallback)', label: 'fallback', queue: config.fallback, when: 'no route matched', count: source.counts.fallback });
  else lines.push({ kind: 'unrouted', route: '(unrouted)', label: 'unrouted', queue: '—', when: 'no route matched: answered, not stored', count: source.counts.unrouted });
  return lines;
}

/** A condition in one line of text: `body.type prefix "invoice."`, `(a and b)`, `not (c)`. */
function conditionText(condition) {
  const text = conditionPart(condition);
  return text.length > CONDITION_TEXT_MAX ? `${text.slice(0, CONDITION_TEXT_MAX - 1)}…` : text;
}

function conditionPart(c) {
  if (c.all) return `(${c.all.map(conditionPart).join(' and ')})`;
  if (c.any) return `(${c.any.map(conditionPart).join(' or ')})`;
  if (c.not) return `not ${conditionPart(c.not)}`;
  return c.op === 'exists' ? `${c.path} exists` : `${c.path} ${c.op} ${JSON.stringify(c.value)}`;
}

// ── schedules ────────────────────────────────────────────────

async function loadSchedules() {
  state.schedulesAt = Date.now();
  try {
    const { schedules } = await api('GET', '/v1/schedules');
    renderSchedules(schedules);
  } catch (error) {
    $('schedules-note').textContent = `Could not read schedules: ${error.message}`;
  }
}

function renderSchedules(schedules) {
  const rows = schedules.map((s) => el('tr', { 'data-schedule': s.name },
    el('td', { class: 'mono', text: s.name }),
    el('td', { text: s.tenant }),
    el('td', { class: 'mono', text: timingText(s) }),
    el('td', { text: s.timezone }),
    el('td', { class: 'clip', title: exclusionText(s.exclude), text: exclusionText(s.exclude) }),
    el('td', { text: endText(s) }),
    el('td', { class: 'num', text: s.maxRuns === undefined ? num(s.runs) : `${num(s.runs)} / ${num(s.maxRuns)}` }),
    el('td', { text: s.lastRunAt ? `${span(Date.now() - Date.parse(s.lastRunAt))} ago` : '—' }),
    el('td', { title: s.nextRunAt || '', text: s.nextRunAt ? `in ${span(Date.parse(s.nextRunAt) - Date.now())}` : '—' }),
    el('td', {}, el('span', { class: `badge badge-${s.state}`, text: s.state }))));
  fill($('schedules-table').tBodies[0], rows, 'No schedules.', 10);
  const completed = schedules.filter((s) => s.state === 'completed').length;
  $('schedules-note').textContent = `${schedules.length} schedule${schedules.length === 1 ? '' : 's'}${completed ? `, ${completed} completed` : ''}`;
}

/** A span of time in the unit that reads best: schedules run minutes to days apart. */
function span(msv) {
  const value = Math.max(0, msv);
  if (value < 3_600_000) return ms(value);
  return value < 86_400_000 ? `${(value / 3_600_000).toFixed(1)} h` : `${(value / 86_400_000).toFixed(1)} d`;
}

/** `cron 0 9 * * 1-5`, `every 5m`, `sunset +30 min at 52.52, 13.40`. */
function timingText(s) {
  if (s.cron !== undefined) return `cron ${s.cron}`;
  if (s.every !== undefined) return `every ${s.every}`;
  const { event, latitude, longitude, offsetMinutes } = s.solar;
  const offset = offsetMinutes ? ` ${offsetMinutes > 0 ? '+' : '−'}${Math.abs(offsetMinutes)} min` : '';
  return `${event}${offset} at ${latitude}, ${longitude}`;
}

/** `sat, sun · 2026-12-25 · 12:00–13:30`, or — without exclusions. */
function exclusionText(exclude) {
  if (!exclude) return '—';
  const parts = [];
  if (exclude.weekdays && exclude.weekdays.length) parts.push(WEEKDAY_ORDER.filter((day) => exclude.weekdays.includes(day)).join(', '));
  if (exclude.dates && exclude.dates.length) parts.push(exclude.dates.join(', '));
  if (exclude.times && exclude.times.length) parts.push(exclude.times.map((w) => `${w.from}–${w.to}`).join(', '));
  return parts.length ? parts.join(' · ') : '—';
}

function endText(s) {
  const parts = [];
  if (s.startAt) parts.push(`from ${s.startAt}`);
  if (s.endAt) parts.push(`until ${s.endAt}`);
  if (s.maxRuns !== undefined) parts.push(`${num(s.maxRuns)} runs`);
  return parts.length ? parts.join(' · ') : '—';
}

// ── workflows ────────────────────────────────────────────────

async function loadWorkflows() {
  state.workflowsAt = Date.now();
  try {
    const { workflows } = await api('GET', '/v1/workflows');
    renderWorkflows(workflows);
  } catch (error) {
    $('workflows-note').textContent = `Could not read workflows: ${error.message}`;
  }
}

function renderWorkflows(workflows) {
  const open = state.workflow;
  const rows = workflows.map((w) => el('tr', { 'data-workflow': w.name, 'data-tenant': w.tenant, class: open && open.name === w.name && open.tenant === w.tenant ? 'row-open' : '' },
    el('td', {}, el('button', { type: 'button', class: 'link mono', text: w.name, onclick: () => openWorkflow(w.tenant, w.name) }), w.fromFile ? el('span', { class: 'badge badge-file', text: 'sluice.yaml' }) : null),
    el('td', { text: w.tenant }),
    el('td', { class: 'num', text: num((w.config.steps || []).length) }),
    el('td', { class: w.config.queue ? 'mono' : 'muted', text: w.config.queue || 'the tenant\'s outbound' }),
    el('td', { title: w.updatedAt, text: ago(w.updatedAt) })));
  fill($('workflows-table').tBodies[0], rows, 'No workflows.', 5);
  $('workflows-note').textContent = `${workflows.length} workflow${workflows.length === 1 ? '' : 's'} · pick one for its runs`;
}

/** Show a workflow's runs, newest first, from the first page. */
function openWorkflow(tenant, name) {
  state.workflow = { tenant, name, cursors: [undefined], next: undefined };
  $('runs-state').value = '';
  $('runs-title').textContent = tenant === 'default' ? `Runs of ${name}` : `Runs of ${name} (tenant ${tenant})`;
  $('runs').hidden = false;
  for (const row of $('workflows-table').tBodies[0].rows) row.classList.toggle('row-open', row.dataset.workflow === name && row.dataset.tenant === tenant);
  loadRuns();
}

function closeWorkflow() {
  state.workflow = null;
  state.runId = null;
  for (const timer of Object.values(state.reloads)) clearTimeout(timer);
  state.reloads = {};
  state.workflowsAt = 0;
  $('runs').hidden = true;
  $('run-detail').hidden = true;
}

/** The open page of runs: `cursors` holds the cursor of each page so far, the last is this one's. */
async function loadRuns() {
  const open = state.workflow;
  if (!open) return;
  const query = new URLSearchParams({ limit: String(RUNS_PER_PAGE) });
  if (open.tenant !== 'default') query.set('tenant', open.tenant);
  if ($('runs-state').value) query.set('state', $('runs-state').value);
  const cursor = open.cursors[open.cursors.length - 1];
  if (cursor) query.set('cursor', cursor);
  try {
    const page = await api('GET', `/v1/workflows/${encodeURIComponent(open.name)}/runs?${query}`);
    if (state.workflow !== open) return;
    open.next = page.nextCursor;
    renderRuns(page.runs);
    $('runs-error').textContent = '';
  } catch (error) {
    $('runs-error').textContent = `Could not read runs: ${error.message}`;
  }
}

function renderRuns(runs) {
  const open = state.workflow;
  const rows = runs.map((r) => el('tr', { 'data-run': r.id, class: r.id === state.runId ? 'row-open' : '' },
    el('td', {}, el('button', { type: 'button', class: 'link mono', text: r.id, onclick: () => openRun(r.id) })),
    el('td', {}, el('span', { class: `badge badge-${r.state}`, text: r.state })),
    el('td', { title: r.createdAt, text: stamp(r.createdAt) }),
    el('td', { title: r.updatedAt, text: stamp(r.updatedAt) }),
    el('td', { class: 'clip', title: r.error || '', text: r.error || '—' })));
  fill($('runs-table').tBodies[0], rows, $('runs-state').value ? `No ${$('runs-state').value} runs.` : 'No runs yet.', 5);
  $('runs-page').textContent = `page ${open.cursors.length}`;
  $('runs-newer').disabled = open.cursors.length === 1;
  $('runs-older').disabled = !open.next;
}

function pageRuns(older) {
  const open = state.workflow;
  if (!open) return;
  if (older && open.next) open.cursors.push(open.next);
  else if (!older && open.cursors.length > 1) open.cursors.pop();
  else return;
  loadRuns();
}

function filterRuns() {
  if (!state.workflow) return;
  state.workflow.cursors = [undefined];
  loadRuns();
}

async function openRun(id) {
  state.runId = id;
  $('run-cancel-confirm').hidden = true;
  $('run-error').textContent = '';
  for (const row of $('runs-table').tBodies[0].rows) row.classList.toggle('row-open', row.dataset.run === id);
  await loadRun();
}

async function loadRun() {
  const id = state.runId;
  if (!id) return;
  try {
    const run = await api('GET', `/v1/workflows/runs/${encodeURIComponent(id)}`);
    if (state.runId === id) showRun(run);
  } catch (error) {
    $('run-error').textContent = `Could not read run ${id}: ${error.message}`;
  }
}

/** A run with its steps in order; every value the run holds (answers above all) goes in as text. */
function showRun(run) {
  $('run-title').textContent = `Run ${run.id} of ${run.workflow}`;
  const vars = JSON.stringify(run.vars === undefined ? null : run.vars);
  const meta = [
    ['state', el('span', { class: `badge badge-${run.state}`, text: run.state })],
    ['tenant', run.tenant], ['started', run.createdAt], ['updated', run.updatedAt], ['error', run.error || '—'],
    ['vars', vars.length > RUN_VARS_TEXT_MAX ? `${vars.slice(0, RUN_VARS_TEXT_MAX - 1)}…` : vars],
  ];
  $('run-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { class: 'mono' }, v)]));
  const steps = run.steps.slice().sort((a, b) => a.seq - b.seq);
  fill($('run-steps').tBodies[0], steps.map(stepRow), 'No steps yet.', 8);
  $('run-responses').replaceChildren(...steps.filter((step) => step.response).map(stepResponse));
  $('run-cancel').hidden = run.state !== 'running';
  if (run.state !== 'running') $('run-cancel-confirm').hidden = true;
  $('run-detail').hidden = false;
}

function stepRow(step) {
  const status = step.response ? step.response.status : undefined;
  return el('tr', { 'data-seq': step.seq, 'data-step': step.name },
    el('td', { text: step.seq }),
    el('td', { class: 'mono', text: step.name }),
    el('td', {}, el('span', { class: `badge badge-${step.state}`, text: step.state })),
    el('td', { class: 'num', text: num(step.attempts) }),
    el('td', {}, step.messageId ? el('button', { type: 'button', class: 'link mono', text: step.messageId, onclick: () => inspectStep(step.messageId) }) : '—'),
    el('td', { class: 'clip', title: step.error || '', text: step.error || '—' }),
    el('td', { class: `num ${status >= 200 && status < 300 ? 'good' : status ? 'bad' : ''}`, text: status === undefined ? '—' : status }),
    el('td', { title: step.updatedAt, text: clock(step.updatedAt) }));
}

/** What a step's target answered: status, headers and the stored body, as text. */
function stepResponse(step) {
  const r = step.response;
  const headers = Object.entries(r.headers || {}).map(([k, v]) => el('tr', {}, el('th', { class: 'mono', text: k }), el('td', { class: 'mono', text: v })));
  const tbody = el('tbody');
  fill(tbody, headers, 'No headers.', 2);
  return el('div', { class: 'step-response', 'data-seq': step.seq },
    el('h3', {}, `${step.seq} · ${step.name} answered `, el('span', { class: 'mono response-status', text: r.status === undefined ? '—' : r.status })),
    el('div', { class: 'table-wrap' }, el('table', { class: 'table compact response-headers' }, tbody)),
    el('pre', { class: 'body response-body', text: r.body === '' ? '(empty)' : r.body }));
}

function inspectStep(id) {
  inspect(id);
  $('inspect-form').scrollIntoView({ block: 'nearest' });
}

/** Cancelling is not undoable: ask first, in the page. */
function askCancelRun() {
  $('run-cancel-question').textContent = `Cancel run ${state.runId}? Its waiting step is cancelled with it; a step being sent now finishes.`;
  $('run-cancel-confirm').hidden = false;
}

async function cancelRun() {
  const id = state.runId;
  $('run-cancel-confirm').hidden = true;
  if (!id) return;
  try {
    await api('DELETE', `/v1/workflows/runs/${encodeURIComponent(id)}`);
    $('run-error').textContent = '';
  } catch (error) {
    $('run-error').textContent = `Could not cancel run ${id}: ${error.message}`;
  }
  await loadRun();
  loadRuns();
}

/** A run started, moved or ended (stream): reload what is open of it. */
function onRunEvent(e) {
  if (state.runId === e.run) reloadSoon('run', loadRun);
  const open = state.workflow;
  if (open && open.name === e.workflow && open.tenant === e.tenant) reloadSoon('runs', loadRuns);
}

function reloadSoon(what, load) {
  if (state.reloads[what]) return;
  state.reloads[what] = setTimeout(() => {
    delete state.reloads[what];
    load();
  }, RUN_RELOAD_MS);
}

function stamp(iso) {
  return iso ? new Date(iso).toLocaleString([], { hour12: false }) : '—';
}

// ── event log ────────────────────────────────────────────────

function describe(e) {
  switch (e.type) {
    case 'backpressure': return `held back by ${e.reason} limit, ${e.waiting} waiting${e.tenant ? ` (tenant ${e.tenant})` : ''}`;
    case 'throttled': return `answered ${e.status || 'timeout'}; effective concurrency ${e.effectiveConcurrency}${e.until ? `, paused until ${clock(e.until)}` : ''}`;
    case 'circuit-open': return `circuit opened after ${e.failures} failures, until ${clock(e.until)}`;
    case 'circuit-closed': return 'circuit closed';
    case 'shared-limits': return e.available ? 'Redis reachable again: shared limits apply' : `Redis unreachable: deliveries to limited domains wait (${e.error || 'no answer'})`;
    case 'dead': return `${e.id} → dead letter (${e.reason})`;
    default: return e.type;
  }
}

function renderEvents() {
  const items = state.events.slice(0, 200).map((e) => el('li', { class: `ev ev-${e.type}` },
    el('time', { text: clock(e.at) }),
    el('span', { class: `badge badge-ev-${e.type}`, text: e.type }),
    el('span', { class: 'mono ev-subject', text: e.domain || e.queue || '' }),
    el('span', { class: 'ev-detail', text: describe(e) })));
  $('event-log').replaceChildren(...(items.length ? items : [el('li', { class: 'empty', text: 'Nothing has been held back yet.' })]));
}

// ── charts ───────────────────────────────────────────────────

function chartWidth(node) {
  return Math.max(240, node.clientWidth || 240);
}

/** Create or update a uPlot chart; recreated when its series change. */
function plot(id, node, labels, data, options) {
  const signature = labels.join('\u0000');
  const existing = state.charts[id];
  if (existing && existing.signature === signature && existing.node === node) {
    existing.chart.setData(data);
    return;
  }
  if (existing) existing.chart.destroy();
  const series = [{}, ...labels.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 1.5, points: { show: false }, ...((options.series || [])[i] || {}) }))];
  const chart = new uPlot({
    width: chartWidth(node),
    height: options.height || 200,
    series,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(options.minMax || 1, max * 1.1)] } },
    axes: [{ stroke: '#64748b', grid: { stroke: '#eef2f7' } }, { stroke: '#64748b', grid: { stroke: '#eef2f7' }, size: 44 }],
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
  }, data, node);
  state.charts[id] = { chart, signature, node };
}

function topBy(items, score, n) {
  return items.slice().sort((a, b) => score(b) - score(a)).slice(0, n);
}

function renderCharts() {
  if (typeof uPlot === 'undefined' || !state.last) return;
  const xs = state.history.map((h) => h.t);
  const domains = topBy(state.last.domains, (d) => d.observedRatePerSecond + d.inFlight, CHART_SERIES - 1).map((d) => d.domain);
  const domainValue = (h, name, pick) => { const d = h.snapshot.domains.find((x) => x.domain === name); return d ? pick(d) : null; };
  plot('rate', $('chart-rate'), ['all', ...domains], [xs, state.history.map((h) => h.perSecond), ...domains.map((name) => state.history.map((h) => domainValue(h, name, (d) => d.observedRatePerSecond)))], { series: [{ width: 2.5, fill: 'rgba(37,99,235,0.08)' }] });
  const pending = (q) => (q.depth ? q.depth.scheduled + q.depth.ready + q.depth.leased + q.depth.inflight : 0);
  const queues = topBy(state.last.queues, pending, CHART_SERIES).map((q) => q.name);
  plot('depth', $('chart-depth'), queues, [xs, ...queues.map((name) => state.history.map((h) => { const q = h.snapshot.queues.find((x) => x.name === name); return q ? pending(q) : null; }))], {});
  renderMultiples(xs, domainValue);
}

function renderMultiples(xs, domainValue) {
  const host = $('inflight-charts');
  const domains = topBy(state.last.domains, (d) => d.inFlight + d.buffered + d.observedRatePerSecond, MULTIPLES);
  const names = domains.map((d) => d.domain);
  if (host.dataset.names !== names.join('\u0000')) {
    for (const id of Object.keys(state.charts)) if (id.startsWith('inflight:')) { state.charts[id].chart.destroy(); delete state.charts[id]; }
    host.replaceChildren(...names.map((name) => el('div', { class: 'multiple' }, el('div', { class: 'multiple-title mono', text: name }), el('div', { class: 'chart small' }))));
    host.dataset.names = names.join('\u0000');
    if (names.length === 0) host.replaceChildren(el('p', { class: 'muted', text: 'No domain has traffic yet.' }));
  }
  names.forEach((name, i) => {
    const node = host.children[i].querySelector('.chart');
    const series = [
      state.history.map((h) => domainValue(h, name, (d) => d.inFlight)),
      state.history.map((h) => domainValue(h, name, (d) => d.effectiveConcurrency)),
      state.history.map((h) => domainValue(h, name, (d) => d.limit.concurrency)),
    ];
    plot(`inflight:${name}`, node, ['in flight', 'effective', 'configured'], [xs, ...series], {
      height: 140,
      minMax: 2,
      series: [{ stroke: '#2563eb', fill: 'rgba(37,99,235,0.15)' }, { stroke: '#d97706', paths: uPlot.paths.stepped({ align: 1 }) }, { stroke: '#94a3b8', dash: [4, 4] }],
    });
  });
}

window.addEventListener('resize', () => {
  for (const entry of Object.values(state.charts)) entry.chart.setSize({ width: chartWidth(entry.node), height: entry.chart.height });
});

// ── message inspector ────────────────────────────────────────

async function inspect(id) {
  $('inspect-error').textContent = '';
  $('inspect-id').value = id;
  try {
    const m = await api('GET', `/v1/messages/${encodeURIComponent(id)}`);
    showMessage(m);
  } catch (error) {
    $('inspector').hidden = true;
    $('inspect-error').textContent = error.message;
  }
}

function showMessage(m) {
  const meta = [['id', m.id], ['queue', m.queue], ['tenant', m.tenant], ['state', m.state], ['request', `${m.method} ${m.url || m.path}${m.query && !m.url ? `?${m.query}` : ''}`], ['received', m.receivedAt], ['deliver at', m.deliverAt], ['attempts', m.attemptCount], ['last error', m.lastError || '—']];
  $('inspect-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { class: 'mono', text: v })]));
  const headers = Object.entries(m.headers || {}).map(([k, v]) => el('tr', {}, el('th', { class: 'mono', text: k }), el('td', { class: 'mono', text: v })));
  fill($('inspect-headers').tBodies[0], headers, 'No headers.', 2);
  const text = m.body !== undefined ? m.body : m.bodyBase64;
  $('inspect-body-kind').textContent = m.body !== undefined ? `(${m.contentType || 'text'})` : '(binary, base64)';
  $('inspect-body').textContent = text === '' ? '(empty)' : text;
  const attempts = (m.attempts || []).map((a) => el('tr', {},
    el('td', { text: a.attempt }), el('td', { text: clock(a.at) }),
    el('td', { class: `num ${a.status >= 200 && a.status < 300 ? 'good' : 'bad'}`, text: a.status === null ? '—' : a.status }),
    el('td', { class: 'num', text: ms(a.latencyMs) }), el('td', { text: a.error || '—' }),
    el('td', { class: 'mono clip', title: a.response || '', text: a.response || '—' })));
  fill($('inspect-attempts').tBodies[0], attempts, 'No attempts yet.', 6);
  $('inspector').hidden = false;
}

// ── dead letters ─────────────────────────────────────────────

function renderDeadQueues(s) {
  const select = $('dead-queue');
  const names = s.queues.map((q) => q.name);
  if (select.dataset.names === names.join('\u0000')) return;
  const current = select.value;
  select.replaceChildren(...names.map((name) => el('option', { value: name, text: name })));
  if (names.includes(current)) select.value = current;
  select.dataset.names = names.join('\u0000');
}

async function loadDead() {
  const queue = $('dead-queue').value;
  if (!queue) return;
  try {
    const page = await api('GET', `/v1/queues/${encodeURIComponent(queue)}/dead?limit=100`);
    state.deadIds = page.messages.map((m) => m.id);
    const rows = page.messages.map((m) => el('tr', {},
      el('td', {}, el('input', { type: 'checkbox', class: 'dead-pick', value: m.id, onchange: updateReplayButtons })),
      el('td', {}, el('button', { type: 'button', class: 'link mono', text: m.id, onclick: () => inspect(m.id) })),
      el('td', { class: 'mono clip', text: m.url || m.path }),
      el('td', { class: 'num', text: m.attemptCount }),
      el('td', { class: 'clip', text: m.lastError || '—' }),
      el('td', { text: clock(m.receivedAt) })));
    fill($('dead-table').tBodies[0], rows, 'No dead letters in this queue.', 6);
    $('dead-status').textContent = `${page.messages.length}${page.nextCursor ? '+' : ''} dead letter(s) in ${queue}`;
  } catch (error) {
    $('dead-status').textContent = error.message;
  }
  updateReplayButtons();
}

function selectedDead() {
  return [...document.querySelectorAll('.dead-pick:checked')].map((box) => box.value);
}

function updateReplayButtons() {
  $('replay-selected').disabled = selectedDead().length === 0;
  $('replay-all').disabled = state.deadIds.length === 0;
}

/** Replaying is not undoable: ask first, in the page (no window.confirm). */
function askReplay(ids) {
  const queue = $('dead-queue').value;
  state.pending = { queue, ids };
  $('replay-question').textContent = ids ? `Replay ${ids.length} selected message(s) from ${queue}?` : `Replay every dead letter in ${queue}?`;
  $('replay-confirm').hidden = false;
}

async function replay() {
  const pending = state.pending;
  $('replay-confirm').hidden = true;
  state.pending = null;
  if (!pending) return;
  try {
    const result = await api('POST', `/v1/queues/${encodeURIComponent(pending.queue)}/dead/replay`, pending.ids ? { ids: pending.ids } : {});
    await loadDead();
    $('dead-status').textContent = `Replayed ${result.replayed} message(s) from ${pending.queue}.`;
  } catch (error) {
    $('dead-status').textContent = `Replay failed: ${error.message}`;
  }
}

// ── wiring ───────────────────────────────────────────────────

function init() {
  $('login-form').addEventListener('submit', (event) => { event.preventDefault(); connect($('key-input').value.trim()); });
  $('signout').addEventListener('click', () => signOut());
  $('inspect-form').addEventListener('submit', (event) => { event.preventDefault(); const id = $('inspect-id').value.trim(); if (id) inspect(id); });
  $('dead-form').addEventListener('submit', (event) => { event.preventDefault(); loadDead(); });
  $('replay-selected').addEventListener('click', () => askReplay(selectedDead()));
  $('replay-all').addEventListener('click', () => askReplay(null));
  $('replay-yes').addEventListener('click', replay);
  $('replay-no').addEventListener('click', () => { $('replay-confirm').hidden = true; state.pending = null; });
  $('runs-state').addEventListener('change', filterRuns);
  $('runs-older').addEventListener('click', () => pageRuns(true));
  $('runs-newer').addEventListener('click', () => pageRuns(false));
  $('run-cancel').addEventListener('click', askCancelRun);
  $('run-cancel-yes').addEventListener('click', cancelRun);
  $('run-cancel-no').addEventListener('click', () => { $('run-cancel-confirm').hidden = true; });
  renderEvents();
  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) connect(saved);
}

init();
