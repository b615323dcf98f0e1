/**
 * Workflows: 10,000 three-step runs against one limited domain, and what a step costs the store
 * against a plain message delivered in the same run to the same sink under the same limit.
 *
 * Two fresh nodes (SQLite, `storage.durability: fsync`), one after the other, one sink process that
 * answers `{"n": <the body's seq>}` after SINK_DELAY_MS (so requests overlap and the concurrency
 * limit is met):
 * - workflows: a workflow of three steps to the sink's domain, step two sending step one's answer
 *   (`{{ steps.one.response.body.n }}`) and step three step two's. The runs are started through
 *   `POST /v1/workflows/{name}/runs` (START_IN_FLIGHT at a time) while the queue is paused, then
 *   the queue is resumed and the scenario waits until every run has ended;
 * - plain messages: as many messages as there are steps, of the same size, created through
 *   `POST /v1/messages/batch` while the queue is paused, then resumed and delivered.
 * Each node is warmed up first with a few of its own kind. Measured on each side, for the creating
 * and the delivering phase: the node's CPU time (every thread; the main thread's and the store
 * thread's apart), the bytes it wrote to storage (/proc write_bytes: WAL and checkpoints), and the
 * growth of the database's used pages. Limits are judged like the limits scenario: in flight at the
 * sink, and windows of the attempt start times Sluice records. SLUICE_BENCH_WORKFLOW_RUNS sets the
 * number of runs (default 10,000; the report uses the default).
 */
import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { SinkProcess, sleep } from '../lib/children.js';
import { processCpuSeconds, threadCpuSeconds } from '../lib/cpu.js';
import { enqueue, pushConfig, resume, withSluice } from '../lib/push.js';
import { arrivalRate, fmt } from '../lib/stats.js';
import { JITTER_MS, windowCheck } from './limits.js';

/** Runs started; SLUICE_BENCH_WORKFLOW_RUNS changes it for a quick try (the report uses 10,000). */
const RUNS = Number(process.env.SLUICE_BENCH_WORKFLOW_RUNS ?? 10_000);
const STEPS = ['one', 'two', 'three'];
const LIMIT = { concurrency: 8, ratePerSecond: 600, burst: 20 };
/** The sink answers after this long, so requests overlap; the first burst meets the limit of 8. */
const SINK_DELAY_MS = 2;
/** POST …/runs requests in flight while starting the runs. */
const START_IN_FLIGHT = 16;
const WARM_UP_RUNS = 100;
const WINDOWS_MS = [10, 100, 1_000];
const WORKFLOW = 'bench-steps';
/** The same workflow under another name for the warm-up, so the measured runs are counted alone. */
const WARM_UP_WORKFLOW = 'bench-warm-up';

/** The workflow: three steps to the sink, each after the first sending the answer of the one before. */
function workflowDefinition(sink) {
  return {
    steps: STEPS.map((name, index) => ({
      name,
      request: {
        url: sink.url(`/${name}`),
        body: index === 0 ? { seq: `{{ vars.${name} }}` } : { seq: `{{ vars.${name} }}`, n: `{{ steps.${STEPS[index - 1]}.response.body.n }}` },
      },
    })),
  };
}

/** Run `i`'s variables: the seq each of its steps sends, 3i, 3i + 1, 3i + 2 (offset by `from`). */
function runVars(i, from) {
  return Object.fromEntries(STEPS.map((name, step) => [name, from + i * STEPS.length + step]));
}

/** Start runs `0…count − 1` of `workflow` through the API, START_IN_FLIGHT at a time. */
async function startRuns(sluice, count, from, workflow = WORKFLOW) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const started = await sluice.apiOk('POST', `/v1/workflows/${workflow}/runs`, { vars: runVars(i, from) });
      if (started.state !== 'running') throw new Error(`run ${i} started ${started.state}`);
    }
  };
  await Promise.all(Array.from({ length: START_IN_FLIGHT }, worker));
}

/** Plain messages shaped like the steps' requests: seq, and an n like the one a step carries. */
function plainMessages(sink, count, from) {
  return Array.from({ length: count }, (_, k) => ({ url: sink.url('/plain'), body: { seq: from + k, n: from + k } }));
}

