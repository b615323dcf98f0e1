import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ListMessagesFilter, MessageState, StoredMessage } from '../../src/store/types.js';
import { rowsRead } from './rows-read.js';
import { newMessage } from './store-contract.js';

let store: SqliteStore;
let dir: string;
const TOTAL = 200_000;
/** Most rows one page may read: its messages, one more, and the rows it may pass over (1,000). */
const bound = (limit: number) => 2 * (limit + 1) + 1_000;

/** Messages of one state, spread thin: a few in each stretch of the 200k others. */
const few: Record<string, string[]> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-listings-'));
  store = new SqliteStore(join(dir, 'sluice.db'), 'os');
  // 200,000 ready messages in one queue, and among them a few of every other kind.
  for (let at = 0; at < TOTAL; at += 20_000) {
    await store.appendMessages(Array.from({ length: 20_000 }, () => newMessage({ queue: 'bulk', body: Buffer.alloc(0) })), 1_000);
    const [leased, acked, dead, scheduled] = await store.appendMessages(
      [newMessage({ queue: 'small' }), newMessage({ queue: 'small' }), newMessage({ queue: 'small' }), newMessage({ queue: 'small', tenant: 'acme', deliverAt: 9_000_000 })],
      1_000,
    );
    const [lease, ack, die] = await store.leaseBatch('small', 3, 3_600_000, 1_000);
    await store.ack('small', [ack!.receipt], 1_000);
    await store.nack('small', [die!.receipt], 0, 1_000, 1);
    (few.leased ??= []).unshift(lease!.id);
    (few.acked ??= []).unshift(acked!.id);
    (few.dead ??= []).unshift(dead!.id);
    (few.scheduled ??= []).unshift(scheduled!.id);
    expect([lease!.id, ack!.id, die!.id]).toEqual([leased!.id, acked!.id, dead!.id]);
  }
}, 60_000);
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every message a listing gives, following its cursors; the most rows one page read. */
async function listAll(filter: Omit<ListMessagesFilter, 'before'>): Promise<{ ids: string[]; pages: number; mostRows: number }> {
  const ids: string[] = [];
  let before: string | undefined;
  let pages = 0;
  let mostRows = 0;
  do {
    let page!: { messages: StoredMessage[]; nextCursor?: string };
    mostRows = Math.max(mostRows, await rowsRead(store, async () => (page = await store.listMessages({ ...filter, before }))));
    ids.push(...page.messages.map((message) => message.id));
    before = page.nextCursor;
    pages += 1;
  } while (before !== undefined);
  return { ids, pages, mostRows };
}

describe('listings over 200,000 messages', () => {
  it('a first page reads a bounded number of rows, whatever the filter', async () => {
    const filters: Omit<ListMessagesFilter, 'limit'>[] = [
      { state: 'leased' },
      { state: 'leased', queue: 'bulk' },
      { state: 'ready' },
      { state: 'ready', queue: 'small' },
      { state: 'scheduled' },
      { state: 'dead', queue: 'small' },
      { state: 'inflight' },
      { state: 'acked' },
      { state: 'delivered' },
      { queue: 'small' },
      { tenant: 'acme' },
      { tenant: 'acme', state: 'scheduled' },
      {},
    ];
    for (const filter of filters) {
      for (const limit of [1, 100]) {
        const rows = await rowsRead(store, () => store.listMessages({ ...filter, limit }));
        // Before: `state=leased&limit=1` read all 200,040 rows, two per statement.
        expect({ filter, limit, rows: Math.min(rows, bound(limit) + 1) }).toEqual({ filter, limit, rows: Math.min(rows, bound(limit)) });
      }
    }
    expect((await store.listMessages({ state: 'leased', limit: 1 })).messages.map((m) => m.id)).toEqual(few.leased!.slice(0, 1));
  });

  it('following the cursors lists exactly what matches, newest first, even where pages end early', async () => {
    for (const state of ['leased', 'acked', 'dead', 'scheduled'] as MessageState[]) {
      const all = await listAll({ state, limit: 3 });
      expect({ state, ids: all.ids }).toEqual({ state, ids: few[state] });
      expect(all.mostRows).toBeLessThanOrEqual(bound(3));
    }
    const acme = await listAll({ tenant: 'acme', limit: 50 });
    expect(acme.ids).toEqual(few.scheduled);
    expect(acme.mostRows).toBeLessThanOrEqual(bound(50));
    const ready = await store.listMessages({ state: 'ready', queue: 'bulk', limit: 2 });
    expect(ready.messages.map((m) => Number(m.id))).toEqual([TOTAL + 40 - 4, TOTAL + 40 - 5].map((n) => n)); // the newest of bulk
  });

  it('reads every listing statement through an index or the primary key, without a sort', () => {
    const sql = (store as unknown as { sql: Record<string, { source: string }> }).sql;
    for (const name of ['listReady', 'listScheduled', 'listInflight', 'listDead', 'sweepDown']) {
      const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${sql[name]!.source}`).all(...(name === 'sweepDown' ? [1, 1] : ['q', 1, 1])) as { detail: string }[])
        .map((step) => step.detail)
        .join('; ');
      expect({ name, plan }).toEqual({ name, plan: expect.stringMatching(/^SEARCH messages USING (INDEX messages_\w+ \(queue=\? AND seq<\?\)|INTEGER PRIMARY KEY \(rowid<\?\))$/) });
    }
  });
});
