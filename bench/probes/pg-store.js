/**
 * Probe: the PostgreSQL store's own throughput, against the SQLite store (fsync) in the same run, to
 * compare with the PostgreSQL anchors of PERF.md (plain `pg`, 100 rows per statement: ~19,600 rows/s;
 * pg-boss fetch 100 + complete: 1,400-1,900/s at a 50,000 backlog, 5,600/s at 5,000). It measures the
 * stores alone, no HTTP, so it is not part of `npm run bench` (whose PostgreSQL rows need a server on
 * PostgreSQL); it skips, saying why, when PostgreSQL cannot be reached.
 * - append: appendMessages in batches of 100 (1 KiB bodies), from 1 caller and from 4 at once;
 * - lease + ack: leaseBatch(100), then ack of its 100 receipts, one consumer, at each backlog (the
 *   PostgreSQL table is ANALYZEd after the fill: the server may run with autovacuum off).
 * Each pair (SQLite, PostgreSQL) is measured back to back `rounds` times and the pair with the median
 * ratio is shown (medianPair). PostgreSQL CPU is the utime + stime of every `postgres` process on
 * the machine, so other users of the server add to it.
 * Usage: npm run build && node bench/probes/pg-store.js [rounds, default 3] [backlogs, default 5000,50000]
 * (SLUICE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postgresUnreachable } from '../lib/pg.js';
import { fmt, fmtRatios, medianPair, percentile } from '../lib/stats.js';
import { PostgresStore } from '../../dist/store/postgres/postgres-store.js';
import { SqliteStore } from '../../dist/store/sqlite/sqlite-store.js';

const DATABASE_URL = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = Number(process.argv[2] ?? 3);
const BACKLOGS = (process.argv[3] ?? '5000,50000').split(',').map(Number);
const BODY = Buffer.alloc(1024, 120);
const BATCH = 100;
const APPEND_BATCHES = 200;
const LEASE_ROUNDS = 100;
const FILL_BATCH = 1_000;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux: the unit of utime and stime in /proc/<pid>/stat

const message = () => ({
  queue: 'q', tenant: 'default', method: 'POST', path: '/', query: '', headers: [['content-type', 'application/json']],
  body: BODY, domain: '', receivedAt: 1_000, deliverAt: 1_000, origin: 'probe',
});
const batchOf = (n) => Array.from({ length: n }, message);


/** CPU seconds used so far by every postgres process. */
function postgresCpu() {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** Rows per second of `work`, and PostgreSQL CPU seconds per 10,000 rows during it. */
async function timed(rows, work) {
  const cpu = postgresCpu();
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: rows / seconds, pgCpuPer10k: ((postgresCpu() - cpu) * 10_000) / rows };
}

function appendRun(store, callers) {
  const each = APPEND_BATCHES / callers;
  return timed(APPEND_BATCHES * BATCH, () =>
    Promise.all(Array.from({ length: callers }, async () => {
      for (let i = 0; i < each; i += 1) await store.appendMessages(batchOf(BATCH), 1_000);
    })),
  );
}

function leaseAckRun(store) {
  return timed(LEASE_ROUNDS * BATCH, async () => {
    for (let i = 0; i < LEASE_ROUNDS; i += 1) {
      const leased = await store.leaseBatch('q', BATCH, 60_000, 1_000);
      await store.ack('q', leased.map((m) => m.receipt), 1_000);
    }
  });
}

/** Enough for every round to drain LEASE_ROUNDS × 100 and still leave `backlog` waiting. */
async function fill(store, backlog) {
  const total = backlog + ROUNDS * LEASE_ROUNDS * BATCH;
  for (let done = 0; done < total; done += FILL_BATCH) await store.appendMessages(batchOf(FILL_BATCH), 1_000);
}

async function openPostgres() {
  const schema = `sluice_probe_${process.pid}`;
  const store = await PostgresStore.open({ connectionString: DATABASE_URL, schema, poolSize: 10 });
  const close = async () => {
    await store.pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await store.close();
  };
  return { store, close };
}

function openSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-probe-'));
  const store = new SqliteStore(join(dir, 'sluice.db'), 'fsync');
  const close = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { store, close };
}

/** Both stores open at once, fresh; `work` gets them and its result is returned after both close. */
async function withBoth(work) {
  const sqlite = openSqlite();
  const postgres = await openPostgres();
  try {
    return await work(sqlite.store, postgres.store);
  } finally {
    await sqlite.close();
    await postgres.close();
  }
}

/** Measure (SQLite, PostgreSQL) back to back ROUNDS times and print the median pair. */
async function comparePair(label, measureSqlite, measurePostgres) {
  const pgCpu = [];
  // medianPair's "sluice" side is PostgreSQL here, its baseline SQLite: the ratio is PostgreSQL / SQLite.
  const pair = await medianPair(ROUNDS, async () => {
    const sqlite = await measureSqlite();
    const postgres = await measurePostgres();
    pgCpu.push(postgres.pgCpuPer10k);
    return { sluice: postgres.perSecond, baseline: sqlite.perSecond };
  });
  console.log(
    `${label.padEnd(34)} sqlite ${fmt(pair.baseline).padStart(7)} rows/s   postgres ${fmt(pair.sluice).padStart(7)} rows/s   ` +
      `× ${fmt(pair.ratio, 2)} (rounds ${fmtRatios(pair.ratios)})   PostgreSQL CPU ${fmt(percentile(pgCpu, 50), 2)} s / 10,000`,
  );
}

const why = await postgresUnreachable(DATABASE_URL);
if (why) {
  console.log(`pg-store probe skipped: ${why}`);
  process.exit(0);
}
for (const callers of [1, 4]) {
  await withBoth((sqlite, postgres) =>
    comparePair(`append 100s, ${callers} caller${callers > 1 ? 's' : ''}`, () => appendRun(sqlite, callers), () => appendRun(postgres, callers)),
  );
}
for (const backlog of BACKLOGS) {
  await withBoth(async (sqlite, postgres) => {
    await fill(sqlite, backlog);
    await fill(postgres, backlog);
    await postgres.pool.query('ANALYZE messages');
    await comparePair(`lease+ack 100, ${fmt(backlog)} waiting`, () => leaseAckRun(sqlite), () => leaseAckRun(postgres));
  });
}
