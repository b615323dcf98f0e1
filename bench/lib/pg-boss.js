/**
 * pg-boss, the baseline of the PostgreSQL scenarios (PERF.md's anchors): version 10 (the newest that
 * runs on Node 20), in this process, in a schema of its own on the same database as Sluice, with its
 * default pool of 10 connections (Sluice's default too). Its background work (maintenance, cron) is
 * switched off, so the measures see only the calls under test — which favours pg-boss slightly.
 */
import { createRequire } from 'node:module';
import PgBoss from 'pg-boss';
import { DATABASE_URL, dropSchema, freshSchema } from './pg.js';

export const QUEUE = 'bench';
export const PG_BOSS_VERSION = createRequire(import.meta.url)('pg-boss/package.json').version;
const INSERT_BATCH = 1_000;

/** pg-boss started on a fresh schema with queue QUEUE; `work(boss, schema)`; then stopped and dropped. */
export async function withPgBoss(work) {
  const schema = freshSchema();
  const boss = new PgBoss({ connectionString: DATABASE_URL, schema, max: 10, supervise: false, schedule: false });
  boss.on('error', () => {}); // a failed call is counted by the caller; background errors are not measured
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
    return await work(boss, schema);
  } finally {
    await boss.stop({ graceful: false, timeout: 1_000, wait: true }).catch(() => {});
    await dropSchema(schema);
  }
}

/** `callers` loops of `send(QUEUE, data)` for `seconds`; returns { sent, errors, seconds }. */
export async function sendFor(boss, data, { callers, seconds }) {
  const deadline = performance.now() + seconds * 1000;
  let sent = 0;
  let errors = 0;
  const caller = async () => {
    while (performance.now() < deadline) {
      try {
        if (await boss.send(QUEUE, data)) sent += 1;
        else errors += 1;
      } catch {
        errors += 1;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: callers }, caller));
  return { sent, errors, seconds: (performance.now() - started) / 1000 };
}

/** Put `count` jobs in QUEUE with batched `insert` (the fast way in), `parallel` batches at a time. */
export async function fillBacklog(boss, data, count, parallel = 4) {
  let left = count;
  const worker = async () => {
    while (left > 0) {
      const n = Math.min(INSERT_BATCH, left);
      left -= n;
      await boss.insert(Array.from({ length: n }, () => ({ name: QUEUE, data })));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/**
 * One consumer: `fetch(QUEUE, {batchSize})` then `complete(QUEUE, ids)`, in sequence, until `total`
 * are completed or `maxSeconds` pass; returns { done, seconds }.
 */
export async function drain(boss, { total, batch, maxSeconds }) {
  const started = performance.now();
  let done = 0;
  while (done < total && performance.now() - started < maxSeconds * 1000) {
    const jobs = await boss.fetch(QUEUE, { batchSize: batch });
    if (jobs.length === 0) break;
    const result = await boss.complete(QUEUE, jobs.map((job) => job.id));
    done += result.affected;
  }
  return { done, seconds: (performance.now() - started) / 1000 };
}
