import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { LeasedMessage } from '../../src/store/types.js';
import { rowsRead } from './rows-read.js';
import { newMessage } from './store-contract.js';

let store: SqliteStore;
let dir: string;
afterEach(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(): SqliteStore {
  dir = mkdtempSync(join(tmpdir(), 'sluice-bounded-'));
  store = new SqliteStore(join(dir, 'sluice.db'), 'os');
  return store;
}

async function leaseAll(total: number): Promise<LeasedMessage[]> {
  for (let at = 0; at < total; at += 5_000) await store.appendMessages(Array.from({ length: 5_000 }, () => newMessage()), 1_000);
  const leased: LeasedMessage[] = [];
  for (let at = 0; at < total; at += 1_000) leased.push(...(await store.leaseBatch('q', 1_000, 3_600_000, 1_000)));
  expect(leased).toHaveLength(total);
  return leased;
}

describe('pull reads never pass over open leases', () => {
  it('a pull of 1 behind 20,000 open leases reads about one row, after a nack and at every pull', async () => {
    open();
    const leased = await leaseAll(20_000);
    // The oldest goes back to ready below 19,999 open leases. Before, the scan start moved back to
    // it and every read walked the open leases above it: one statement per leased row for a pull
    // of 1 (19,999), again at each stats refresh; pages that grew still read 10,000 rows a pull.
    await store.nack('q', [leased[0]!.receipt], 0, 1_000, 10);
    let pulled: LeasedMessage[] = [];
    expect(await rowsRead(store, async () => (pulled = await store.leaseBatch('q', 1, 3_600_000, 1_000)))).toBeLessThanOrEqual(4);
    expect(pulled.map((m) => m.id)).toEqual([leased[0]!.id]);
    expect(await rowsRead(store, () => store.leaseBatch('q', 1, 3_600_000, 1_000))).toBeLessThanOrEqual(2);
    expect(await rowsRead(store, () => store.queueCounts())).toBeLessThanOrEqual(2);
    expect((await store.queueCounts()).get('q')?.states).toMatchObject({ ready: 0, leased: 20_000 });

    // Many go back at once (a nack of a whole batch in the middle): each pull still reads what it gets.
    await store.nack('q', leased.slice(5_000, 6_000).map((m) => m.receipt), 0, 1_000, 10);
    for (let i = 0; i < 3; i += 1) {
      expect(await rowsRead(store, async () => (pulled = await store.leaseBatch('q', 10, 3_600_000, 1_000)))).toBeLessThanOrEqual(25);
      expect(pulled.map((m) => m.id)).toEqual(leased.slice(5_000 + i * 10, 5_010 + i * 10).map((m) => m.id));
    }

    // A message that arrives now comes after the older ones that went back, FIFO.
    const [fresh] = await store.appendMessages([newMessage()], 2_000);
    const rest = await store.leaseBatch('q', 1_000, 3_600_000, 2_000);
    expect(rest.map((m) => m.id)).toEqual([...leased.slice(5_030, 6_000).map((m) => m.id), fresh!.id]);
  });

  it('after a restart with open leases, the first pull reads what it gets, not the leases before it', async () => {
    open();
    const leased = await leaseAll(20_000);
    await store.nack('q', leased.slice(10_000, 10_002).map((m) => m.receipt), 0, 1_000, 10);
    await store.close();
    store = new SqliteStore(join(dir, 'sluice.db'), 'os');
    let pulled: LeasedMessage[] = [];
    expect(await rowsRead(store, async () => (pulled = await store.leaseBatch('q', 5, 3_600_000, 1_500)))).toBeLessThanOrEqual(10);
    expect(pulled.map((m) => m.id)).toEqual(leased.slice(10_000, 10_002).map((m) => m.id));
    expect(await rowsRead(store, () => store.queueCounts())).toBeLessThanOrEqual(2);
  });
});
