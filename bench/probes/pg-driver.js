/**
 * Probe: which PostgreSQL client for the PostgreSQL store, node-postgres (`pg`, with `pg-copy-streams`
 * for COPY) or postgres.js (`postgres`), measured on the store's own statement shapes. The drivers
 * work on one schema of the store's real migrations (created here, dropped at the end), each through
 * a pool of 10 connections configured as the store configures `pg` (search_path, statement timeout,
 * int8 parsed as a number, statements prepared). postgres.js runs twice: as it comes, and with
 * TCP_NODELAY set on its sockets (noDelaySocket below says why), which is how a store on it would run.
 * Every measurement is taken in rounds that take the drivers in turn (pg, postgres.js, postgres.js
 * nodelay, pg, …). Per driver it prints the median of its rounds and its ratio to pg (of the medians,
 * and in each round), and per 10,000 rows (or statements) the CPU of this node process
 * (process.cpuUsage(): the driver's own work) and of the server processes of that driver's
 * connections (from /proc, found by application_name; 10 ms ticks, so only roughly).
 *
 * 1. append: the statement of sql/append-messages.ts (ids from the sequence, messages and payloads by
 *    two CTEs over unnest arrays, dedupe CTE), 100 rows of 1 KiB bodies per statement, 1 and 4 callers.
 * 2. COPY of the same 100 rows: ids drawn by one SELECT, then COPY messages and COPY payloads FROM
 *    STDIN (text format), one transaction (BEGIN, SELECT, COPY, COPY, COMMIT): the least a store needs
 *    to write two tables by COPY, and it has no dedupe (COPY has no ON CONFLICT) and returns nothing.
 *    `pg-copy-streams` for pg, `.writable()` for postgres.js.
 * 3. `SELECT $1::int`, prepared, from 50 concurrent callers: statements/s and the median latency.
 * 4. lease + ack: the lease of sql/lease-batch.ts (UPDATE … WHERE id IN (SELECT … ORDER BY seq LIMIT
 *    100 FOR UPDATE SKIP LOCKED) RETURNING, payloads joined) then the ack of sql/settle-receipts.ts
 *    (UPDATE … FROM unnest(ids, tokens) … RETURNING), 1 and 4 consumers, at least 50,000 rows waiting
 *    throughout (filled server-side and ANALYZEd first: the server may run with autovacuum off).
 * The tables are emptied before each append and COPY measurement, so every round sees the same table.
 * The verdict line asks whether postgres.js is ≥ 20 % faster than pg on every hot path (append and
 * lease + ack) by the medians, and faster in every round.
 * Usage: npm run build && node bench/probes/pg-driver.js [rounds, default 3]
 * (SLUICE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test). Skips, saying why,
 * when PostgreSQL cannot be reached. 3 rounds took 1 min 50 s, 5 rounds 3 min 10 s, on the shared
 * 2-core VM.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg } from 'node:os';
import pg from 'pg';
import pgCopyStreams from 'pg-copy-streams';
import postgres from 'postgres';
import { fmt, fmtRatios, percentile } from '../lib/stats.js';
import { postgresUnreachable } from '../lib/pg.js';
import { migrate } from '../../dist/store/postgres/migrations.js';
import { APPEND_STATEMENT } from '../../dist/store/postgres/sql/append-messages.js';
import { LEASE_STATEMENT } from '../../dist/store/postgres/sql/lease-batch.js';
import { ACK_STATEMENT } from '../../dist/store/postgres/sql/settle-receipts.js';
import { connectionConfig, redactUrl } from '../../dist/store/postgres/pool.js';

const DATABASE_URL = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = Number(process.argv[2] ?? 3);
const SCHEMA = `sluice_driver_probe_${process.pid}`;
const POOL = 10;
const BATCH = 100;
const APPEND_BATCHES = 80; // per measurement: 8,000 rows
const SELECT_STATEMENTS = 20_000; // per measurement
const SELECT_CALLERS = 50;
const LEASE_BATCHES = 50; // per measurement: 5,000 rows leased and acked
const BACKLOG = 50_000; // rows still waiting after the last lease measurement
const FILL_CHUNK = 10_000;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux: the unit of utime and stime in /proc/<pid>/stat
const BODY = Buffer.alloc(1024, 120);
const HEADERS = JSON.stringify([['content-type', 'application/json']]);
const NOW = 1_000;

const DRAW_IDS = `SELECT nextval('message_ids') AS id FROM generate_series(1, $1::int) ORDER BY 1`;
const COPY_MESSAGES = `COPY messages (id, queue, tenant, state, method, path, query, url, domain, received_at, deliver_at,
  updated_at, origin, retry, stored_bytes) FROM STDIN`;
const COPY_PAYLOADS = 'COPY payloads (id, headers, body) FROM STDIN';

/** The append's 20 parameters for `n` messages like pg-store.js's (no dedupe key, 1 KiB body). */
function appendValues(n) {
  const same = (value) => Array.from({ length: n }, () => value);
  return [
    n, same('q'), same('default'), same('ready'), same('POST'), same('/'), same(''), same(null), same(''),
    same(NOW), same(NOW), same('probe'), same(null), same(HEADERS), same(BODY),
    same(null), same(null), same(null), NOW, same(BODY.length + HEADERS.length),
  ];
}

