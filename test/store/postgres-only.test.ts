import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import type { Store } from '../../src/store/store.js';
import { newMessage } from './store-contract.js';
import { dropSchema, freshSchema, postgresUrl, tempPostgresStore } from './postgres-support.js';

/**
 * What only a shared database can show: two stores on one schema are two nodes. None of these
 * assert timing; concurrency comes from Promise.all over real connections.
 */
describe.skipIf(!postgresUrl)('PostgreSQL store: two nodes on one schema', () => {
  const schemas: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await Promise.all(schemas.splice(0).map(dropSchema));
  });

  /** Two stores opened together on one fresh schema (they migrate it concurrently). */
  async function twoNodes(): Promise<[PostgresStore, PostgresStore]> {
    const schema = freshSchema();
    schemas.push(schema);
    const open = () => PostgresStore.open({ connectionString: postgresUrl!, schema, poolSize: 4 });
    const [a, b] = await Promise.all([open(), open()]);
    stores.push(a, b);
    return [a, b];
  }

  it('two nodes starting together migrate once', async () => {
    const [a] = await twoNodes();
    const versions = await a.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.rows.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('SKIP LOCKED: leasing from both nodes at once never hands one message to both', async () => {
    const [a, b] = await twoNodes();
    const appended = await a.appendMessages(Array.from({ length: 300 }, () => newMessage()), 1_000);
    const drain = async (store: Store) => {
      const got: string[] = [];
      for (;;) {
        const batch = await store.leaseBatch('q', 7, 60_000, 1_000);
        if (batch.length === 0) return got;
        got.push(...batch.map((m) => m.id));
      }
    };
    // Two consumers on each node, all draining at once.
    const all = (await Promise.all([drain(a), drain(b), drain(a), drain(b)])).flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(appended.map((r) => r.id).sort());
  });

  it('a lease that expired is taken over by the other node, and the first receipt is stale', async () => {
    const [a, b] = await twoNodes();
    const [m] = await a.appendMessages([newMessage()], 1_000);
    const [first] = await a.leaseBatch('q', 1, 100, 1_000);
    expect(await b.leaseBatch('q', 1, 100, 1_050)).toEqual([]); // still leased by a
    await b.wake(1_100, new Map());
    const [second] = await b.leaseBatch('q', 1, 5_000, 1_100);
    expect(second).toMatchObject({ id: m!.id, attempts: 2 });
    expect(await a.ack('q', [first!.receipt], 1_200)).toEqual({ acked: 0, stale: [first!.receipt] });
    expect((await b.ack('q', [second!.receipt], 1_200)).acked).toBe(1);
  });

  it('an expired push claim comes back on the other node', async () => {
    const [a, b] = await twoNodes();
    const [m] = await a.appendMessages([newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })], 1_000);
    await a.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 2_000, 1_000);
    expect(await b.nextWakeAt()).toBe(2_000);
    expect((await b.wake(2_000, new Map())).lanes).toEqual([{ queue: 'p', domain: 'a.test' }]);
    const [claimed] = await b.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 9_000, 2_000);
    expect(claimed!.map((x) => x.id)).toEqual([m!.id]);
  });

  // Contract gap (src/store/postgres/README.md): claims carry no token, so node a's late outcome
  // lands on the claim node b holds now. `fails` keeps this visible until the contract gets a token.
  it.fails('a late outcome from a node whose claim expired does not overwrite the new claim', async () => {
    const [a, b] = await twoNodes();
    const [m] = await a.appendMessages([newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })], 1_000);
    await a.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 2_000, 1_000);
    await b.wake(2_000, new Map());
    await b.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 9_000, 2_000);
    await a.completeDeliveries([{ id: m!.id, kind: 'delivered', attempt: { attempt: 1, startedAt: 1_000, latencyMs: 5, status: 200 } }], 2_500);
    expect(await b.getMessage(m!.id)).toMatchObject({ state: 'inflight' });
  });

  it('the same dedupe key sent to both nodes at once stores one message', async () => {
    const [a, b] = await twoNodes();
    const dedupe = { scope: 's', key: 'k', expiresAt: 9_000 };
    const results = await Promise.all([a, b, a, b].map((store) => store.appendMessages([newMessage({ dedupe })], 1_000)));
    const answers = results.map((r) => r[0]!);
    expect(new Set(answers.map((r) => r.id)).size).toBe(1);
    expect(answers.filter((r) => !r.duplicate)).toHaveLength(1);
    expect((await a.queueCounts()).get('q')!.states.ready).toBe(1);
  });

  it('a schedule tick fired by both nodes at once fires once', async () => {
    const [a, b] = await twoNodes();
    await a.upsertSchedule({ name: 's', tenant: 'default', spec: {}, paused: false, nextRunAt: 1_000, createdAt: 0 });
    const fired = await Promise.all([a, b].map((store) => store.fireSchedule('s', 1_000, 2_000, [newMessage()], 1_000)));
    expect(fired.filter(Boolean)).toHaveLength(1);
    expect((await b.queueCounts()).get('q')!.states.ready).toBe(1);
  });
});

describe.skipIf(!postgresUrl)('PostgreSQL store: one node', () => {
  it('never reuses an id, even after the newest message was purged', async () => {
    const { store, cleanup } = await tempPostgresStore();
    const [first] = await store.appendMessages([newMessage()], 1_000);
    const [leased] = await store.leaseBatch('q', 1, 5_000, 1_000);
    await store.ack('q', [leased!.receipt], 1_000);
    expect(await store.purge(2_000, 2_000, 100)).toBe(1);
    const [next] = await store.appendMessages([newMessage()], 3_000);
    expect(BigInt(next!.id) > BigInt(first!.id)).toBe(true);
    await cleanup();
  });

  it('rolls back a failed batch whole', async () => {
    const { store, cleanup } = await tempPostgresStore();
    await expect(store.appendMessages([newMessage(), newMessage({ queue: null as unknown as string })], 1_000)).rejects.toThrow();
    expect(await store.listMessages({ limit: 10 })).toEqual([]);
    await cleanup();
  });

  it('keeps a large binary body byte for byte', async () => {
    const { store, cleanup } = await tempPostgresStore();
    const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    const [m] = await store.appendMessages([newMessage({ body })], 1_000);
    expect((await store.getMessage(m!.id))!.body.equals(body)).toBe(true);
    await cleanup();
  });

  it('an unreachable database fails open with the URL named and its password hidden', async () => {
    const url = 'postgres://sluice:secret-pw@127.0.0.1:1/nowhere';
    const opening = PostgresStore.open({ connectionString: url, schema: freshSchema() });
    await expect(opening).rejects.toThrow(/127\.0\.0\.1:1/);
    await expect(opening).rejects.not.toThrow(/secret-pw/);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(PostgresStore.open({ connectionString: postgresUrl!, schema: 'x; DROP TABLE y' })).rejects.toThrow(/schema must be/);
  });
});
