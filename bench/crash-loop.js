/**
 * The crash loop: Sluice as a child process under mixed load — ingest to a pull queue with a
 * consumer pulling and acking, ingest to a push queue delivering to a sink, a schedule every 1 s —
 * killed with SIGKILL at random moments, restarted on the same data each time. At the end it
 * drains everything and proves, from the load's own records and the database:
 *   - every acknowledged ingest was pulled (pull) or delivered (push), with the body it was given;
 *   - every push message in the database was delivered at least once, and nothing went dead;
 *   - duplicates only for messages that were in flight at a kill (seen by the consumer or the sink
 *     but not yet recorded as acked/delivered when the process died);
 *   - `PRAGMA integrity_check` is ok.
 * Used by `npm run crashtest` (bench/crashtest.js), the bench's `crash` scenario, and the short
 * vitest test (test/crash/crashtest-short.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { newLedger, startCrashSink, startLoad } from './lib/crash-load.js';
import { integrityCheck } from './lib/prefill.js';
import { BENCH_KEY, startSluice } from './lib/sluice-process.js';

const PUSH_QUEUES = ['hooks', 'ticks'];
const PENDING = "('scheduled', 'ready', 'leased', 'inflight')";
/** Time for requests already on the wire when the process died to reach the sink. */
const SETTLE_MS = 300;
/** Ticks created this recently before the final check may still be on their way. */
const TICK_GRACE_MS = 2_500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function crashConfig(sink) {
  return {
    network: { allowPrivate: true },
    limits: { defaultDomain: { concurrency: 20 } },
    queues: {
      inbox: { mode: 'pull', visibilityTimeoutMs: 3_000 },
      hooks: { mode: 'push', url: sink.url('/hook') },
      ticks: { mode: 'push', url: sink.url('/tick') },
    },
    sources: { inbox: { queue: 'inbox' }, hooks: { queue: 'hooks' } },
    schedules: { tick: { every: '1s', message: { url: sink.url('/tick'), queue: 'ticks', body: { tag: 'tick' } } } },
  };
}

function readDb(dbPath, read) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/**
 * Right after a kill: the messages the consumer or the sink already saw whose new state the dead
 * process had not committed. Only these may legitimately be seen twice.
 */
function inFlightAtKill(dbPath, ledger, allowed) {
  const rows = readDb(dbPath, (db) => db.prepare(`SELECT seq, queue FROM messages WHERE state IN ${PENDING}`).all());
  let pull = 0;
  let push = 0;
  for (const { seq, queue } of rows) {
    const id = String(seq);
    if (queue === 'inbox' && ledger.pulled.has(id)) (allowed.pull.add(id), (pull += 1));
    if (PUSH_QUEUES.includes(queue) && ledger.delivered.has(id)) (allowed.push.add(id), (push += 1));
  }
  return { pull, push };
}

function pendingCounts(dbPath, now) {
  return readDb(dbPath, (db) =>
    db
      .prepare(`SELECT queue, count(*) AS n FROM messages WHERE state IN ${PENDING} AND (queue <> 'ticks' OR received_at < ?) GROUP BY queue`)
      .all(now - TICK_GRACE_MS),
  );
}

function allAccounted(ledger) {
  for (const id of ledger.ingested.pull.keys()) if (!ledger.pulled.has(id)) return false;
  for (const id of ledger.ingested.push.keys()) if (!ledger.delivered.has(id)) return false;
  return true;
}

/** One round: start, load for a random while, SIGKILL, wait for the load to end, snapshot. */
async function killRound(ctx, round) {
  const sluice = await startSluice(ctx.dir, ctx.config);
  const load = startLoad(sluice.url, BENCH_KEY, ctx.ledger, { ingestWorkers: ctx.options.ingestWorkers, round });
  await sleep(ctx.options.minUpMs + Math.random() * (ctx.options.maxUpMs - ctx.options.minUpMs));
  await sluice.kill();
  await load.stop();
  await sleep(SETTLE_MS);
  const inFlight = inFlightAtKill(sluice.dbPath, ctx.ledger, ctx.allowedDuplicates);
  ctx.options.log(`kill ${round + 1}: acked ingests so far ${ctx.ledger.ingested.pull.size} pull + ${ctx.ledger.ingested.push.size} push; seen but uncommitted at the kill: ${inFlight.pull} pulled, ${inFlight.push} delivered`);
  return { dbPath: sluice.dbPath, inFlight };
}

/** Restart once more without new ingest, and run until everything acknowledged is accounted for. */
async function drain(ctx) {
  const sluice = await startSluice(ctx.dir, ctx.config);
  const load = startLoad(sluice.url, BENCH_KEY, ctx.ledger, { ingestWorkers: 0, round: 'drain', ingest: false });
  const deadline = Date.now() + ctx.options.drainTimeoutMs;
  let drained = false;
  while (!drained && Date.now() < deadline) {
    await sleep(250);
    drained = allAccounted(ctx.ledger) && pendingCounts(sluice.dbPath, Date.now()).length === 0;
  }
  const checkedAt = Date.now();
  await load.stop();
  await sluice.stop();
  return { drained, checkedAt, dbPath: sluice.dbPath };
}