/** One value in COPY's text format. */
function copyField(value) {
  if (value === null || value === undefined) return '\\N';
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
  return String(value).replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]);
}
const copyLines = (rows) => rows.map((row) => row.map(copyField).join('\t') + '\n').join('');

/** The two COPY inputs for messages numbered `ids`, the same rows as appendValues'. */
function copyData(ids) {
  const messages = ids.map((id) => [id, 'q', 'default', 'ready', 'POST', '/', '', null, '', NOW, NOW, NOW, 'probe', null, BODY.length + HEADERS.length]);
  const payloads = ids.map((id) => [id, HEADERS, BODY]);
  return { messages: copyLines(messages), payloads: copyLines(payloads) };
}

function check(what, got, want) {
  if (got !== want) throw new Error(`${what}: ${got} rows, expected ${want}`);
}

/**
 * The store's own connection settings (pool.ts), plus COPY through pg-copy-streams. One change: idle
 * connections stay open (pool.ts keeps pg's default of closing them after 10 s), since between its
 * rounds a driver waits while the other one is measured, and reconnecting is not what is measured.
 */
function pgDriver() {
  const { schema, ...config } = connectionConfig({ connectionString: DATABASE_URL, schema: SCHEMA });
  const pool = new pg.Pool({ ...config, max: POOL, idleTimeoutMillis: 0, application_name: 'probe_pg' });
  pool.on('error', () => {});
  const copy = (client, text, data) =>
    new Promise((resolve, reject) => {
      const stream = client.query(pgCopyStreams.from(text));
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(data);
    });
  return {
    name: 'pg',
    application: 'probe_pg',
    warm: () => Promise.all(Array.from({ length: POOL }, () => pool.query('SELECT 1'))),
    append: async (n) => check('append', (await pool.query({ name: 'probe_append', text: APPEND_STATEMENT, values: appendValues(n) })).rows.length, n),
    copyAppend: async (n) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const ids = (await client.query({ name: 'probe_draw_ids', text: DRAW_IDS, values: [n] })).rows.map((row) => row.id);
        const data = copyData(ids);
        await copy(client, COPY_MESSAGES, data.messages);
        await copy(client, COPY_PAYLOADS, data.payloads);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    select: async (i) => (await pool.query({ name: 'probe_select', text: 'SELECT $1::int AS n', values: [i] })).rows[0].n,
    lease: async (queue, token) =>
      (await pool.query({ name: 'probe_lease', text: LEASE_STATEMENT, values: [queue, BATCH, token, NOW + 60_000, NOW] })).rows,
    ack: async (queue, ids, tokens) => (await pool.query({ name: 'probe_ack', text: ACK_STATEMENT, values: [queue, ids, tokens, NOW] })).rows,
    end: () => pool.end(),
  };
}

/**
 * A connected TCP socket with Nagle's algorithm off (TCP_NODELAY), for postgres.js's `socket` option:
 * postgres.js 3.4 does not set it (pg does, in its connection.js), so a message it writes in two parts
 * (COPY data, then CopyDone) can wait for the server's delayed ACK, ~40 ms on Linux.
 */
