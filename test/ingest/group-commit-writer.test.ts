import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { GroupCommitWriter } from '../../src/ingest/group-commit-writer.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { newMessage } from '../store/store-contract.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A real SQLite store whose appends are watched: how many commits run at once, at most. */
function watchedStore(): { store: Store; maxInFlight: () => number; commits: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-writer-'));
  dirs.push(dir);
  const real = new SqliteStore(join(dir, 'sluice.db'), 'os');
  let inFlight = 0;
  let most = 0;
  let commits = 0;
  const store = Object.create(real) as Store;
  store.appendMessages = async (messages, now) => {
    inFlight += 1;
    commits += 1;
    most = Math.max(most, inFlight);
    try {
      // Let other turns of the event loop run while this commit is in flight, as a networked store would.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return await real.appendMessages(messages, now);
    } finally {
      inFlight -= 1;
    }
  };
  return { store, maxInFlight: () => most, commits: () => commits };
}

it('with maxInFlight 1, arrivals during a commit wait and go together in the next one; every append resolves with its own id', async () => {
  const { store, maxInFlight, commits } = watchedStore();
  const writer = new GroupCommitWriter(store, new ManualClock(1_000), 2_000, 1);
  const pending: Promise<{ id: string }>[] = [];
  for (let turn = 0; turn < 40; turn += 1) {
    for (let i = 0; i < 5; i += 1) pending.push(writer.append(newMessage()));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const results = await Promise.all(pending);
  await writer.drain();
  expect(maxInFlight()).toBe(1);
  expect(new Set(results.map((result) => result.id)).size).toBe(200);
  // Every message was committed, in as many commits as there were turns at most (how many fewer
  // depends on the machine's speed, so it is not asserted).
  expect(commits()).toBeLessThanOrEqual(40);
});

it('runs started in one turn share the commit of the messages ingested in it, each resolving with its own run, a repeated key with the first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-writer-'));
  dirs.push(dir);
  const real = new SqliteStore(join(dir, 'sluice.db'), 'os');
  const calls: string[] = [];
  const store = Object.create(real) as Store;
  store.appendMessages = (messages, now) => (calls.push(`messages ${messages.length}`), real.appendMessages(messages, now));
  store.appendWithRuns = (messages, runs, now) => (calls.push(`messages ${messages.length} runs ${runs.length}`), real.appendWithRuns(messages, runs, now));
  const writer = new GroupCommitWriter(store, new ManualClock(1_000));
  const run = (key?: string) => ({
    tenant: 'default',
    workflow: 'w',
    definition: { steps: [] },
    vars: {},
    state: 'succeeded' as const,
    steps: [],
    ...(key ? { idempotencyKey: key } : {}),
  });
  const [message, first, again, other] = await Promise.all([writer.append(newMessage()), writer.startRun(run('k')), writer.startRun(run('k')), writer.startRun(run())]);
  expect(calls).toEqual(['messages 1 runs 3']);
  expect(message.duplicate).toBe(false);
  expect(first.created).toBe(true);
  expect(again).toEqual({ id: first.id, state: 'succeeded', created: false });
  expect(other.created).toBe(true);
  expect(other.id).not.toBe(first.id);
  // A turn with no runs commits as before.
  await writer.append(newMessage());
  expect(calls.at(-1)).toBe('messages 1');
  await real.close();
});
