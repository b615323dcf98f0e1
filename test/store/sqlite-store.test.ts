import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ThreadedStore } from '../../src/store/sqlite/store-thread.js';
import { newMessage, storeContract } from './store-contract.js';

function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  const store = new SqliteStore(join(dir, 'sluice.db'), 'fsync');
  return { store, dir, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

storeContract('sqlite', async () => tempStore());

storeContract('sqlite on its own thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  const store = ThreadedStore.open(join(dir, 'sluice.db'), 'fsync');
  return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});

it('keeps depth counts across a reopen without scanning messages', async () => {
  const { store, dir } = tempStore();
  await store.appendMessages([newMessage(), newMessage()], 1_000);
  await store.leaseBatch('q', 1, 1_000, 1_000);
  await store.close();
  const reopened = new SqliteStore(join(dir, 'sluice.db'), 'os');
  expect((await reopened.queueCounts()).get('q')?.states).toMatchObject({ ready: 1, leased: 1 });
  await reopened.close();
  rmSync(dir, { recursive: true, force: true });
});

it('rolls back a failed batch whole, counts included', async () => {
  const { store, cleanup } = tempStore();
  const bad = newMessage({ queue: null as unknown as string });
  await expect(store.appendMessages([newMessage(), bad], 1_000)).rejects.toThrow();
  expect((await store.queueCounts()).get('q')?.states.ready ?? 0).toBe(0);
  expect(await store.listMessages({ limit: 10 })).toEqual([]);
  await cleanup();
});
