import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { listMessages } from '../../src/store/postgres/sql/list-messages.js';
import type { ListMessagesFilter } from '../../src/store/types.js';
import { newMessage } from './store-contract.js';
import { describePostgres, rowsReadBy, tempPostgresStore } from './postgres-support.js';

const BULK = 20_000;

describePostgres('PostgreSQL store: listings over 20,000 messages', () => {
  let store: PostgresStore;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ store, cleanup } = await tempPostgresStore());
    for (let at = 0; at < BULK; at += 5_000) {
      await store.appendMessages(Array.from({ length: 5_000 }, () => newMessage({ queue: 'bulk', body: Buffer.alloc(0) })), 1_000);
    }
    // Statistics from when every message was ready, as a server without autovacuum keeps them.
    await store.pool.query('ANALYZE messages');
    await store.appendMessages([newMessage({ queue: 'small' }), newMessage({ queue: 'small' }), newMessage({ queue: 'small', tenant: 'acme', deliverAt: 9_000 })], 1_000);
    await store.appendMessages([newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })], 1_000);
    const [acked, dead] = await store.leaseBatch('small', 2, 60_000, 1_000);
    await store.ack('small', [acked!.receipt], 1_000);
    await store.nack('small', [dead!.receipt], 0, 1_000, 1);
    await store.leaseBatch('bulk', 1, 60_000, 1_000);
    await store.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 60_000, 1_000);
  }, 120_000);
  afterAll(async () => cleanup?.());

  it('a page reads a bounded number of rows, whatever the filter, with statistics from before', async () => {
    const filters: Omit<ListMessagesFilter, 'limit'>[] = [
      {},
      { state: 'ready' },
      { state: 'ready', queue: 'small' },
      { state: 'scheduled' },
      { state: 'inflight' },
      { state: 'dead' },
      { state: 'dead', queue: 'small', tenant: 'default' },
      { state: 'leased' },
      { state: 'acked' },
      { tenant: 'acme' },
      { tenant: 'acme', state: 'scheduled' },
    ];
    for (const filter of filters) {
      for (const limit of [1, 100]) {
        const rows = await rowsReadBy(store, (db) => listMessages(db, { ...filter, limit }));
        // Looked at: at most limit + 1 + 1,000 (one queue here holds many rows of a state), the rows
        // shown read again by key, and a probe or two for the queues.
        const bound = 2 * (limit + 1) + 1_000 + 10;
        expect({ filter, limit, rows: Math.min(rows, bound + 1) }).toEqual({ filter, limit, rows: Math.min(rows, bound) });
      }
    }
  });
});
