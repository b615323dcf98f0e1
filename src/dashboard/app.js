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
