import { afterEach, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import type { DeliveryOutcome, Store, StoredMessage } from '../../src/store/store.js';
import { newMessage } from './store-contract.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl, tempPostgresStore, twoNodeStores } from './postgres-support.js';

/**
 * What only a shared database can show: two stores on one schema are two nodes. None of these
 * assert timing; concurrency comes from Promise.all over real connections.
 */
describePostgres('PostgreSQL store: two nodes on one schema', () => {
  const twoNodes = twoNodeStores();

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

  it('a late outcome from a node whose claim expired changes nothing: the claim token no longer matches', async () => {
    const [a, b] = await twoNodes();
    const lane = { queue: 'p', domain: 'a.test' };
    const [m] = await a.appendMessages([newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })], 1_000);
    const [[first]] = (await a.claimLanes([{ lane, max: 1 }], 2_000, 1_000)) as [[StoredMessage]];
    await b.wake(2_000, new Map());
    const [[second]] = (await b.claimLanes([{ lane, max: 1 }], 9_000, 2_000)) as [[StoredMessage]];
    expect(second.claim).not.toBe(first.claim);
    const attempt = { attempt: 1, startedAt: 1_000, latencyMs: 5, status: 200 };
    // Every kind of outcome node a could still send for its old claim.
    for (const late of [
      { id: m!.id, claim: first.claim, kind: 'delivered', attempt },
      { id: m!.id, claim: first.claim, kind: 'hold', attempt, leaseUntil: 99_000 },
      { id: m!.id, claim: first.claim, kind: 'release' },
    ] as DeliveryOutcome[]) {
      await a.completeDeliveries([late], 2_500);
    }
    expect(await b.getMessage(m!.id)).toMatchObject({ state: 'inflight', leaseUntil: 9_000, attempts: 0 });
    expect(await b.getAttempts(m!.id)).toEqual([]);
    await b.completeDeliveries([{ id: m!.id, claim: second.claim, kind: 'delivered', attempt }], 2_600);
    expect(await a.getMessage(m!.id)).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(await a.getAttempts(m!.id)).toEqual([attempt]);
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
    const fired = await Promise.all([a, b].map((store) => store.fireSchedule('s', { runAt: 1_000, runs: 0 }, 2_000, [newMessage()], 1_000)));
    expect(fired.filter(Boolean)).toHaveLength(1);
    expect((await b.queueCounts()).get('q')!.states.ready).toBe(1);
    expect((await a.listSchedules())[0]).toMatchObject({ runs: 1, nextRunAt: 2_000 });
  });

  it('both nodes ticking one schedule: every tick fires once, none is lost', async () => {
    const [a, b] = await twoNodes();
    await a.upsertSchedule({ name: 's', tenant: 'default', spec: {}, paused: false, nextRunAt: 1_000, createdAt: 0 });
    // Each node acts like a scheduler: read the due tick, fire it, go on to the next.
    const ticker = async (store: Store) => {
      let fired = 0;
      for (;;) {
        const { nextRunAt: due, runs } = (await store.listSchedules())[0]!;
        if (due! > 20_000) return fired;
        if (await store.fireSchedule('s', { runAt: due!, runs: runs! }, due! + 1_000, [newMessage({ receivedAt: due! })], due!)) fired += 1;
      }
    };
    const fired = await Promise.all([ticker(a), ticker(b), ticker(a), ticker(b)]);
    expect(fired.reduce((sum, n) => sum + n, 0)).toBe(20);
    expect((await b.listSchedules())[0]!.runs).toBe(20);
    const { messages } = await a.listMessages({ queue: 'q', limit: 100 });
    expect(messages.map((m) => m.receivedAt).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 1_000));
  });

  it('many dedupe keys sent to both nodes at once: one message per key, every answer names it', async () => {
    const [a, b] = await twoNodes();
    const batch = () => Array.from({ length: 50 }, (_, i) => newMessage({ dedupe: { scope: 's', key: `k${i}`, expiresAt: 9_000 } }));
    const results = await Promise.all([a, b, a, b].map((store) => store.appendMessages(batch(), 1_000)));
    for (let key = 0; key < 50; key += 1) {
      const answers = results.map((r) => r[key]!);
      expect(new Set(answers.map((r) => r.id)).size).toBe(1);
      expect(answers.filter((r) => !r.duplicate)).toHaveLength(1);
    }
    expect((await b.queueCounts()).get('q')!.states.ready).toBe(50);
  });

  it('ids are unique across nodes, increase with each append of a node, and leases come out in id order', async () => {
    const [a, b] = await twoNodes();
    const appendMany = async (store: Store) => {
      const ids: bigint[] = [];
      for (let i = 0; i < 20; i += 1) ids.push(...(await store.appendMessages(Array.from({ length: 10 }, () => newMessage()), 1_000)).map((r) => BigInt(r.id)));
      return ids;
    };
    const perNode = await Promise.all([appendMany(a), appendMany(b)]);
    for (const ids of perNode) expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    const all = perNode.flat();
    expect(new Set(all).size).toBe(400);
    const leased: bigint[] = [];
    for (let batch = await b.leaseBatch('q', 64, 60_000, 1_000); batch.length > 0; batch = await a.leaseBatch('q', 64, 60_000, 1_000)) {
      leased.push(...batch.map((m) => BigInt(m.id)));
    }
    expect(leased).toEqual([...all].sort((x, y) => (x < y ? -1 : 1)));
  });

  it('claiming one lane from both nodes at once never hands one message to both', async () => {
    const [a, b] = await twoNodes();
    const domains = ['a.test', 'b.test', 'c.test'];
    const appended = await a.appendMessages(
      Array.from({ length: 300 }, (_, i) => newMessage({ queue: 'p', domain: domains[i % 3]!, url: `http://${domains[i % 3]}/` })),
      1_000,
    );
    const drain = async (store: Store) => {
      const got: string[] = [];
      for (;;) {
        const claimed = (await store.claimLanes(domains.map((domain) => ({ lane: { queue: 'p', domain }, max: 5 })), 60_000, 1_000)).flat();
        if (claimed.length === 0) return got;
        got.push(...claimed.map((m) => m.id));
      }
    };
    const all = (await Promise.all([drain(a), drain(b), drain(a), drain(b)])).flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(appended.map((r) => r.id).sort());
  });

  it('both nodes waking at once move each expired lease once', async () => {
    const [a, b] = await twoNodes();
    const appended = await a.appendMessages(Array.from({ length: 300 }, () => newMessage()), 1_000);
    await a.leaseBatch('q', 300, 100, 1_000);
    const maxReceives = new Map([['q', 1]]); // received once: each expiry sends its message to dead
    const reports = await Promise.all([a.wake(1_100, maxReceives), b.wake(1_100, maxReceives), a.wake(1_100, maxReceives)]);
    const dead = reports.flatMap((report) => report.dead.map((d) => d.id));
    expect(dead.sort()).toEqual(appended.map((r) => r.id).sort());
    expect((await b.queueCounts()).get('q')!.states).toMatchObject({ leased: 0, dead: 300 });
  });

  it('a strict lane has one node at a time: the other claims none of it until the first node is done', async () => {
    const [a, b] = await twoNodes();
    const lane = { queue: 'p', domain: 'a.test' };
    await a.appendMessages(Array.from({ length: 6 }, () => newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })), 1_000);
    const [first] = await a.claimLanes([{ lane, max: 2, strict: true }], 60_000, 1_000);
    expect(first!.map((m) => m.id)).toEqual(['1', '2']);
    expect(await b.claimLanes([{ lane, max: 5, strict: true }], 60_000, 1_000)).toEqual([[]]);
    // The same node may claim more of its own lane; relaxed claims are not held back.
    const [more] = await a.claimLanes([{ lane, max: 1, strict: true }], 60_000, 1_000);
    expect(more!.map((m) => m.id)).toEqual(['3']);
    await a.completeDeliveries([...first!, ...more!].map((m) => ({ id: m.id, claim: m.claim, kind: 'delivered', attempt: { attempt: 1, startedAt: 1_000, latencyMs: 1 } }) as DeliveryOutcome), 1_100);
    const [then] = await b.claimLanes([{ lane, max: 5, strict: true }], 60_000, 1_200);
    expect(then!.map((m) => m.id)).toEqual(['4', '5', '6']);
  });

  it('two nodes claiming one strict lane at the same moment: never both get messages of it', async () => {
    const [a, b] = await twoNodes();
    const lane = { queue: 'p', domain: 'a.test' };
    await a.appendMessages(Array.from({ length: 40 }, () => newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })), 1_000);
    const seen: string[] = [];
    for (let round = 0; round < 20; round += 1) {
      const [[fromA], [fromB]] = await Promise.all([a, b].map((store) => store.claimLanes([{ lane, max: 2, strict: true }], 60_000, 1_000)));
      expect(fromA!.length === 0 || fromB!.length === 0).toBe(true);
      const winner = fromA!.length > 0 ? a : b;
      const claimed = [...fromA!, ...fromB!];
      seen.push(...claimed.map((m) => m.id));
      await winner.completeDeliveries(claimed.map((m) => ({ id: m.id, claim: m.claim, kind: 'delivered', attempt: { attempt: 1, startedAt: 1_000, latencyMs: 1 } }) as DeliveryOutcome), 1_100);
    }
    // In order, each once.
    expect(seen).toEqual(seen.map(Number).sort((x, y) => x - y).map(String));
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describePostgres('PostgreSQL store: one node', () => {
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

  it('applies several outcomes of one message in one batch in their order (a strict hold, then the delivery)', async () => {
    const { store, cleanup } = await tempPostgresStore();
    const [m] = await store.appendMessages([newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })], 1_000);
    const [[claimed]] = (await store.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 60_000, 1_000)) as [[StoredMessage]];
    const failed = { attempt: 1, startedAt: 1_000, latencyMs: 5, status: 503, error: 'HTTP 503' };
    const delivered = { attempt: 2, startedAt: 1_500, latencyMs: 5, status: 200 };
    await store.completeDeliveries(
      [
        { id: m!.id, claim: claimed.claim, kind: 'hold', attempt: failed, leaseUntil: 70_000 },
        { id: m!.id, claim: claimed.claim, kind: 'delivered', attempt: delivered },
      ],
      1_600,
    );
    expect(await store.getMessage(m!.id)).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(await store.getAttempts(m!.id)).toEqual([failed, delivered]);
    await cleanup();
  });

  it('rolls back a failed batch whole', async () => {
    const { store, cleanup } = await tempPostgresStore();
    await expect(store.appendMessages([newMessage(), newMessage({ queue: null as unknown as string })], 1_000)).rejects.toThrow();
    expect(await store.listMessages({ limit: 10 })).toEqual({ messages: [] });
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
    await expect(PostgresStore.open({ connectionString: postgresUrl, schema: 'x; DROP TABLE y' })).rejects.toThrow(/schema must be/);
  });
});
