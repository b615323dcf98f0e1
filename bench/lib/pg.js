/**
 * The PostgreSQL side of the benchmarks: the database (SLUICE_BENCH_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test, the tests' server), a fresh schema per use
 * (`bench_<pid>_<n>`, dropped afterwards), Sluice nodes on a schema, and pg-boss in a schema of its own.
 */
import { createClient } from 'redis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startSluice } from './sluice-process.js';

export const DATABASE_URL = process.env.SLUICE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let schemas = 0;

/** A schema name no other run uses: bench_<pid>_<n>. */
export function freshSchema() {
  schemas += 1;
  return `bench_${process.pid}_${schemas}`;
}

/** The URL with its password hidden. */
export function redacted(url = DATABASE_URL) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Why PostgreSQL at `url` cannot be used, or undefined when it can. */
export async function postgresUnreachable(url = DATABASE_URL) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL not reachable at ${redacted(url)} (${error.message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Run one statement (or several, `;`-separated) on a short-lived connection. */
export async function sql(text, params) {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

/** DROP SCHEMA … CASCADE; never throws (a cleanup). */
export async function dropSchema(schema) {
  await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
}

/**
 * ANALYZE every table of `schema`. The server runs with autovacuum off, so without it the planner
 * keeps the statistics of an empty table; both sides of a comparison get the same treatment.
 */
export async function analyzeSchema(schema) {
  const { rows } = await sql('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema]);
  for (const { tablename } of rows) await sql(`ANALYZE ${schema}.${tablename}`);
}

/**
 * Sequential scans of `schema`.`table` so far, and the rows they read (PostgreSQL's statistics, sent
 * by each backend at most once a second: wait a little after the work before reading them).
 */
export async function seqScans(schema, table) {
  const { rows } = await sql('SELECT seq_scan, seq_tup_read FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2', [schema, table]);
  return { scans: Number(rows[0]?.seq_scan ?? 0), rows: Number(rows[0]?.seq_tup_read ?? 0) };
}

/** Storage settings of a Sluice node on `schema`. */
export function postgresStorage(schema, extra = {}) {
  return { postgres: DATABASE_URL, postgresSchema: schema, ...extra };
}

/**
 * Start `count` Sluice nodes on one schema (each its own temp dir, port and data dir), run
 * `work(nodes)`, then stop them, delete their dirs and drop the schema. `config` is the sluice.yaml
 * object without `storage`; with more than one node and no `limits.redis`, `limits.perNode: true` is
 * added (several nodes without Redis are refused otherwise). The Redis keys of the schema, if any,
 * are deleted with it.
 */
export async function withPostgresNodes(count, config, work, { schema = freshSchema(), keepSchema = false } = {}) {
  const nodes = [];
  const dirs = [];
  try {
    const limits = count > 1 && !config.limits?.redis ? { ...(config.limits ?? {}), perNode: true } : config.limits;
    const full = { ...config, ...(limits ? { limits } : {}), storage: postgresStorage(schema, config.storage) };
    // One after the other: the first migrates the schema, the others find it done.
    for (let i = 0; i < count; i += 1) {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-pg-'));
      dirs.push(dir);
      nodes.push(await startSluice(dir, full));
    }
    return await work(nodes, schema);
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    if (!keepSchema) await dropSchema(schema);
    if (config.limits?.redis) await deleteRedisKeys(config.limits.redis, schema);
  }
}

/** Where the Redis scenarios keep their limits. */
export const REDIS_URL = process.env.SLUICE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why Redis cannot be used, or undefined. */
export async function redisUnreachable(url = REDIS_URL) {
  const client = createClient({ url, socket: { connectTimeout: 3_000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `Redis at ${url} is unreachable: ${error.message ?? error}`;
  } finally {
    if (client.isOpen) await client.close().catch(() => {});
  }
}

/** Delete a cluster's limit keys (they are named after its schema). */
async function deleteRedisKeys(url, schema) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `sluice:{${schema}}:*`, COUNT: 1_000 })) if (keys.length > 0) await client.unlink(keys);
  } finally {
    await client.close();
  }
}

/** A scenario result that says it was not measured, and why (run.js lists it under "Not measured"). */
export function skipped(why) {
  return { skipped: why, rows: [], notes: [] };
}
