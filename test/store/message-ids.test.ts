import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newMessage } from './store-contract.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ids-'));
  dirs.push(dir);
  return join(dir, 'sluice.db');
}

const ids = (results: { id: string }[]) => results.map((result) => Number(result.id));

/** Cancel the given messages and let retention delete them (cancelled is finished). */
async function purgeNewest(store: SqliteStore, newest: number[], now: number): Promise<void> {
  for (const id of newest) expect(await store.cancel(String(id), now)).toBe('cancelled');
  expect(await store.purge(now + 1, now + 1, 1_000)).toBe(newest.length);
}

it('never gives a new message the id of one retention deleted, also across a restart', async () => {
  const path = tempPath();
  const store = new SqliteStore(path, 'os');
  const first = ids(await store.appendMessages([newMessage(), newMessage(), newMessage()], 1_000));
  await purgeNewest(store, first.slice(1), 2_000);
  const second = ids(await store.appendMessages([newMessage()], 3_000));
  expect(second[0]).toBeGreaterThan(Math.max(...first));

  await purgeNewest(store, second, 4_000);
  await store.close();
  const reopened = new SqliteStore(path, 'os');
  const third = ids(await reopened.appendMessages([newMessage()], 5_000));
  expect(third[0]).toBeGreaterThan(Math.max(...first, ...second));
  await reopened.close();
});

it('upgrading a version-3 database keeps its messages and goes on above every id still named', async () => {
  const path = tempPath();
  const old = new Database(path);
  for (const migration of MIGRATIONS.filter((candidate) => candidate.version <= 3)) old.exec(migration.sql);
  old.pragma('user_version = 3');
  const insert = old.prepare(
    `INSERT INTO messages (seq, queue, tenant, state, method, path, query, domain, received_at, deliver_at, updated_at, origin)
     VALUES (?, 'q', 'default', 'ready', 'POST', '/', '', '', 1000, 1000, 1000, 'test')`,
  );
  for (const seq of [1, 2, 3]) {
    insert.run(seq);
    old.prepare(`INSERT INTO payloads (seq, headers, body) VALUES (?, '[]', x'')`).run(seq);
  }
  // Message 9 is gone, but a dedupe key still answers with its id: 9 must not be issued again.
  old.prepare(`INSERT INTO dedupe (scope, key, message_seq, expires_at) VALUES ('s', 'k', 9, 9999999)`).run();
  old.close();

  const store = new SqliteStore(path, 'os');
  expect((await store.listMessages({ limit: 10 })).messages.map((message) => message.id)).toEqual(['3', '2', '1']);
  const [fresh] = ids(await store.appendMessages([newMessage()], 2_000));
  expect(fresh).toBe(10);
  await store.close();
});
