import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ThreadedStore } from '../../src/store/sqlite/store-thread.js';
import type { Store } from '../../src/store/store.js';
import { storedSize, type NewMessage } from '../../src/store/types.js';
import { newMessage } from './store-contract.js';
import { describePostgres, postgresUrl, tempPostgresStore } from './postgres-support.js';

/** How many payload rows the store holds: the body of a routed request must be there once. */
type PayloadRows = () => Promise<number>;

/** One routed request: the same body and headers to each queue, the first the lead. */
function routed(queues: string[], overrides: Partial<NewMessage> = {}): NewMessage[] {
  const body = Buffer.from('{"type":"invoice.paid","n":1}');
  const headers: [string, string][] = [['content-type', 'application/json'], ['x-event', 'invoice.paid']];
  return queues.map((queue, index) => newMessage({ queue, body, headers, ...overrides, payload: index === 0 ? 'lead' : { follows: index } }));
}

function routedPayloadContract(name: string, open: () => Promise<{ store: Store; payloadRows: PayloadRows; cleanup: () => Promise<void> }>): void {
  describe(`routed requests share one payload: ${name}`, () => {
    let store: Store;
    let payloadRows: PayloadRows;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ store, payloadRows, cleanup } = await open()));
    afterEach(async () => cleanup());

    it('stores the body once for three messages, and each reads it back whole', async () => {
      const group = routed(['a', 'b', 'c']);
      const results = await store.appendMessages([newMessage({ queue: 'x' }), ...group, newMessage({ queue: 'x' })], 1_000);
      expect(results.every((result) => !result.duplicate)).toBe(true);
      expect(new Set(results.map((result) => result.id)).size).toBe(5);
      expect(await payloadRows()).toBe(3); // x, the routed request once, x
      for (const [index, queue] of ['a', 'b', 'c'].entries()) {
        const stored = await store.getMessage(results[index + 1]!.id);
        expect(stored?.queue).toBe(queue);
        expect(stored?.body.toString()).toBe('{"type":"invoice.paid","n":1}');
        expect(stored?.headers).toContainEqual(['x-event', 'invoice.paid']);
      }
      const leased = await store.leaseBatch('b', 10, 30_000, 1_000);
      expect(leased.map((message) => message.body.toString())).toEqual(['{"type":"invoice.paid","n":1}']);
      const listed = await store.listMessages({ queue: 'c', limit: 10 });
      expect(listed.messages[0]?.headers).toContainEqual(['x-event', 'invoice.paid']);
    });

    it('push lanes claim routed messages with their payload', async () => {
      const group = routed(['a', 'b'], { domain: 'example.com', url: 'http://example.com/' });
      await store.appendMessages(group, 1_000);
      const [claimed] = await store.claimLanes([{ lane: { queue: 'b', domain: 'example.com' }, max: 5 }], 60_000, 1_000);
      expect(claimed?.map((message) => message.body.toString())).toEqual(['{"type":"invoice.paid","n":1}']);
    });

    it('a duplicate lead makes its followers duplicates too, answering with the first ids', async () => {
      const dedupe = { scope: 'source:s', key: 'evt_1', expiresAt: 50_000 };
      const first = await store.appendMessages(routed(['a', 'b'], { dedupe: undefined }).map((message, index) => (index === 0 ? { ...message, dedupe } : message)), 1_000);
      const again = await store.appendMessages(routed(['a', 'b']).map((message, index) => (index === 0 ? { ...message, dedupe } : message)), 2_000);
      expect(again.every((result) => result.duplicate)).toBe(true);
      expect(again.map((result) => result.id)).toEqual([first[0]!.id, first[0]!.id]);
      expect((await store.queueCounts()).get('b')?.states.ready).toBe(1);
      expect(await payloadRows()).toBe(1);
    });

    it('a key repeated inside one batch: the second request and its followers store nothing', async () => {
      const dedupe = { scope: 'source:s', key: 'evt_2', expiresAt: 50_000 };
      const withKey = () => routed(['a', 'b', 'c']).map((message, index) => (index === 0 ? { ...message, dedupe } : message));
      const results = await store.appendMessages([...withKey(), newMessage({ queue: 'x' }), ...withKey()], 1_000);
      expect(results.slice(0, 4).every((result) => !result.duplicate)).toBe(true);
      expect(results.slice(4).every((result) => result.duplicate && result.id === results[0]!.id)).toBe(true);
      expect((await store.queueCounts()).get('c')?.states.ready).toBe(1);
      expect(await payloadRows()).toBe(2);
    });

    it('the payload stays while any message of the request is stored, and goes with the last', async () => {
      const results = await store.appendMessages(routed(['a', 'b']), 1_000);
      const bytes = storedSize(routed(['a'])[0]!);
      for (const [queue, result] of [['a', results[0]!], ['b', results[1]!]] as const) {
        const [leased] = await store.leaseBatch(queue, 1, 30_000, 1_000);
        expect(leased?.id).toBe(result.id);
        await store.ack(queue, [leased!.receipt], 1_000);
      }
      expect((await store.queueCounts()).get('a')?.storedBytes).toBe(bytes); // each message counts the payload it names
      // Purge in two steps by deleting the lead's queue first: the follower still reads its body.
      const deletion = await store.deleteQueue('a', true);
      expect(deletion.messages).toBe(1);
      expect(await payloadRows()).toBe(1);
      expect((await store.getMessage(results[1]!.id))?.body.toString()).toBe('{"type":"invoice.paid","n":1}');
      await store.purge(Number.MAX_SAFE_INTEGER, 2_000, 1_000);
      expect(await store.getMessage(results[1]!.id)).toBeUndefined();
      expect(await payloadRows()).toBe(0);
      expect((await store.queueCounts()).get('b')?.storedBytes ?? 0).toBe(0);
    });

    it('purge of both at once removes the shared payload', async () => {
      const results = await store.appendMessages([...routed(['a', 'b']), newMessage({ queue: 'x' })], 1_000);
      for (const queue of ['a', 'b']) {
        const [leased] = await store.leaseBatch(queue, 1, 30_000, 1_000);
        await store.ack(queue, [leased!.receipt], 1_000);
      }
      await store.purge(Number.MAX_SAFE_INTEGER, 2_000, 1_000);
      expect(await store.getMessage(results[0]!.id)).toBeUndefined();
      expect(await payloadRows()).toBe(1); // x's, still ready
    });
  });
}

function sqliteVariant(threaded: boolean) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-routed-'));
    const file = join(dir, 'sluice.db');
    const store = threaded ? ThreadedStore.open(file, 'fsync') : new SqliteStore(file, 'fsync');
    const payloadRows = async () => {
      await store.ping(); // everything written before is committed
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM payloads').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    return { store, payloadRows, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  };
}

routedPayloadContract('sqlite', sqliteVariant(false));
routedPayloadContract('sqlite on its own thread', sqliteVariant(true));

describePostgres('routed payloads on PostgreSQL', () =>
  routedPayloadContract('postgres', async () => {
    const { store, schema, cleanup } = await tempPostgresStore();
    const payloadRows = async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        return Number((await client.query(`SELECT count(*) AS n FROM ${schema}.payloads`)).rows[0].n);
      } finally {
        await client.end();
      }
    };
    return { store, payloadRows, cleanup };
  }),
);

it('a routed request crosses to the store thread with its body once', async () => {
  const { packBodies } = await import('../../src/store/sqlite/thread-protocol.js');
  const packed = packBodies([routed(['a', 'b', 'c']), 1_000]);
  expect(packed.transfer[0]?.byteLength).toBe(Buffer.byteLength('{"type":"invoice.paid","n":1}'));
});
