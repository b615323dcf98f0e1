// Sluice dashboard: the views of what is defined (sources, schedules, workflows and their runs).
// Loaded before app.js, which wires and calls these; they use its helpers (el, fill, api, state …)
// when called. The same rule holds here: data from the server goes into the page as text only.
'use strict';

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
