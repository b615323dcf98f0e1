import pg from 'pg';
import { expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { QUEUE_NAME_TAKEN, storedSize } from '../../src/store/types.js';
import { newMessage } from './store-contract.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from './postgres-support.js';

/** A schema at version 1, as a store of that version left it, holding what `fill` writes. */
async function versionOneSchema(fill: (client: pg.Client) => Promise<void>): Promise<string> {
  const schema = freshSchema();
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    await client.query(MIGRATIONS.find((migration) => migration.version === 1)!.sql);
    await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    await client.query(`INSERT INTO schema_migrations (version, name) VALUES (1, 'version 1')`);
    await fill(client);
  } finally {
    await client.end();
  }
  return schema;
}

describePostgres('PostgreSQL store: upgrading a schema', () => {
  it('a version-1 schema keeps its messages, which get their stored bytes and keep their queue name; keys get ids', async () => {
    const headers: [string, string][] = [['x-ü', 'ß']];
    const body = Buffer.from([1, 2, 3]);
    const schema = await versionOneSchema(async (client) => {
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO messages (queue, tenant, state, method, path, query, domain, received_at, deliver_at, updated_at, origin)
         VALUES ('q', 'a', 'ready', 'POST', '/', '', '', 1000, 1000, 1000, 'test') RETURNING id`,
      );
      await client.query('INSERT INTO payloads (id, headers, body) VALUES ($1, $2, $3)', [inserted.rows[0]!.id, JSON.stringify(headers), body]);
      await client.query(`INSERT INTO queues (name, tenant, config, created_at) VALUES ('defined', 'b', '{}', 0)`);
      await client.query(`INSERT INTO api_keys (hash, tenant, created_at) VALUES ('0123456789abcdef0123', 'a', 5)`);
    });
    const store = await PostgresStore.open({ connectionString: postgresUrl, schema, poolSize: 2 });
    try {
      expect((await store.queueCounts()).get('q')).toMatchObject({ states: { ready: 1 }, storedBytes: storedSize({ headers, body }) });
      expect(await store.listApiKeys()).toEqual([{ id: '0123456789abcdef', hash: '0123456789abcdef0123', tenant: 'a', createdAt: 5 }]);
      // Its messages' tenant owns the name, though the queue has no definition.
      await expect(store.upsertQueue({ name: 'q', tenant: 'b', config: {}, createdAt: 0 })).rejects.toMatchObject({ code: QUEUE_NAME_TAKEN });
      await store.upsertQueue({ name: 'q', tenant: 'a', config: {}, createdAt: 0 });
      const [fresh] = await store.appendMessages([newMessage({ tenant: 'a' })], 2_000);
      expect((await store.listMessages({ queue: 'q', limit: 10 })).messages.map((m) => m.id)).toEqual([fresh!.id, '1']);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });
});