function noDelaySocket() {
  const url = new URL(DATABASE_URL);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port || 5432), noDelay: true });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * postgres.js set up as the store sets up pg: same pool size, search_path, timeout, int8 as number,
 * statements prepared. `noDelay`: through noDelaySocket (what a store on postgres.js would do).
 */
function postgresJsDriver(noDelay) {
  const application = noDelay ? 'probe_postgresjs_nodelay' : 'probe_postgresjs';
  const sql = postgres(DATABASE_URL, {
    max: POOL,
    prepare: true,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { search_path: SCHEMA, statement_timeout: 30_000, application_name: application },
    types: { bigint: { to: 20, from: [20], serialize: (x) => String(x), parse: (x) => Number(x) } },
    ...(noDelay ? { socket: noDelaySocket } : {}),
  });
  const prepared = { prepare: true };
  const copy = async (tx, text, data) => {
    const stream = await tx.unsafe(text).writable();
    await new Promise((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(data);
    });
  };
  return {
    name: noDelay ? 'postgres.js nodelay' : 'postgres.js',
    application,
    warm: () => Promise.all(Array.from({ length: POOL }, () => sql.unsafe('SELECT 1', [], prepared))),
    append: async (n) => {
      const values = appendValues(n);
      values[14] = sql.array(values[14], 1001); // bytea[]: unless typed, an array of Buffers is sent as one bytea
      check('append', (await sql.unsafe(APPEND_STATEMENT, values, prepared)).length, n);
    },
    copyAppend: (n) =>
      sql.begin(async (tx) => {
        const ids = (await tx.unsafe(DRAW_IDS, [n], prepared)).map((row) => row.id);
        const data = copyData(ids);
        await copy(tx, COPY_MESSAGES, data.messages);
        await copy(tx, COPY_PAYLOADS, data.payloads);
      }),
    select: async (i) => (await sql.unsafe('SELECT $1::int AS n', [i], prepared))[0].n,
    lease: (queue, token) => sql.unsafe(LEASE_STATEMENT, [queue, BATCH, token, NOW + 60_000, NOW], prepared),
    ack: (queue, ids, tokens) => sql.unsafe(ACK_STATEMENT, [queue, ids, tokens, NOW], prepared),
    end: () => sql.end({ timeout: 5 }),
  };
}


/** The server processes of a driver's connections (told apart by application_name). */
async function backendPids(driver) {
  const result = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [driver.application]);
  return result.rows.map((row) => row.pid);
}

/**
 * CPU seconds used so far by the server processes `pids` (PostgreSQL on this machine, read from
 * /proc): the server's work for one driver only, while other users of the server come and go.
 */
function postgresCpu(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the connection ended meanwhile
    }
  }
  return ticks / TICKS_PER_SECOND;
}