/** Poll until no run of `workflow` is running (the last steps' outcomes are written after the sink answers). */
async function runsEnded(sluice, timeoutMs, workflow = WORKFLOW) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await sluice.apiOk('GET', `/v1/workflows/${workflow}/runs?state=running&limit=1`);
    if (page.runs.length === 0) return;
    if (Date.now() > deadline) throw new Error(`runs still running after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Read the node's database with a read-only connection of the benchmark's own. */
function readDb(sluice, read) {
  const db = new Database(sluice.dbPath, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** Poll until `count` messages are delivered (their outcomes written), read from the database. */
async function messagesDelivered(sluice, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const delivered = readDb(sluice, (db) => db.prepare("SELECT count(*) AS n FROM messages WHERE state = 'delivered'").get().n);
    if (delivered >= count) return;
    if (Date.now() > deadline) throw new Error(`${delivered} of ${count} messages delivered after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Bytes of the database's used pages (the WAL included: a reader sees the last commit). */
function storedBytes(sluice) {
  return readDb(sluice, (db) => (db.pragma('page_count', { simple: true }) - db.pragma('freelist_count', { simple: true })) * db.pragma('page_size', { simple: true }));
}

/** Bytes the process has caused to be written to storage so far (/proc/<pid>/io write_bytes). */
function writtenBytes(pid) {
  const found = /write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return found ? Number(found[1]) : NaN;
}

/**
 * The store thread of a node: of its threads, the one that has written the most to storage (it
 * writes the WAL; the checkpointer copies pages to the database file; Node names every thread "node").
 */
function storeThreadOf(pid) {
  let found;
  let most = -1;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const written = Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/io`, 'utf8'))?.[1] ?? 0);
      if (written > most) [found, most] = [Number(tid), written];
    } catch {
      // the thread ended meanwhile
    }
  }
  return found;
}

/**
 * Run `work` and measure what the node spent on it: { result, seconds, cpu, mainCpu, storeCpu,
 * written, stored }. cpu is every thread's; mainCpu the event loop's; storeCpu the store thread's.
 */
async function measured(sluice, work) {
  const pid = sluice.pid;
  const threadsBefore = threadCpuSeconds(pid);
  const cpuBefore = processCpuSeconds(pid);
  const writtenBefore = writtenBytes(pid);
  const storedBefore = storedBytes(sluice);
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const cpu = processCpuSeconds(pid) - cpuBefore;
  const threads = [...threadCpuSeconds(pid)].map(([tid, used]) => ({ tid, used: used - (threadsBefore.get(tid) ?? 0) }));
  return {
    result,
    seconds,
    cpu,
    mainCpu: threads.find((thread) => thread.tid === pid)?.used ?? 0,
    storeCpu: threads.find((thread) => thread.tid === storeThreadOf(pid))?.used ?? 0,
    written: writtenBytes(pid) - writtenBefore,
    stored: storedBytes(sluice) - storedBefore,
  };
}

/**
 * Limits at the sink and at Sluice's sends: { maxInFlight, sendChecks, sinkSecond, violations }.
 * `sent`: attempt start times (ms) of the delivering phase, sorted.
 */
function limitChecks(stats, sent) {
  const sendChecks = WINDOWS_MS.map((w) => windowCheck(Float64Array.from(sent), w, LIMIT, 0));
  const sinkSecond = windowCheck(Float64Array.from(stats.times).sort(), 1_000, LIMIT);
  const violations = sendChecks.filter((check) => check.violated).length + (stats.maxInFlight > LIMIT.concurrency ? 1 : 0);
  return { maxInFlight: stats.maxInFlight, sendChecks, sinkSecond, violations };
}

/** Attempt start times from `since` on (ms, sorted), and how many messages had more than one attempt. */
function attemptsSince(sluice, since) {
  return readDb(sluice, (db) => ({
    sent: db.prepare('SELECT started_at AS at FROM attempts WHERE started_at >= ? ORDER BY started_at').all(since).map((row) => row.at),
    retried: db.prepare('SELECT count(*) AS n FROM (SELECT message_seq FROM attempts WHERE started_at >= ? GROUP BY message_seq HAVING count(*) > 1)').get(since).n,
  }));
}

/** Every seq in [from, from + count) arrived exactly once, and every step after the first carried the answer of the one before. */
function arrivalsCheck(stats, from, count, chained) {
  const seen = new Uint8Array(count);
  let duplicates = 0;
  let missing = 0;
  let wrongData = 0;
  for (let k = 0; k < stats.seqs.length; k += 1) {
    const slot = stats.seqs[k] - from;
    if (slot < 0 || slot >= count) continue;
    if (seen[slot]) duplicates += 1;
    seen[slot] = 1;
    const expected = chained ? (slot % STEPS.length === 0 ? -1 : stats.seqs[k] - 1) : stats.seqs[k];
    if (stats.ns[k] !== expected) wrongData += 1;
  }
  for (const flag of seen) if (!flag) missing += 1;
  return { duplicates, missing, wrongData, exactlyOnce: duplicates === 0 && missing === 0 };
}

/** One node running the workflow: warm-up, start the runs (paused), deliver them. */
async function workflowSide(ctx, sink, config) {
  const steps = RUNS * STEPS.length;
  return withSluice(config, async (sluice) => {
    await sluice.apiOk('PUT', `/v1/workflows/${WORKFLOW}`, workflowDefinition(sink));
    await sluice.apiOk('PUT', `/v1/workflows/${WARM_UP_WORKFLOW}`, workflowDefinition(sink));
    await startRuns(sluice, WARM_UP_RUNS, 10_000_000, WARM_UP_WORKFLOW);
    await resume(sluice);
    await sink.waitForCount(WARM_UP_RUNS * STEPS.length, 120_000, 50);
    await runsEnded(sluice, 60_000, WARM_UP_WORKFLOW);
    await sluice.apiOk('POST', '/v1/queues/outbound/pause');
    await sink.reset();
    ctx.log(`workflows: starting ${fmt(RUNS)} runs (queue paused)`);
    const creating = await measured(sluice, () => startRuns(sluice, RUNS, 0));
    ctx.log(`workflows: ${fmt(RUNS)} runs started in ${fmt(creating.seconds, 1)} s; delivering ${fmt(steps)} steps`);
    const since = Date.now();
    const delivering = await measured(sluice, async () => {
      await resume(sluice);
      await sink.waitForCount(steps, 600_000, 200);
      await runsEnded(sluice, 120_000);
      return sink.stats();
    });
    const states = readDb(sluice, (db) => Object.fromEntries(db.prepare('SELECT state, count(*) AS n FROM workflow_runs WHERE workflow = ? GROUP BY state').all(WORKFLOW).map((row) => [row.state, row.n])));
    const stats = delivering.result;
    const attempts = attemptsSince(sluice, since);
    return { creating, delivering, states, stats, arrivals: arrivalsCheck(stats, 0, steps, true), limits: limitChecks(stats, attempts.sent), retried: attempts.retried };
  });
}

/** One node delivering as many plain messages as there are steps: warm-up, enqueue (paused), deliver. */
async function plainSide(ctx, sink, config) {
  const count = RUNS * STEPS.length;
  return withSluice(config, async (sluice) => {
    await enqueue(sluice, plainMessages(sink, WARM_UP_RUNS * STEPS.length, 10_000_000));
    await resume(sluice);
    await messagesDelivered(sluice, WARM_UP_RUNS * STEPS.length, 60_000);
    await sluice.apiOk('POST', '/v1/queues/outbound/pause');
    await sink.reset();
    const creating = await measured(sluice, () => enqueue(sluice, plainMessages(sink, count, 0)));
    ctx.log(`workflows: ${fmt(count)} plain messages enqueued in ${fmt(creating.seconds, 1)} s; delivering`);
    const since = Date.now();
    const delivering = await measured(sluice, async () => {
      await resume(sluice);
      await sink.waitForCount(count, 600_000, 200);
      await messagesDelivered(sluice, WARM_UP_RUNS * STEPS.length + count, 120_000);
      return sink.stats();
    });
    const stats = delivering.result;
    const attempts = attemptsSince(sluice, since);
    return { creating, delivering, stats, arrivals: arrivalsCheck(stats, 0, count, false), limits: limitChecks(stats, attempts.sent), retried: attempts.retried };
  });
}

/** Per item of a side, both phases together and each apart: CPU (µs), bytes written, bytes stored. */
function perItem(side, items) {
  const { creating, delivering } = side;
  return {
    cpuUs: ((creating.cpu + delivering.cpu) * 1e6) / items,
    createCpuUs: (creating.cpu * 1e6) / items,
    deliverCpuUs: (delivering.cpu * 1e6) / items,
    mainUs: ((creating.mainCpu + delivering.mainCpu) * 1e6) / items,
    storeUs: ((creating.storeCpu + delivering.storeCpu) * 1e6) / items,
    written: (creating.written + delivering.written) / items,
    createWritten: creating.written / items,
    deliverWritten: delivering.written / items,
    stored: (creating.stored + delivering.stored) / items,
  };
}

function windowsText(checks) {
  return checks.map((check) => `${check.windowMs} ms: ${check.most}/${check.allowed}`).join(', ');
}

export default {
  id: 'workflows',
  title: `Workflows: ${RUNS.toLocaleString('en-US')} three-step runs on one limited domain, a step's cost vs a plain message's`,
  async run(ctx) {
    const sink = await SinkProcess.start({ delayMs: SINK_DELAY_MS, recordBody: true, replySeq: true });
    try {
      await sink.warmUp();
      const config = pushConfig({ limits: { domains: { [sink.domain()]: LIMIT } } });
      const steps = RUNS * STEPS.length;
      const wf = await workflowSide(ctx, sink, config);
      const plain = await plainSide(ctx, sink, config);
      const step = perItem(wf, steps);
      const message = perItem(plain, steps);
      const ratio = step.cpuUs / message.cpuUs;
      const stepRate = arrivalRate(wf.stats.times);
      const plainRate = arrivalRate(plain.stats.times);
      const succeeded = wf.states.succeeded ?? 0;
      const violations = wf.limits.violations + plain.limits.violations;
      ctx.log(
        `workflows: step ${fmt(step.cpuUs, 0)} µs CPU vs plain message ${fmt(message.cpuUs, 0)} µs (ratio ${fmt(ratio, 2)}; delivering only ${fmt(step.deliverCpuUs, 0)} vs ${fmt(message.deliverCpuUs, 0)}), written ${fmt(step.written, 0)} vs ${fmt(message.written, 0)} B (starting ${fmt(step.createWritten, 0)} vs ${fmt(message.createWritten, 0)}), stored ${fmt(step.stored, 0)} vs ${fmt(message.stored, 0)} B; ${fmt(stepRate, 1)} steps/s vs ${fmt(plainRate, 1)} messages/s (limit ${LIMIT.ratePerSecond}/s); runs ${JSON.stringify(wf.states)}; violations ${violations} (in flight ${wf.limits.maxInFlight}/${plain.limits.maxInFlight}, send windows ${windowsText(wf.limits.sendChecks)}; sink 1 s ${wf.limits.sinkSecond.most}/${wf.limits.sinkSecond.allowed}); arrivals ${JSON.stringify(wf.arrivals)}`,
      );
      return {
        rows: [
          compared('node CPU per workflow step (starting the runs + delivering), vs per plain message', step.cpuUs, message.cpuUs, ' µs', ' (plain message, batch API)'),
          compared('node CPU per step while delivering (run changes written with the outcomes)', step.deliverCpuUs, message.deliverCpuUs, ' µs'),
          compared('node CPU per step while starting the runs (one POST …/runs per three steps)', step.createCpuUs, message.createCpuUs, ' µs', ' (10,000 per batch call)'),
          compared("of the CPU per step (both phases), the store thread's", step.storeUs, message.storeUs, ' µs'),
          compared('bytes written to storage per step (WAL and checkpoints, /proc write_bytes)', step.written, message.written, ' B'),
          compared('database growth per step (used pages)', step.stored, message.stored, ' B'),
          compared(`throughput at the sink against the limit (${LIMIT.ratePerSecond}/s)`, stepRate, plainRate, '', '', { digits: 1, value: ' steps/s', baseline: ' messages/s' }),
          {
            measure: `limit violations (in flight > ${LIMIT.concurrency}, or a window of send times over burst + rate·W), both sides`,
            value: String(violations),
            baseline: '',
            ratio: '',
            target: '0',
            pass: violations === 0,
          },
          {
            measure: 'runs succeeded; each step arrived exactly once, carrying the answer of the step before',
            value: `${fmt(succeeded)} of ${fmt(RUNS)}; ${wf.arrivals.exactlyOnce && wf.arrivals.wrongData === 0 ? 'yes' : 'no'}`,
            baseline: plain.arrivals.exactlyOnce ? 'each message once' : 'messages lost or repeated',
            ratio: '',
            target: `${fmt(RUNS)}; yes`,
            pass: succeeded === RUNS && wf.arrivals.exactlyOnce && wf.arrivals.wrongData === 0,
          },
        ],
        notes: [
          `Domain limit ${JSON.stringify(LIMIT)}; the sink (its own process) answers \`{"n": <seq>}\` after ${SINK_DELAY_MS} ms. Workflow \`${WORKFLOW}\`: three steps to the sink's domain, step two sending \`{{ steps.one.response.body.n }}\` and step three \`{{ steps.two.response.body.n }}\`. ${fmt(RUNS)} runs started through \`POST /v1/workflows/${WORKFLOW}/runs\` (${START_IN_FLIGHT} at a time) into the paused queue, then resumed; the plain side is ${fmt(steps)} messages of the same size enqueued through \`POST /v1/messages/batch\` into a paused queue on a second fresh node, then resumed. Each node delivered ${WARM_UP_RUNS} runs' worth of its own kind first (not counted).`,
          `Starting the runs took ${fmt(wf.creating.seconds, 1)} s (${fmt(RUNS / wf.creating.seconds, 0)} runs/s); enqueueing the plain messages ${fmt(plain.creating.seconds, 1)} s. Delivering took ${fmt(wf.delivering.seconds, 1)} s and ${fmt(plain.delivering.seconds, 1)} s. Node CPU (every thread, /proc utime + stime) over starting + delivering: ${fmt(wf.creating.cpu + wf.delivering.cpu, 1)} s for the workflows, ${fmt(plain.creating.cpu + plain.delivering.cpu, 1)} s for the plain messages; the main thread's share ${fmt(step.mainUs, 0)} vs ${fmt(message.mainUs, 0)} µs per item. The starting phase includes one HTTP request per run against one per 10,000 plain messages.`,
          `A run stores its definition and variables once and a row per step holding the step's response, and each step's outcome carries the run's change into the same transaction; a plain message has its row and attempt only. write_bytes counts what the node (store thread and checkpointer) sent to the page cache for the disk: per step ${fmt(step.createWritten, 0)} B while starting the runs (each start its own transaction) and ${fmt(step.deliverWritten, 0)} B while delivering, against ${fmt(message.createWritten, 0)} B and ${fmt(message.deliverWritten, 0)} B per plain message; growth is (page_count − freelist_count) · page_size before and after.`,
          `Limits, judged like the limits scenario: most in flight at the sink ${wf.limits.maxInFlight} (workflows) and ${plain.limits.maxInFlight} (plain), limit ${LIMIT.concurrency}; windows of the attempt start times Sluice records (W ms: most / allowed ⌊burst + rate·W/1000⌋), workflows ${windowsText(wf.limits.sendChecks)}; plain ${windowsText(plain.limits.sendChecks)}. Sink-side 1 s window (information, blurred by the sink's scheduling; ${JITTER_MS} ms tolerance): workflows ${wf.limits.sinkSecond.most}/${wf.limits.sinkSecond.allowed}, plain ${plain.limits.sinkSecond.most}/${plain.limits.sinkSecond.allowed}.`,
          `Runs by state: ${JSON.stringify(wf.states)}. Step arrivals: ${wf.arrivals.missing} missing, ${wf.arrivals.duplicates} repeated, ${wf.arrivals.wrongData} without the answer of the step before; messages with more than one attempt: ${wf.retried} (workflows), ${plain.retried} (plain). No target is set for workflows in PERF.md.`,
        ],
      };
    } finally {
      await sink.stop();
    }
  },
};

/**
 * A report row comparing a workflow step's figure with a plain message's, no target: `unit` after
 * both numbers (or `units.value` and `units.baseline` apart), `note` after the baseline.
 */
function compared(measure, value, baseline, unit, note = '', units = {}) {
  const digits = units.digits ?? 0;
  return {
    measure,
    value: `${fmt(value, digits)}${units.value ?? unit}`,
    baseline: `${fmt(baseline, digits)}${units.baseline ?? unit}${note}`,
    ratio: fmt(value / baseline, 2),
    target: '',
    pass: undefined,
  };
}
