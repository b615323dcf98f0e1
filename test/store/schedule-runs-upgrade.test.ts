import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { MIGRATIONS as POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { newMessage } from './store-contract.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from './postgres-support.js';

/** Schedules stored before runs were counted (SQLite 9, PostgreSQL 7) read as 0 runs and count on from there. */
async function expectCountsFromZero(store: Store): Promise<void> {
  expect(await store.listSchedules()).toMatchObject([{ name: 'old', runs: 0, nextRunAt: 1_000, lastRunAt: 500 }]);
  expect(await store.fireSchedule('old', { runAt: 1_000, runs: 0 }, 2_000, [newMessage()], 1_000)).toBe(true);
  expect(await store.listSchedules()).toMatchObject([{ name: 'old', runs: 1, nextRunAt: 2_000, lastRunAt: 1_000 }]);
}

it('SQLite: a database of version 8 gets the run count, 0 for its schedules', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-runs-'));
  try {
    const path = join(dir, 'sluice.db');
    const old = new Database(path);
    for (const migration of SQLITE_MIGRATIONS.filter((candidate) => candidate.version <= 8)) old.exec(migration.sql);
    old.pragma('user_version = 8');
    old.prepare(`INSERT INTO schedules (name, tenant, spec, paused, next_run_at, last_run_at, created_at) VALUES ('old', 'default', '{}', 0, 1000, 500, 0)`).run();
    old.close();
    const store = new SqliteStore(path, 'os');
    await expectCountsFromZero(store);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describePostgres('PostgreSQL: upgrading to counted runs', () => {
  it('a schema of version 6 gets the run count, 0 for its schedules', async () => {
    const schema = freshSchema();
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const migration of POSTGRES_MIGRATIONS.filter((candidate) => candidate.version <= 6)) {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      }
      await client.query(`INSERT INTO schedules (name, tenant, spec, paused, next_run_at, last_run_at, created_at) VALUES ('old', 'default', '{}', false, 1000, 500, 0)`);
    } finally {
      await client.end();
    }
    const store = await PostgresStore.open({ connectionString: postgresUrl, schema, poolSize: 2 });
    try {
      await expectCountsFromZero(store);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });
});
