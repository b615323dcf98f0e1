import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ThreadedStore } from '../../src/store/sqlite/store-thread.js';
import type { Store } from '../../src/store/store.js';
import { newMessage } from './store-contract.js';
import { describePostgres, tempPostgresStore } from './postgres-support.js';

const T = 1_000;
const limits = new Map([['q', 10]]);

/** Append one message per priority given, in that order; their ids by a label. */
async function appendAll(store: Store, entries: [label: string, priority: number][], extra: Parameters<typeof newMessage>[0] = {}) {
  const results = await store.appendMessages(
    entries.map(([label, priority]) => newMessage({ priority, body: Buffer.from(label), ...extra })),
    T,
  );
  return new Map(entries.map(([label], index) => [results[index]!.id, label]));
}

function priorityContract(name: string, open: () => Promise<{ store: Store; reopen?: () => Promise<Store>; cleanup: () => Promise<void> }>): void {
  describe(`priorities: ${name}`, () => {
    let store: Store;
    let reopen: (() => Promise<Store>) | undefined;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ store, reopen, cleanup } = await open()));
    afterEach(async () => cleanup());

    const bodies = (messages: { body: Buffer }[]) => messages.map((message) => message.body.toString());

    it('a pull lease takes the most urgent first, FIFO within a priority', async () => {
      await appendAll(store, [['a5', 5], ['b9', 9], ['c1', 1], ['d9', 9], ['e5', 5], ['f0', 0]]);
      const leased = await store.leaseBatch('q', 10, 30_000, T);
      expect(bodies(leased)).toEqual(['b9', 'd9', 'a5', 'e5', 'c1', 'f0']);
      expect(leased.map((message) => message.priority)).toEqual([9, 9, 5, 5, 1, 0]);
    });

    it('a later urgent message goes before older ones still waiting, and a returned one before both', async () => {
      await appendAll(store, [['a5', 5], ['b5', 5], ['c5', 5], ['d1', 1]]);
      expect(bodies(await store.leaseBatch('q', 1, 30_000, T))).toEqual(['a5']);
      await appendAll(store, [['u9', 9]]);
      const [urgent] = await store.leaseBatch('q', 1, 30_000, T);
      expect(urgent?.body.toString()).toBe('u9');
      await store.nack('q', [urgent!.receipt], 0, T, 10);
      expect(bodies(await store.leaseBatch('q', 2, 30_000, T))).toEqual(['u9', 'b5']);
      expect(bodies(await store.leaseBatch('q', 5, 30_000, T))).toEqual(['c5', 'd1']);
      expect(await store.leaseBatch('q', 5, 30_000, T)).toEqual([]);
    });

    it('nothing is leased twice while priorities interleave with nacks and expiries', async () => {
      const labels = await appendAll(store, Array.from({ length: 40 }, (_, index) => [`m${index}`, index % 10] as [string, number]));
      const seen = new Set<string>();
      let now = T;
      for (let round = 0; round < 30; round += 1) {
        const batch = await store.leaseBatch('q', 3, round % 3 === 0 ? 1 : 30_000, now);
        for (const message of batch) {
          expect(seen.has(message.id)).toBe(false);
          if (round % 3 !== 0) seen.add(message.id);
        }
        if (round % 3 === 1 && batch[0]) {
          await store.nack('q', [batch[0].receipt], 0, now, 10);
          seen.delete(batch[0].id);
        }
        now += 10;
        await store.wake(now, limits); // leases of 1 ms run out
      }
      let rest = await store.leaseBatch('q', 100, 30_000, now);
      for (const message of rest) expect(seen.has(message.id)).toBe(false);
      rest = rest.concat(await store.leaseBatch('q', 100, 30_000, now));
      expect(new Set([...seen, ...rest.map((message) => message.id)])).toEqual(new Set(labels.keys()));
    });

    it('a scheduled urgent message, once due, is leased first', async () => {
      await appendAll(store, [['a5', 5], ['b1', 1]]);
      await store.appendMessages([newMessage({ priority: 8, body: Buffer.from('later8'), deliverAt: T + 500 })], T);
      expect(bodies(await store.leaseBatch('q', 10, 30_000, T))).toEqual(['a5', 'b1']);
      await store.appendMessages([newMessage({ body: Buffer.from('c5') })], T);
      await store.wake(T + 600, limits);
      expect(bodies(await store.leaseBatch('q', 10, 30_000, T + 600))).toEqual(['later8', 'c5']);
    });

    it('the oldest ready age is the oldest message, whatever the priorities', async () => {
      await store.appendMessages([newMessage({ priority: 1, receivedAt: 100 }), newMessage({ priority: 9, receivedAt: 200 }), newMessage({ receivedAt: 300 })], T);
      expect((await store.queueCounts()).get('q')?.oldestReadyAt).toBe(100);
    });

    it('a lane is claimed most urgent first, FIFO within a priority', async () => {
      const push = { domain: 'example.com', url: 'http://example.com/' };
      await appendAll(store, [['a1', 1], ['b1', 1], ['c5', 5], ['d9', 9], ['e1', 1]], push);
      const lane = { queue: 'q', domain: 'example.com' };
      const [first] = await store.claimLanes([{ lane, max: 3 }], T + 60_000, T);
      expect(bodies(first!)).toEqual(['d9', 'c5', 'a1']);
      const [heads] = await store.claimLanes([{ lane, max: 1 }], T + 60_000, T);
      expect(bodies(heads!)).toEqual(['b1']);
    });

    it('leases and priorities survive a restart', async () => {
      if (!reopen) return;
      await appendAll(store, [['a1', 1], ['b9', 9], ['c5', 5], ['d9', 9]]);
      expect(bodies(await store.leaseBatch('q', 1, 30_000, T))).toEqual(['b9']);
      store = await reopen();
      expect(bodies(await store.leaseBatch('q', 10, 30_000, T))).toEqual(['d9', 'c5', 'a1']);
    });
  });
}

function sqlite(threaded: boolean) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-priority-'));
    const file = join(dir, 'sluice.db');
    const make = () => (threaded ? ThreadedStore.open(file, 'fsync') : new SqliteStore(file, 'fsync'));
    let store: Store = make();
    return {
      store,
      reopen: async () => {
        await store.close();
        store = make();
        return store;
      },
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

priorityContract('sqlite', sqlite(false));
priorityContract('sqlite on its own thread', sqlite(true));
describePostgres('priorities on PostgreSQL', () => priorityContract('postgres', () => tempPostgresStore()));

it('a leased message shows its priority', async () => {
  const { store, cleanup } = await sqlite(false)();
  try {
    await store.appendMessages([newMessage({ priority: 7 })], T);
    expect((await store.listMessages({ limit: 5 })).messages[0]?.priority).toBe(7);
  } finally {
    await cleanup();
  }
});
