import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';
import { PostgresStore, type PostgresOptions } from '../../src/store/postgres/postgres-store.js';

/**
 * Where the PostgreSQL tests connect (locally postgres://postgres@127.0.0.1:5432/test). Missing: the
 * PostgreSQL tests are skipped with that reason, except in CI, where a missing database is a failure.
 */
export const postgresUrl = process.env.SLUICE_TEST_DATABASE_URL;
if (!postgresUrl && process.env.CI) {
  throw new Error('SLUICE_TEST_DATABASE_URL must be set in CI: the PostgreSQL store tests never skip there');
}

/** `describe(name, suite)` when PostgreSQL is configured; otherwise one skipped test that says why. */
export function describePostgres(name: string, suite: () => void): void {
  if (postgresUrl) describe(name, suite);
  else it.skip(`${name} (SLUICE_TEST_DATABASE_URL not set)`, () => {});
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
  const store = await PostgresStore.open({ connectionString: postgresUrl!, poolSize: 4, ...options, schema });
  return {
    store,
    schema,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}