function duplicates(map, allowed, also = new Set()) {
  const ids = [...map].filter(([, seen]) => seen.count > 1).map(([id]) => id);
  return { count: ids.length, unexplained: ids.filter((id) => !allowed.has(id) && !also.has(id)) };
}

function lostAndWrong(ingested, seen) {
  const lost = [];
  const wrongBody = [];
  for (const [id, tag] of ingested) {
    const record = seen.get(id);
    if (!record) lost.push(id);
    else if (record.tag !== tag || record.mismatch) wrongBody.push(id);
  }
  return { lost, wrongBody };
}

/** Database facts after the final stop: undelivered push rows, unacked pull rows, dead rows. */
function finalRows(dbPath, ledger, checkedAt) {
  return readDb(dbPath, (db) => {
    const rows = db.prepare('SELECT seq, queue, state, received_at FROM messages').all();
    const notDelivered = [];
    const deliveredButUnseen = [];
    let dead = 0;
    let ticks = 0;
    for (const row of rows) {
      const id = String(row.seq);
      if (row.state === 'dead') dead += 1;
      if (row.queue === 'ticks') ticks += 1;
      const recent = row.queue === 'ticks' && row.received_at >= checkedAt - TICK_GRACE_MS;
      if (PUSH_QUEUES.includes(row.queue) && row.state !== 'delivered' && !recent) notDelivered.push(id);
      if (row.queue === 'inbox' && row.state !== 'acked') notDelivered.push(id);
      if (row.state === 'delivered' && !ledger.delivered.has(id)) deliveredButUnseen.push(id);
    }
    return { stored: rows.length, ticks, dead, notDelivered, deliveredButUnseen };
  });
}

function buildReport(ctx, kills, final, started) {
  const { ledger, allowedDuplicates } = ctx;
  const pull = lostAndWrong(ledger.ingested.pull, ledger.pulled);
  const push = lostAndWrong(ledger.ingested.push, ledger.delivered);
  const rows = finalRows(final.dbPath, ledger, final.checkedAt);
  const pullDup = duplicates(ledger.pulled, allowedDuplicates.pull, ledger.staleAcks);
  const pushDup = duplicates(ledger.delivered, allowedDuplicates.push);
  const integrity = integrityCheck(final.dbPath);
  const report = {
    kills: kills.length,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    drained: final.drained,
    acknowledged: { pull: ledger.ingested.pull.size, push: ledger.ingested.push.size },
    ingestNon202: ledger.ingestErrors,
    pulled: ledger.pulled.size,
    delivered: ledger.delivered.size,
    storedMessages: rows.stored,
    scheduledTicks: rows.ticks,
    lost: { pull: pull.lost, push: push.lost },
    wrongBody: [...pull.wrongBody, ...push.wrongBody],
    notDelivered: rows.notDelivered,
    deliveredButUnseen: rows.deliveredButUnseen,
    dead: rows.dead,
    inFlightAtKills: { pull: allowedDuplicates.pull.size, push: allowedDuplicates.push.size },
    duplicates: { pull: pullDup.count, push: pushDup.count, staleAcks: ledger.staleAcks.size, unexplained: [...pullDup.unexplained, ...pushDup.unexplained] },
    integrity,
  };
  report.ok =
    report.drained && report.acknowledged.pull > 0 && report.acknowledged.push > 0 && pull.lost.length === 0 && push.lost.length === 0 &&
    report.wrongBody.length === 0 && rows.notDelivered.length === 0 && rows.deliveredButUnseen.length === 0 && rows.dead === 0 &&
    report.duplicates.unexplained.length === 0 && integrity === 'ok';
  return report;
}

/**
 * Run the crash loop and return its report (`report.ok` is the verdict). Bounded: at most `kills`
 * rounds, no new round after `deadlineMs`, the final drain at most `drainTimeoutMs`.
 * @param {{ kills?: number, minUpMs?: number, maxUpMs?: number, ingestWorkers?: number,
 *   drainTimeoutMs?: number, deadlineMs?: number, log?: (line: string) => void }} [options]
 */
export async function runCrashLoop(options = {}) {
  const opts = { kills: 20, minUpMs: 1_000, maxUpMs: 3_500, ingestWorkers: 6, drainTimeoutMs: 90_000, deadlineMs: 240_000, log: () => {}, ...options };
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-crashloop-'));
  const ledger = newLedger();
  const sink = await startCrashSink(ledger);
  const ctx = { dir, ledger, options: opts, config: crashConfig(sink), allowedDuplicates: { pull: new Set(), push: new Set() } };
  try {
    const kills = [];
    for (let round = 0; round < opts.kills && Date.now() - started < opts.deadlineMs; round += 1) kills.push(await killRound(ctx, round));
    const final = await drain(ctx);
    const report = buildReport(ctx, kills, final, started);
    report.killsPlanned = opts.kills;
    if (report.kills < opts.kills) report.ok = false;
    return report;
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
