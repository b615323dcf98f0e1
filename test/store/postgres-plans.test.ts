import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { appendMessages } from '../../src/store/postgres/sql/append-messages.js';
import { claimLanes } from '../../src/store/postgres/sql/claim-lanes.js';
import { leaseBatch } from '../../src/store/postgres/sql/lease-batch.js';
import { ackReceipts } from '../../src/store/postgres/sql/settle-receipts.js';
import type { Queryable } from '../../src/store/postgres/sql/queryable.js';
import { newMessage } from './store-contract.js';
import { describePostgres, rowsReadBy, tempPostgresStore } from './postgres-support.js';

/**
 * The hot statements keep their cost whatever plan a pooled connection cached: here every statement
 * is planned generically (as a prepared statement is after a few runs) with statistics taken while
 * `messages` was empty, the worst case a fresh database meets.
 */
describePostgres('PostgreSQL store: plans made while the table was empty', () => {
  let store: PostgresStore;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ store, cleanup } = await tempPostgresStore());
    await store.pool.query('ANALYZE messages');
    await store.appendMessages(Array.from({ length: 5_000 }, () => newMessage({ body: Buffer.alloc(0) })), 1_000);
  }, 120_000);
  afterAll(async () => cleanup?.());

  /** Rows of messages read by `work`, on a connection that plans every statement generically. */
  const readBy = (work: (db: Queryable) => Promise<void>) => rowsReadBy(store, work, { genericPlan: true });

  it('an append of 10 reads a few rows of messages, not the table', async () => {
    const read = await readBy(async (db) => {
      const batch = Array.from({ length: 10 }, (_, i) => newMessage({ dedupe: { scope: 's', key: `k${i % 5}`, expiresAt: 99_000 } }));
      const results = await appendMessages(db, batch, 1_000);
      expect(results.filter((result) => result.duplicate)).toHaveLength(5);
    });
    expect(read).toBeLessThan(100);
  });

  it('a lease of 10 and its ack read a few rows, not the table', async () => {
    const read = await readBy(async (db) => {
      const leased = await leaseBatch(db, 'q', 10, 'tok', 60_000, 1_000);
      expect(leased).toHaveLength(10);
      const acked = await ackReceipts(db, 'q', leased.map((row) => String(row.id)), leased.map(() => 'tok'), 1_000);
      expect(acked).toHaveLength(10);
    });
    expect(read).toBeLessThan(200);
  });

  it('a claim of one lane reads a few rows, not the table', async () => {
    const read = await readBy(async (db) => {
      await claimLanes(db, [{ lane: { queue: 'q', domain: 'none.test' }, max: 5 }, { lane: { queue: 'q', domain: 'none.test' }, max: 5, strict: true }], 'abcdefghijkl-tok', 'abcdefghijkl', 60_000, 1_000);
    });
    expect(read).toBeLessThan(100);
  });
});