function uptime() {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((load) => load.toFixed(2)).join(', ')}`;
  }
}

/** Units per second of `work`, and node and PostgreSQL CPU seconds per 10,000 units during it. */
async function timed(driver, units, work) {
  await driver.warm(); // every connection open, outside the measurement
  const pids = await backendPids(driver);
  if (pids.length !== POOL) throw new Error(`${driver.name}: ${pids.length} connections, expected ${POOL}`);
  const pgCpu = postgresCpu(pids);
  const nodeCpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const extra = await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const node = process.cpuUsage(nodeCpu);
  return {
    perSecond: units / seconds,
    nodeCpuPer10k: ((node.user + node.system) / 1e6) * (10_000 / units),
    pgCpuPer10k: (postgresCpu(pids) - pgCpu) * (10_000 / units),
    ...extra,
  };
}

/** `total` calls of `call(i)` shared by `callers` concurrent loops. */
async function callersDo(callers, total, call) {
  let next = 0;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next < total) await call(next++);
  }));
}

const measures = {
  append: (callers) => async (driver) => {
    await admin.query('TRUNCATE messages, payloads');
    return timed(driver, APPEND_BATCHES * BATCH, () => callersDo(callers, APPEND_BATCHES, () => driver.append(BATCH)));
  },
  copy: (callers) => async (driver) => {
    await admin.query('TRUNCATE messages, payloads');
    return timed(driver, APPEND_BATCHES * BATCH, () => callersDo(callers, APPEND_BATCHES, () => driver.copyAppend(BATCH)));
  },
  select: () => (driver) =>
    timed(driver, SELECT_STATEMENTS, async () => {
      const latencies = [];
      await callersDo(SELECT_CALLERS, SELECT_STATEMENTS, async (i) => {
        const started = process.hrtime.bigint();
        if ((await driver.select(i)) !== i) throw new Error('SELECT $1::int answered wrong');
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      });
      return { p50Ms: percentile(latencies, 50) };
    }),
  leaseAck: (consumers) => (driver) =>
    timed(driver, LEASE_BATCHES * BATCH, () =>
      callersDo(consumers, LEASE_BATCHES, async (i) => {
        const token = `${driver.name}-${process.hrtime.bigint()}-${i}`;
        const leased = await driver.lease('backlog', token);
        check('lease', leased.length, BATCH);
        if (leased[0].body.length !== BODY.length) throw new Error('lease: payload body not read back');
        const acked = await driver.ack('backlog', leased.map((row) => String(row.id)), leased.map((row) => row.lease_token));
        check('ack', acked.length, BATCH);
      }),
    ),
};

/** Fill queue 'backlog' server-side with enough ready rows for every lease measurement plus BACKLOG. */
async function fillBacklog(total) {
  for (let done = 0; done < total; done += FILL_CHUNK) {
    await admin.query(
      `WITH m AS (
         INSERT INTO messages (queue, tenant, state, method, path, query, domain, received_at, deliver_at, updated_at, origin, stored_bytes)
         SELECT 'backlog', 'default', 'ready', 'POST', '/', '', '', $2, $2, $2, 'probe', $3 FROM generate_series(1, $1::int)
         RETURNING id)
       INSERT INTO payloads (id, headers, body) SELECT id, $4, $5 FROM m`,
      [Math.min(FILL_CHUNK, total - done), NOW, BODY.length + HEADERS.length, HEADERS, BODY],
    );
  }
  await admin.query('ANALYZE messages; ANALYZE payloads');
}

const rows = [];

/**
 * ROUNDS rounds of `measure`, the drivers in turn in each (pg, postgres.js, postgres.js nodelay, pg,
 * …); print and keep each driver's medians and its ratio to pg in every round.
 */
async function compare(label, unit, measure, hot) {
  const results = drivers.map(() => []);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [i, driver] of drivers.entries()) results[i].push(await measure(driver));
  }
  const median = (list, key) => percentile(list.map((r) => r[key]), 50);
  const row = {
    label,
    unit,
    hot,
    drivers: drivers.map((driver, i) => ({
      name: driver.name,
      perSecond: median(results[i], 'perSecond'),
      ratios: results[i].map((r, round) => r.perSecond / results[0][round].perSecond),
      nodeCpu: median(results[i], 'nodeCpuPer10k'),
      pgCpu: median(results[i], 'pgCpuPer10k'),
      p50Ms: results[i][0].p50Ms === undefined ? undefined : median(results[i], 'p50Ms'),
    })),
  };
  rows.push(row);
  const [pgRow, ...others] = row.drivers;
  console.log(
    `  ${label}: pg ${fmt(pgRow.perSecond)} ${unit}; ` +
      others.map((d) => `${d.name} ${fmt(d.perSecond)} (rounds × ${fmtRatios(d.ratios)})`).join('; ') +
      `   [${uptime()}]`,
  );
}

function printTable() {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  console.log('');
  console.log(line(['measure', 'driver', 'median of rounds', '× pg: medians (each round)', 'node CPU s / 10,000', 'PostgreSQL CPU s / 10,000']));
  console.log(line(['---', '---', '---:', '---', '---:', '---:']));
  for (const row of rows) {
    const pgRate = row.drivers[0].perSecond;
    for (const [i, d] of row.drivers.entries()) {
      console.log(
        line([
          i === 0 ? row.label : '',
          d.name,
          `${fmt(d.perSecond)} ${row.unit}${d.p50Ms === undefined ? '' : ` (p50 ${fmt(d.p50Ms, 1)} ms)`}`,
          i === 0 ? '' : `${fmt(d.perSecond / pgRate, 2)} (${fmtRatios(d.ratios)})`,
          fmt(d.nodeCpu, 2),
          fmt(d.pgCpu, 2),
        ]),
      );
    }
  }
  console.log('');
  for (const [i, driver] of drivers.entries()) {
    if (i === 0) continue;
    const hot = rows.filter((row) => row.hot).map((row) => row.drivers[i]);
    const clear = hot.every((d) => d.perSecond / rows.find((row) => row.drivers[i] === d).drivers[0].perSecond >= 1.2 && d.ratios.every((r) => r >= 1));
    console.log(
      clear
        ? `${driver.name}: ≥ 20 % faster than pg on every hot path (append, lease + ack), median of rounds, and faster in every round.`
        : `${driver.name}: not ≥ 20 % faster than pg on every hot path (append, lease + ack) in every round.`,
    );
  }
}

const why = await postgresUnreachable(DATABASE_URL);
if (why) {
  console.log(`pg-driver probe skipped: ${why}`);
  process.exit(0);
}

const admin = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${SCHEMA}` });
await admin.connect();
const drivers = [];
try {
  await migrate(admin, SCHEMA);
  drivers.push(pgDriver(), postgresJsDriver(false), postgresJsDriver(true));
  for (const driver of drivers) await driver.warm();
  console.log(`pg-driver probe: ${ROUNDS} rounds, pool ${POOL} per driver, PostgreSQL at ${redactUrl(DATABASE_URL)}, schema ${SCHEMA}`);
  console.log(`  start: ${uptime()}`);
  // One untimed pass of every statement on the connections of every pool, so no round pays for a Parse.
  for (const driver of drivers) {
    await callersDo(POOL, POOL * 4, () => driver.append(BATCH));
    await callersDo(POOL, POOL * 4, () => driver.copyAppend(BATCH));
    await callersDo(SELECT_CALLERS, 1_000, (i) => driver.select(i));
  }
  // Every driver wrote the same rows: a payload of another size or content would make the race unfair.
  const written = await admin.query(
    `SELECT (SELECT count(*) FROM messages)::int AS messages, count(*)::int AS payloads,
            count(*) FILTER (WHERE body <> $1 OR headers <> $2)::int AS different FROM payloads`,
    [BODY, HEADERS],
  );
  const { messages, payloads, different } = written.rows[0];
  const expected = drivers.length * 2 * POOL * 4 * BATCH;
  if (messages !== expected || payloads !== expected || different !== 0) {
    throw new Error(`warm-up wrote ${messages} messages and ${payloads} payloads (${different} different), expected ${expected} of each`);
  }
  await compare('append 100, 1 caller', 'rows/s', measures.append(1), true);
  await compare('append 100, 4 callers', 'rows/s', measures.append(4), true);
  await compare('COPY 100 (ids + 2 COPYs, 1 tx), 1 caller', 'rows/s', measures.copy(1), false);
  await compare('COPY 100 (ids + 2 COPYs, 1 tx), 4 callers', 'rows/s', measures.copy(4), false);
  await compare(`SELECT $1::int, ${SELECT_CALLERS} callers`, 'stmts/s', measures.select(), false);
  await admin.query('TRUNCATE messages, payloads');
  const consumerCounts = [1, 4];
  const warmRows = drivers.length * POOL * 4 * BATCH;
  await fillBacklog(BACKLOG + ROUNDS * drivers.length * consumerCounts.length * LEASE_BATCHES * BATCH + warmRows);
  for (const driver of drivers) {
    // Warm the lease and ack statements on the connections; these rows come off the backlog's extra.
    await callersDo(POOL, POOL * 4, async () => {
      const leased = await driver.lease('backlog', 'warm');
      await driver.ack('backlog', leased.map((row) => String(row.id)), leased.map((row) => row.lease_token));
    });
  }
  for (const consumers of consumerCounts) {
    const label = `lease + ack 100, ${consumers} consumer${consumers > 1 ? 's' : ''}, ≥ ${fmt(BACKLOG)} waiting`;
    await compare(label, 'rows/s', measures.leaseAck(consumers), true);
  }
  const left = (await admin.query(`SELECT count(*)::int AS n FROM messages WHERE queue = 'backlog' AND state = 'ready'`)).rows[0].n;
  console.log(`  end: ${uptime()}; ${fmt(left)} rows still waiting`);
  printTable();
} finally {
  await Promise.all(drivers.map((driver) => driver.end()));
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin.end();
}
