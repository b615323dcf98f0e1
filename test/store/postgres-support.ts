import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, it } from 'vitest';
import { redactUrl } from '../../src/store/postgres/pool.js';
import { PostgresStore, type PostgresOptions } from '../../src/store/postgres/postgres-store.js';
import type { Queryable } from '../../src/store/postgres/sql/queryable.js';

/** Where the PostgreSQL tests connect: SLUICE_TEST_DATABASE_URL, else the machine's own server. */
export const postgresUrl = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** In CI the PostgreSQL tests never skip: an unreachable database fails every one of them. */
const inCi = process.env.CI === 'true';

/** Why PostgreSQL cannot be used (one line), or undefined when it answers. Asked once per test file. */
async function unreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {}); // a connection lost after the probe must not fail the file
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${redactUrl(postgresUrl)} is unreachable: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await client.end().catch(() => {});
  }
}

const skipReason = inCi ? undefined : await unreachable();

/**
 * `describe(name, suite)` when PostgreSQL answers, or in CI whatever happens (there an unreachable
 * database fails each test, with the connection error). Elsewhere without a database: one skipped
 * test whose name says why.
 */
export function describePostgres(name: string, suite: () => void): void {
  if (skipReason === undefined) describe(name, suite);
  else it.skip(`${name}: skipped, ${skipReason}`.replace(/\s+/g, ' '), () => {});
}

/** A schema name no other test uses. */
export function freshSchema(): string {
  return `sluice_test_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** A store in a fresh schema; cleanup closes it and drops the schema. */
export async function tempPostgresStore(options: Partial<PostgresOptions> = {}) {
  const schema = options.schema ?? freshSchema();
  const store = await PostgresStore.open({ connectionString: postgresUrl, poolSize: 4, ...options, schema });
  return {
    store,
    schema,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}

/**
 * For a describe block: a function giving two stores opened together on one fresh schema (two nodes;
 * they migrate it concurrently). After each test they are closed and their schemas dropped.
 */
export function twoNodeStores(): () => Promise<[PostgresStore, PostgresStore]> {
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await Promise.all(schemas.splice(0).map(dropSchema));
  });
  return async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const open = () => PostgresStore.open({ connectionString: postgresUrl, schema, poolSize: 4 });
    const [a, b] = await Promise.all([open(), open()]);
    stores.push(a, b);
    return [a, b];
  };
}

/** Rows of `messages` and entries of its indexes read by this connection's transaction so far. */
const READ_SO_FAR = `
SELECT sum(pg_stat_get_xact_tuples_returned(oid))::int AS n FROM pg_class
WHERE oid = 'messages'::regclass OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'messages'::regclass)`;

/**
 * Rows of `messages` and index entries that `work` reads, as PostgreSQL counts them: the work of a
 * statement whatever plan was chosen. The counters also hold earlier transactions of the connection
 * until they are reported (not within a transaction), hence the difference, taken in one that is
 * rolled back. `genericPlan`: every statement is planned generically, as a prepared statement is
 * after a few runs.
 */
export async function rowsReadBy(store: PostgresStore, work: (db: Queryable) => Promise<unknown>, { genericPlan = false } = {}): Promise<number> {
  const client = await store.pool.connect();
  try {
    if (genericPlan) await client.query('SET plan_cache_mode = force_generic_plan');
    await client.query('BEGIN');
    const before = (await client.query<{ n: number }>(READ_SO_FAR)).rows[0]!.n;
    await work(client as unknown as Queryable);
    return (await client.query<{ n: number }>(READ_SO_FAR)).rows[0]!.n - before;
  } finally {
    await client.query('ROLLBACK');
    if (genericPlan) await client.query('RESET plan_cache_mode');
    client.release();
  }
}
