import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { QUEUE_NAME_TAKEN, SOURCE_NAME_TAKEN, storedSize, type NewMessage } from '../../src/store/types.js';

/** Every queue's maxReceives, as wake() takes it. */
const limits = (maxReceives: number) => new Map([['q', maxReceives]]);

/** A message with sensible defaults for store tests. */
export function newMessage(overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    queue: 'q',
    tenant: 'default',
    method: 'POST',
    path: '/',
    query: '',
    headers: [['content-type', 'application/json']],
    body: Buffer.from('{}'),
    domain: '',
    receivedAt: 1_000,
    deliverAt: 1_000,
    origin: 'test',
    ...overrides,
  };
}

/**
 * The behaviour every Store must have. Run against each backend with a factory that gives a fresh,
 * empty, isolated store.
 */
export function storeContract(name: string, makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ store, cleanup } = await makeStore()));
    afterEach(async () => cleanup());

    const ids = (messages: { id: string }[]) => messages.map((m) => m.id);

    it('appends in one transaction and gives increasing ids', async () => {
      const results = await store.appendMessages([newMessage(), newMessage(), newMessage()], 1_000);
      const numbers = results.map((r) => Number(r.id));
      expect(numbers[1]! > numbers[0]! && numbers[2]! > numbers[1]!).toBe(true);
      expect(results.every((r) => !r.duplicate)).toBe(true);
      const counts = await store.queueCounts();
      expect(counts.get('q')?.states.ready).toBe(3);
      expect(counts.get('q')?.oldestReadyAt).toBe(1_000);
    });

    it('dedupes within the window, also inside one batch', async () => {
      const dedupe = { scope: 's', key: 'k', expiresAt: 5_000 };
      const [a, b] = await store.appendMessages([newMessage({ dedupe }), newMessage({ dedupe })], 1_000);
      expect(b!.duplicate).toBe(true);
      expect(b!.id).toBe(a!.id);
      const [later] = await store.appendMessages([newMessage({ dedupe: { ...dedupe, expiresAt: 9_000 } })], 6_000);
      expect(later!.duplicate).toBe(false);
    });

    it('leases FIFO, acks, reports stale receipts', async () => {
      const appended = await store.appendMessages([newMessage(), newMessage(), newMessage()], 1_000);
      const leased = await store.leaseBatch('q', 2, 30_000, 1_000);
      expect(ids(leased)).toEqual(ids(appended).slice(0, 2));
      expect(leased[0]!.attempts).toBe(1);
      const ack = await store.ack('q', [leased[0]!.receipt, 'bogus', `${appended[2]!.id}.0123456789abcdef`], 1_001);
      expect(ack.acked).toBe(1);
      expect(ack.stale).toHaveLength(2);
      const counts = (await store.queueCounts()).get('q')!.states;
      expect(counts).toMatchObject({ ready: 1, leased: 1, acked: 1 });
    });

    it('expires leases back to ready in original order, or to dead after maxReceives', async () => {
      const appended = await store.appendMessages([newMessage(), newMessage()], 1_000);
      await store.leaseBatch('q', 2, 100, 1_000);
      expect(await store.nextWakeAt()).toBe(1_100);
      const report = await store.wake(1_100, limits(5));
      expect([...report.queues]).toEqual(['q']);
      const again = await store.leaseBatch('q', 2, 100, 1_200);
      expect(ids(again)).toEqual(ids(appended));
      expect(again[0]!.attempts).toBe(2);
      const dead = await store.wake(1_300, limits(2));
      expect(dead.dead.map((d) => d.id)).toEqual(ids(appended));
      expect((await store.queueCounts()).get('q')!.states.dead).toBe(2);
    });

    it('shows a leased message as leased everywhere: read, counts, lists, and it cannot be cancelled', async () => {
      const [first, second] = await store.appendMessages([newMessage(), newMessage()], 1_000);
      const [leased] = await store.leaseBatch('q', 1, 5_000, 1_000);
      expect(await store.getMessage(first!.id)).toMatchObject({ state: 'leased', attempts: 1, leaseUntil: 6_000 });
      expect((await store.queueCounts()).get('q')).toMatchObject({ states: { ready: 1, leased: 1 }, oldestReadyAt: 1_000 });
      expect(ids((await store.listMessages({ state: 'leased', limit: 10 })).messages)).toEqual([first!.id]);
      expect(ids((await store.listMessages({ state: 'ready', limit: 10 })).messages)).toEqual([second!.id]);
      expect(await store.cancel(first!.id, 1_001)).toBe('leased');
      expect((await store.ack('q', [leased!.receipt], 1_002)).acked).toBe(1);
      expect(await store.getMessage(first!.id)).toMatchObject({ state: 'acked', attempts: 1 });
    });

    it('acks a batch with each message its own receive count, and never leases an acked message again', async () => {
      const appended = await store.appendMessages([newMessage(), newMessage(), newMessage()], 1_000);
      const [a] = await store.leaseBatch('q', 1, 5_000, 1_000);
      await store.nack('q', [a!.receipt], 0, 1_001, 10);
      const batch = await store.leaseBatch('q', 3, 5_000, 1_002);
      expect(batch.map((m) => m.attempts)).toEqual([2, 1, 1]);
      expect((await store.ack('q', batch.map((m) => m.receipt), 1_003)).acked).toBe(3);
      // Straight after the ack, before anything else could run: nothing is left to lease.
      expect(await store.leaseBatch('q', 3, 5_000, 1_003)).toEqual([]);
      const stored = await Promise.all(ids(appended).map((id) => store.getMessage(id)));
      expect(stored.map((m) => [m!.state, m!.attempts, m!.updatedAt])).toEqual([
        ['acked', 2, 1_003],
        ['acked', 1, 1_003],
        ['acked', 1, 1_003],
      ]);
      expect((await store.queueCounts()).get('q')!.states).toMatchObject({ ready: 0, leased: 0, acked: 3 });
    });

    it('a nacked message goes out again before newer ones, with its receive counted', async () => {
      const appended = await store.appendMessages([newMessage(), newMessage(), newMessage()], 1_000);
      const [a] = await store.leaseBatch('q', 1, 5_000, 1_000);
      const [b] = await store.leaseBatch('q', 1, 5_000, 1_000);
      expect((await store.nack('q', [a!.receipt, a!.receipt], 0, 1_001, 10)).requeued).toBe(1);
      const next = await store.leaseBatch('q', 5, 5_000, 1_002);
      expect(ids(next)).toEqual([appended[0]!.id, appended[2]!.id]);
      expect(next[0]!.attempts).toBe(2);
      expect((await store.extend('q', [b!.receipt, a!.receipt], 60_000, 1_003)).stale).toEqual([a!.receipt]);
      expect((await store.getMessage(b!.id))?.leaseUntil).toBe(61_003);
    });

    it('returns messages a consumer never got to ready at once, in their place, without counting the receive', async () => {
      const appended = await store.appendMessages([newMessage(), newMessage(), newMessage()], 1_000);
      const gone = await store.leaseBatch('q', 2, 60_000, 1_000);
      expect(await store.returnUnsent('q', [...gone.map((m) => m.receipt), 'bogus'], 1_001)).toBe(2);
      expect(await store.returnUnsent('q', [gone[0]!.receipt], 1_001)).toBe(0); // stale: already back
      const next = await store.leaseBatch('q', 5, 60_000, 1_002);
      expect(ids(next)).toEqual(ids(appended));
      expect(next.map((m) => m.attempts)).toEqual([1, 1, 1]);
      expect((await store.queueCounts()).get('q')!.states).toMatchObject({ ready: 0, leased: 3 });
    });

    it('reads the next batch ahead, and drops it when an older message becomes ready or one of it is cancelled', async () => {
      const turn = () => new Promise((resolve) => setTimeout(resolve, 20)); // lets the read-ahead run
      const appended = await store.appendMessages(Array.from({ length: 8 }, () => newMessage()), 1_000);
      const [a] = await store.leaseBatch('q', 2, 5_000, 1_000);
      await turn();
      expect(ids(await store.leaseBatch('q', 2, 5_000, 1_000))).toEqual(ids(appended.slice(2, 4)));
      await turn();
      await store.nack('q', [a!.receipt], 0, 1_001, 10); // the oldest is ready again: it goes first
      expect(ids(await store.leaseBatch('q', 2, 5_000, 1_002))).toEqual([appended[0]!.id, appended[4]!.id]);
      await turn();
      expect(await store.cancel(appended[5]!.id, 1_003)).toBe('cancelled');
      expect(ids(await store.leaseBatch('q', 2, 5_000, 1_004))).toEqual(ids(appended.slice(6, 8)));
    });

    it('drops a read-ahead that passed over a scheduled message which then became due', async () => {
      const turn = () => new Promise((resolve) => setTimeout(resolve, 20));
      const [a, later, c] = await store.appendMessages([newMessage(), newMessage({ deliverAt: 5_000 }), newMessage(), newMessage()], 1_000);
      expect(ids(await store.leaseBatch('q', 1, 60_000, 1_000))).toEqual([a!.id]);
      await turn(); // reads ahead: the next ready message is c, the scheduled one is passed over
      await store.wake(5_000, limits(10));
      expect(ids(await store.leaseBatch('q', 1, 60_000, 5_000))).toEqual([later!.id]);
      expect(ids(await store.leaseBatch('q', 1, 60_000, 5_000))).toEqual([c!.id]);
    });

    it('an ack is seen at once by every read, and survives a close', async () => {
      const [m] = await store.appendMessages([newMessage()], 1_000);
      const [leased] = await store.leaseBatch('q', 1, 5_000, 1_000);
      expect(await store.ack('q', [leased!.receipt, leased!.receipt], 1_001)).toEqual({ acked: 1, stale: [leased!.receipt] });
      expect(await store.getMessage(m!.id)).toMatchObject({ state: 'acked' });
      expect((await store.queueCounts()).get('q')?.states).toMatchObject({ ready: 0, leased: 0, acked: 1 });
      expect(await store.leaseBatch('q', 1, 5_000, 1_002)).toEqual([]);
    });

    it('leases a message whose id was used before (the newest row was purged)', async () => {
      const [only] = await store.appendMessages([newMessage()], 1_000);
      const [leased] = await store.leaseBatch('q', 1, 5_000, 1_000);
      await store.ack('q', [leased!.receipt], 1_000);
      expect(await store.purge(2_000, 2_000, 100)).toBe(1);
      await store.appendMessages([newMessage()], 3_000);
      expect(await store.leaseBatch('q', 1, 5_000, 3_000)).toHaveLength(1);
      void only;
    });

    it('promotes scheduled messages when due, not before', async () => {
      const [later] = await store.appendMessages([newMessage({ deliverAt: 5_000 })], 1_000);
      expect((await store.getMessage(later!.id))?.state).toBe('scheduled');
      expect(await store.nextWakeAt()).toBe(5_000);
      expect((await store.wake(4_999, limits(10))).queues.size).toBe(0);
      expect((await store.wake(5_000, limits(10))).queues.has('q')).toBe(true);
      expect((await store.getMessage(later!.id))?.state).toBe('ready');
    });

    it('nack requeues, delays, or sends to dead', async () => {
      await store.appendMessages([newMessage(), newMessage()], 1_000);
      const [a, b] = await store.leaseBatch('q', 2, 30_000, 1_000);
      const nack = await store.nack('q', [a!.receipt], 500, 1_000, 10);
      expect(nack.requeued).toBe(1);
      expect((await store.getMessage(a!.id))?.state).toBe('scheduled');
      const exhausted = await store.nack('q', [b!.receipt], 0, 1_000, 1);
      expect(exhausted.dead).toEqual([b!.id]);
    });

    it('lists push lanes and claims their heads in FIFO order', async () => {
      const m = (domain: string) => newMessage({ queue: 'p', domain, url: `http://${domain}/` });
      const appended = await store.appendMessages([m('a.test'), m('b.test'), m('a.test'), m('c.test')], 1_000);
      expect(await store.readyLanes(['p'])).toEqual([
        { queue: 'p', domain: 'a.test' },
        { queue: 'p', domain: 'b.test' },
        { queue: 'p', domain: 'c.test' },
      ]);
      const [a, b] = await store.claimLanes(
        [
          { lane: { queue: 'p', domain: 'a.test' }, max: 10 },
          { lane: { queue: 'p', domain: 'b.test' }, max: 10 },
        ],
        100_000,
        1_000,
      );
      expect(ids(a!)).toEqual([appended[0]!.id, appended[2]!.id]);
      expect(ids(b!)).toEqual([appended[1]!.id]);
      expect(await store.readyLanes(['p'])).toEqual([{ queue: 'p', domain: 'c.test' }]);
    });

    it('claims the heads of many lanes at once, and the rest of a lane only up to its max', async () => {
      const m = (queue: string, domain: string) => newMessage({ queue, domain, url: `http://${domain}/` });
      const appended = await store.appendMessages(
        [m('p', 'a.test'), m('p', 'b.test'), m('p', 'a.test'), m('p', 'a.test'), m('q2', 'a.test'), m('p', 'c.test'), m('p', 'c.test')],
        1_000,
      );
      const id = (index: number) => appended[index]!.id;
      const [a, b, q2, c, none] = await store.claimLanes(
        [
          { lane: { queue: 'p', domain: 'a.test' }, max: 2 },
          { lane: { queue: 'p', domain: 'b.test' }, max: 5 },
          { lane: { queue: 'q2', domain: 'a.test' }, max: 5 },
          { lane: { queue: 'p', domain: 'c.test' }, max: 1 },
          { lane: { queue: 'p', domain: 'z.test' }, max: 5 },
        ],
        100_000,
        1_000,
      );
      expect(ids(a!)).toEqual([id(0), id(2)]);
      expect(ids(b!)).toEqual([id(1)]);
      expect(ids(q2!)).toEqual([id(4)]);
      expect(ids(c!)).toEqual([id(5)]);
      expect(none).toEqual([]);
      expect(Object.fromEntries(await store.domainBacklog())).toEqual({ 'a.test': { ready: 1, scheduled: 0 }, 'c.test': { ready: 1, scheduled: 0 } });
      expect((await store.queueCounts()).get('p')!.states).toMatchObject({ ready: 2, inflight: 4 });
    });

    it('keeps the push backlog per domain exact through every transition', async () => {
      const m = (domain: string, deliverAt = 1_000) => newMessage({ queue: 'p', domain, url: `http://${domain}/`, deliverAt });
      const [, , later] = await store.appendMessages([m('a.test'), m('a.test'), m('a.test', 5_000), m('b.test')], 1_000);
      expect(Object.fromEntries(await store.domainBacklog())).toEqual({ 'a.test': { ready: 2, scheduled: 1 }, 'b.test': { ready: 1, scheduled: 0 } });
      const [claimed] = await store.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 100_000, 1_000);
      await store.completeDeliveries([{ id: claimed![0]!.id, kind: 'retry', deliverAt: 9_000, countsAsAttempt: true }], 1_000);
      await store.cancel(later!.id, 1_000);
      await store.wake(5_000, limits(10));
      expect((await store.domainBacklog()).get('a.test')).toEqual({ ready: 1, scheduled: 1 });
      await store.claimLanes([{ lane: { queue: 'p', domain: 'b.test' }, max: 5 }], 100_000, 1_000);
      expect((await store.domainBacklog()).has('b.test')).toBe(false);
    });

    it('records delivery outcomes with attempts', async () => {
      const m = newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' });
      const [one, two, three] = await store.appendMessages([m, m, m], 1_000);
      await store.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 3 }], 100_000, 1_000);
      const attempt = { attempt: 1, startedAt: 1_000, status: 200, latencyMs: 5, response: 'ok' };
      await store.completeDeliveries(
        [
          { id: one!.id, kind: 'delivered', attempt },
          { id: two!.id, kind: 'retry', attempt: { ...attempt, status: 503 }, deliverAt: 9_000, countsAsAttempt: true },
          { id: three!.id, kind: 'dead', attempt: { ...attempt, status: 404 }, reason: 'HTTP 404' },
        ],
        1_010,
      );
      expect((await store.getMessage(one!.id))?.state).toBe('delivered');
      const retried = await store.getMessage(two!.id);
      expect(retried).toMatchObject({ state: 'scheduled', deliverAt: 9_000, attempts: 1 });
      expect((await store.getMessage(three!.id))?.lastError).toBe('HTTP 404');
      expect(await store.getAttempts(one!.id)).toEqual([attempt]);
      const counts = (await store.queueCounts()).get('p')!.states;
      expect(counts).toMatchObject({ delivered: 1, scheduled: 1, dead: 1, inflight: 0 });
    });

    it('keeps a retry that is already due for the wake-up, which reports its lane', async () => {
      const [m] = await store.appendMessages([newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })], 1_000);
      await store.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 100_000, 1_000);
      // Written late: its retry time has already passed when the outcome is stored.
      await store.completeDeliveries([{ id: m!.id, kind: 'retry', deliverAt: 1_020, countsAsAttempt: true }], 1_050);
      expect((await store.getMessage(m!.id))?.state).toBe('scheduled');
      expect(await store.nextWakeAt()).toBe(1_020);
      const report = await store.wake(1_050, limits(10));
      expect(report.lanes).toEqual([{ queue: 'p', domain: 'a.test' }]);
      expect((await store.getMessage(m!.id))?.state).toBe('ready');
    });

    it('promotes push messages a lead ahead of their time, pull messages only when due', async () => {
      const [push, pull] = await store.appendMessages(
        [newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/', deliverAt: 1_200 }), newMessage({ deliverAt: 1_200 })],
        1_000,
      );
      expect(await store.nextWakeAt(100)).toBe(1_100);
      expect(await store.nextWakeAt()).toBe(1_200);
      const early = await store.wake(1_100, limits(10), 250);
      expect(early.lanes).toEqual([{ queue: 'p', domain: 'a.test' }]);
      expect([...early.queues]).toEqual(['p']);
      expect((await store.getMessage(push!.id))?.state).toBe('ready');
      expect((await store.getMessage(pull!.id))?.state).toBe('scheduled');
      expect(await store.nextWakeAt(100)).toBe(1_200);
      await store.wake(1_200, limits(10), 250);
      expect((await store.getMessage(pull!.id))?.state).toBe('ready');
    });

    it('cancels a message in flight only when the dispatcher withdrew it', async () => {
      const [m] = await store.appendMessages([newMessage({ queue: 'p', domain: 'a.test', url: 'http://a.test/' })], 1_000);
      await store.claimLanes([{ lane: { queue: 'p', domain: 'a.test' }, max: 1 }], 100_000, 1_000);
      expect(await store.cancel(m!.id, 1_000)).toBe('inflight');
      expect(await store.cancel(m!.id, 1_000, true)).toBe('cancelled');
      expect((await store.queueCounts()).get('p')!.states).toMatchObject({ inflight: 0, cancelled: 1 });
    });

    it('cancels only what is not yet delivered, replays dead, purges finished', async () => {
      const [a, b] = await store.appendMessages([newMessage({ deliverAt: 9_000 }), newMessage()], 1_000);
      expect(await store.cancel(a!.id, 1_000)).toBe('cancelled');
      const [leased] = await store.leaseBatch('q', 1, 1_000, 1_000);
      expect(leased!.id).toBe(b!.id);
      expect(await store.cancel(b!.id, 1_000)).toBe('leased');
      expect(await store.cancel('12345678', 1_000)).toBeUndefined();
      await store.nack('q', [leased!.receipt], 0, 1_000, 1);
      const replay = await store.replayDead('q', 'default', undefined, 2_000);
      expect(replay.replayed).toEqual([b!.id]);
      expect(await store.purge(5_000, 5_000, 100)).toBe(1);
      expect(await store.getMessage(a!.id)).toBeUndefined();
    });

    it('replays all dead letters in steps, the oldest first', async () => {
      const dead = await store.appendMessages([newMessage(), newMessage(), newMessage()], 1_000);
      for (const leased of await store.leaseBatch('q', 10, 1_000, 1_000)) await store.nack('q', [leased.receipt], 0, 1_000, 1);
      expect((await store.replayDead('q', 'default', undefined, 2_000, 2)).replayed).toEqual(dead.slice(0, 2).map((m) => m.id));
      expect((await store.replayDead('q', 'default', undefined, 2_000, 2)).replayed).toEqual([dead[2]!.id]);
      expect((await store.replayDead('q', 'default', undefined, 2_000, 2)).replayed).toEqual([]);
    });

    it('counts the bytes of stored messages per queue, in every state, until retention deletes them', async () => {
      const small = newMessage({ body: Buffer.from('héllo'), headers: [['x-ü', 'ß']] });
      const large = newMessage({ body: Buffer.alloc(10_000) });
      const [a] = await store.appendMessages([small, large, newMessage({ queue: 'other' })], 1_000);
      expect((await store.queueCounts()).get('q')!.storedBytes).toBe(storedSize(small) + storedSize(large));
      const [leased] = await store.leaseBatch('q', 1, 5_000, 1_000);
      expect(leased!.id).toBe(a!.id);
      await store.ack('q', [leased!.receipt], 1_000);
      expect((await store.queueCounts()).get('q')!.storedBytes).toBe(storedSize(small) + storedSize(large)); // acked, still stored
      expect(await store.purge(5_000, 5_000, 100)).toBe(1);
      expect((await store.queueCounts()).get('q')!.storedBytes).toBe(storedSize(large));
      expect((await store.queueCounts()).get('other')!.storedBytes).toBe(storedSize(newMessage()));
    });

    it('fires a schedule tick exactly once', async () => {
      await store.upsertSchedule({ name: 's', tenant: 'default', spec: {}, paused: false, nextRunAt: 1_000, createdAt: 0 });
      expect(await store.fireSchedule('s', { runAt: 1_000, runs: 0 }, 2_000, [newMessage()], 1_000)).toBe(true);
      expect(await store.fireSchedule('s', { runAt: 1_000, runs: 0 }, 2_000, [newMessage()], 1_000)).toBe(false);
      expect((await store.queueCounts()).get('q')!.states.ready).toBe(1);
      expect((await store.listSchedules())[0]).toMatchObject({ nextRunAt: 2_000, lastRunAt: 1_000, runs: 1 });
    });

    it('counts schedule runs with the fire: never twice, never from an old count, kept by upserts', async () => {
      await store.upsertSchedule({ name: 's', tenant: 'default', spec: {}, paused: false, nextRunAt: 1_000, createdAt: 0 });
      expect((await store.listSchedules())[0]!.runs).toBe(0);
      // A catch-up of three ticks counts three.
      expect(await store.fireSchedule('s', { runAt: 1_000, runs: 0 }, 4_000, [newMessage(), newMessage(), newMessage()], 3_500)).toBe(true);
      expect((await store.listSchedules())[0]).toMatchObject({ runs: 3, nextRunAt: 4_000, lastRunAt: 3_500 });
      // A node that read an old count fires nothing, even at the right next run.
      expect(await store.fireSchedule('s', { runAt: 4_000, runs: 2 }, 5_000, [newMessage()], 4_000)).toBe(false);
      // Ticks skipped (missed: skip) move the schedule on and count nothing; lastRunAt stays.
      expect(await store.fireSchedule('s', { runAt: 4_000, runs: 3 }, 9_000, [], 8_500)).toBe(true);
      expect((await store.listSchedules())[0]).toMatchObject({ runs: 3, nextRunAt: 9_000, lastRunAt: 3_500 });
      // A PATCH (upsert) changes the row but never the count, whatever the record says; the last run ends it.
      await store.upsertSchedule({ name: 's', tenant: 'default', spec: { changed: true }, paused: false, nextRunAt: 9_000, lastRunAt: 3_500, createdAt: 0, runs: 0 });
      expect(await store.fireSchedule('s', { runAt: 9_000, runs: 3 }, undefined, [newMessage()], 9_000)).toBe(true);
      const [completed] = await store.listSchedules();
      expect(completed).toMatchObject({ runs: 4, spec: { changed: true }, lastRunAt: 9_000 });
      expect(completed!.nextRunAt).toBeUndefined();
      expect((await store.queueCounts()).get('q')!.states.ready).toBe(4); // 3 + 0 (refused) + 0 (skipped) + 1
      // Deleted and made again: a new row counts from 0.
      await store.deleteSchedule('s');
      await store.upsertSchedule({ name: 's', tenant: 'default', spec: {}, paused: false, nextRunAt: 1_000, createdAt: 10_000, runs: 4 });
      expect((await store.listSchedules())[0]!.runs).toBe(0);
    });

    it('keeps a queue name with its tenant while any message of it is stored', async () => {
      await store.upsertQueue({ name: 'q', tenant: 'a', config: {}, createdAt: 0 });
      await store.appendMessages([newMessage({ tenant: 'a' })], 1_000);
      await expect(store.upsertQueue({ name: 'q', tenant: 'b', config: {}, createdAt: 0 })).rejects.toMatchObject({ code: QUEUE_NAME_TAKEN });
      await store.upsertQueue({ name: 'q', tenant: 'a', config: { changed: true }, createdAt: 0 }); // its owner may change it
      // Even with its definition gone, the messages keep the name theirs.
      await store.upsertQueue({ name: 'other', tenant: 'a', config: {}, createdAt: 0 });
      expect((await store.listQueues()).map((queue) => queue.tenant)).toEqual(['a', 'a']);
    });

    it('deletes a queue with all its messages, refusing while some are pending unless forced', async () => {
      await store.upsertQueue({ name: 'q', tenant: 'a', config: {}, createdAt: 0 });
      const [pending, dead] = await store.appendMessages([newMessage({ tenant: 'a' }), newMessage({ tenant: 'a' })], 1_000);
      const [leased] = await store.leaseBatch('q', 1, 1_000, 1_000);
      expect(leased!.id).toBe(pending!.id);
      await store.leaseBatch('q', 1, 1_000, 1_000).then(([m]) => store.nack('q', [m!.receipt], 0, 1_000, 1));
      expect((await store.getMessage(dead!.id))?.state).toBe('dead');
      expect(await store.deleteQueue('q')).toEqual({ deleted: false, pending: 1, messages: 0 });
      expect((await store.getMessage(pending!.id))?.state).toBe('leased');
      expect(await store.deleteQueue('q', true)).toEqual({ deleted: true, pending: 1, messages: 2 });
      expect(await store.getMessage(pending!.id)).toBeUndefined();
      expect(await store.getMessage(dead!.id)).toBeUndefined();
      expect(await store.listQueues()).toEqual([]);
      expect((await store.queueCounts()).get('q')?.storedBytes ?? 0).toBe(0);
      expect(await store.ack('q', [leased!.receipt], 1_000)).toEqual({ acked: 0, stale: [leased!.receipt] });
      // Nothing of it is left: the name is free for another tenant.
      await store.upsertQueue({ name: 'q', tenant: 'b', config: {}, createdAt: 0 });
      expect((await store.listMessages({ queue: 'q', limit: 10 })).messages).toEqual([]);
    });

    it('replays only the dead letters of the tenant it is asked for', async () => {
      const [mine, theirs] = await store.appendMessages([newMessage({ tenant: 'a' }), newMessage({ tenant: 'b' })], 1_000);
      for (const m of await store.leaseBatch('q', 2, 1_000, 1_000)) await store.nack('q', [m.receipt], 0, 1_000, 1);
      expect((await store.replayDead('q', 'a', undefined, 2_000)).replayed).toEqual([mine!.id]);
      expect((await store.replayDead('q', 'a', [theirs!.id], 2_000)).replayed).toEqual([]);
      expect((await store.getMessage(theirs!.id))?.state).toBe('dead');
    });

    it('lists and revokes API keys, and records their last use', async () => {
      await store.addApiKey({ id: 'k1', hash: 'h1', prefix: 'sk_abcd', tenant: 'a', createdAt: 5 });
      await store.addApiKey({ id: 'k2', hash: 'h2', tenant: 'b', createdAt: 6 });
      await store.touchApiKeys([{ hash: 'h1', at: 50 }, { hash: 'gone', at: 60 }]);
      expect(await store.listApiKeys()).toEqual([
        { id: 'k1', hash: 'h1', prefix: 'sk_abcd', tenant: 'a', createdAt: 5, lastUsedAt: 50 },
        { id: 'k2', hash: 'h2', tenant: 'b', createdAt: 6 },
      ]);
      expect(await store.revokeApiKey('b', 'k1')).toBeUndefined(); // another tenant's key id
      expect(await store.revokeApiKey('a', 'k1')).toBe('h1');
      expect((await store.listApiKeys()).map((key) => key.id)).toEqual(['k2']);
    });

    it("records a key's latest use, never an earlier one", async () => {
      await store.addApiKey({ id: 'k1', hash: 'h1', tenant: 'a', createdAt: 5 });
      await store.touchApiKeys([{ hash: 'h1', at: 70 }, { hash: 'h1', at: 60 }]);
      await store.touchApiKeys([{ hash: 'h1', at: 40 }]); // written late by another writer
      expect((await store.listApiKeys())[0]?.lastUsedAt).toBe(70);
    });

    it('frees a queue name for another tenant once retention deleted the last message of it', async () => {
      await store.upsertQueue({ name: 'q', tenant: 'a', config: {}, createdAt: 0 });
      await store.appendMessages([newMessage({ tenant: 'a' })], 1_000);
      const [leased] = await store.leaseBatch('q', 1, 1_000, 1_000);
      await store.ack('q', [leased!.receipt], 1_000);
      const taking = { name: 'q', tenant: 'b', config: {}, createdAt: 0 };
      await expect(store.upsertQueue(taking)).rejects.toMatchObject({ code: QUEUE_NAME_TAKEN }); // acked, still stored
      expect(await store.purge(5_000, 5_000, 100)).toBe(1);
      await store.upsertQueue(taking);
      expect(await store.listQueues()).toEqual([taking]);
    });

    it('keeps tenants with their concurrency and quotas; a change replaces them all', async () => {
      await store.upsertTenant({ name: 'b', concurrency: 3, maxDepth: 100, createdAt: 1 });
      await store.upsertTenant({ name: 'a', maxStoredBytes: 5_000_000_000, createdAt: 2 });
      await store.upsertTenant({ name: 'b', maxDepth: 7, createdAt: 3 });
      expect(await store.listTenants()).toEqual([
        { name: 'a', maxStoredBytes: 5_000_000_000, createdAt: 2 },
        { name: 'b', maxDepth: 7, createdAt: 1 },
      ]);
    });

    it('keeps sources made through the API with their tenant; another tenant cannot take the name', async () => {
      expect(await store.listSources()).toEqual([]);
      const routes = { routes: [{ queue: 'q', when: { path: 'body.type', op: 'in', value: ['a', 'b'] } }], fallback: 'r' };
      await store.upsertSource({ name: 'zeta', tenant: 'a', config: { queue: 'q' }, createdAt: 5 });
      await store.upsertSource({ name: 'alpha', tenant: 'b', config: routes, createdAt: 6 });
      expect(await store.listSources()).toEqual([
        { name: 'alpha', tenant: 'b', config: routes, createdAt: 6 },
        { name: 'zeta', tenant: 'a', config: { queue: 'q' }, createdAt: 5 },
      ]);
      // Its owner replaces the config (createdAt stays); another tenant changes nothing.
      await store.upsertSource({ name: 'zeta', tenant: 'a', config: { queue: 'r' }, createdAt: 9 });
      await expect(store.upsertSource({ name: 'zeta', tenant: 'b', config: { queue: 'x' }, createdAt: 9 })).rejects.toMatchObject({ code: SOURCE_NAME_TAKEN });
      expect((await store.listSources())[1]).toEqual({ name: 'zeta', tenant: 'a', config: { queue: 'r' }, createdAt: 5 });
      expect(await store.deleteSource('zeta')).toBe(true);
      expect(await store.deleteSource('zeta')).toBe(false);
      expect((await store.listSources()).map((source) => source.name)).toEqual(['alpha']);
      // Once deleted, the name is free for anyone.
      await store.upsertSource({ name: 'zeta', tenant: 'b', config: { queue: 'x' }, createdAt: 10 });
      expect((await store.listSources())[1]).toMatchObject({ name: 'zeta', tenant: 'b' });
    });

    it('keeps sealed secrets per tenant and name; a reseal writes only rows still holding the seal it was made from', async () => {
      expect(await store.listSecrets()).toEqual([]);
      const secret = (tenant: string, name: string, sealed: string, at: number) => ({ tenant, name, sealed, keyId: 'k1', createdAt: at, updatedAt: at });
      await store.upsertSecret(secret('b', 'api_token', 'sealed-b', 5));
      await store.upsertSecret(secret('a', 'api_token', 'sealed-a', 6));
      await store.upsertSecret(secret('a', 'zeta', 'sealed-z', 7));
      // Replaced: the seal, its key and updatedAt change; createdAt stays.
      await store.upsertSecret({ ...secret('a', 'api_token', 'sealed-a2', 8), keyId: 'k2' });
      expect(await store.listSecrets()).toEqual([
        { tenant: 'a', name: 'api_token', sealed: 'sealed-a2', keyId: 'k2', createdAt: 6, updatedAt: 8 },
        secret('a', 'zeta', 'sealed-z', 7),
        secret('b', 'api_token', 'sealed-b', 5),
      ]);
      const written = await store.resealSecrets([
        { tenant: 'a', name: 'zeta', from: 'sealed-z', sealed: 'resealed-z', keyId: 'k3' },
        { tenant: 'b', name: 'api_token', from: 'an older seal', sealed: 'resealed-b', keyId: 'k3' }, // changed meanwhile: left alone
        { tenant: 'c', name: 'gone', from: 'x', sealed: 'y', keyId: 'k3' },
      ]);
      expect(written).toBe(1);
      expect(await store.resealSecrets([])).toBe(0);
      expect((await store.listSecrets()).map((row) => [row.tenant, row.name, row.sealed, row.keyId, row.updatedAt])).toEqual([
        ['a', 'api_token', 'sealed-a2', 'k2', 8],
        ['a', 'zeta', 'resealed-z', 'k3', 7],
        ['b', 'api_token', 'sealed-b', 'k1', 5],
      ]);
      expect(await store.deleteSecret('a', 'api_token')).toBe(true);
      expect(await store.deleteSecret('a', 'api_token')).toBe(false);
      expect((await store.listSecrets()).map((row) => `${row.tenant}/${row.name}`)).toEqual(['a/zeta', 'b/api_token']);
    });

    it('keeps templates per tenant and name, their config as given', async () => {
      expect(await store.listTemplates()).toEqual([]);
      const config = { url: 'https://api.example.com/{{ vars.id }}', method: 'POST', headers: { authorization: 'Bearer {{ secrets.t }}' }, body: { n: '{{ vars.n }}', list: [1, null] } };
      await store.upsertTemplate({ tenant: 'b', name: 'notify', config, createdAt: 5, updatedAt: 5 });
      await store.upsertTemplate({ tenant: 'a', name: 'notify', config: { url: 'https://a.example/' }, createdAt: 6, updatedAt: 6 });
      await store.upsertTemplate({ tenant: 'a', name: 'notify', config: { url: 'https://a2.example/' }, createdAt: 9, updatedAt: 9 });
      expect(await store.listTemplates()).toEqual([
        { tenant: 'a', name: 'notify', config: { url: 'https://a2.example/' }, createdAt: 6, updatedAt: 9 },
        { tenant: 'b', name: 'notify', config, createdAt: 5, updatedAt: 5 },
      ]);
      expect(await store.deleteTemplate('b', 'notify')).toBe(true);
      expect(await store.deleteTemplate('b', 'notify')).toBe(false);
      expect((await store.listTemplates()).map((row) => row.tenant)).toEqual(['a']);
    });

    it('replaces the remembered file settings as a whole', async () => {
      expect(await store.listFileSettings()).toEqual([]);
      const url = (value: string) => ({ kind: 'queue' as const, name: 'q', setting: 'url', value });
      await store.replaceFileSettings([url('"http://a.test/"'), { kind: 'tenantLimit', name: 'a', setting: 'concurrency', value: '3' }]);
      await store.replaceFileSettings([url('"http://b.test/"')]);
      expect(await store.listFileSettings()).toEqual([url('"http://b.test/"')]);
      await store.replaceFileSettings([]);
      expect(await store.listFileSettings()).toEqual([]);
    });

    it('lists newest first by tenant, queue and state; following the cursors gives each match once, past many that do not match', async () => {
      const [older, scheduled] = await store.appendMessages([newMessage({ tenant: 'a' }), newMessage({ tenant: 'a', deliverAt: 9_000 })], 1_000);
      await store.appendMessages(Array.from({ length: 2_500 }, () => newMessage({ queue: 'other', body: Buffer.alloc(0) })), 1_000);
      const [newest] = await store.appendMessages([newMessage({ tenant: 'a' })], 1_000);
      const listAll = async (filter: { tenant?: string; queue?: string; state?: 'ready' | 'scheduled' | 'dead'; limit: number }) => {
        const found: string[] = [];
        let before: string | undefined;
        for (let pages = 0; pages < 100; pages += 1) {
          const page = await store.listMessages({ ...filter, before });
          expect(page.messages.length).toBeLessThanOrEqual(filter.limit);
          found.push(...ids(page.messages));
          if (page.nextCursor === undefined) return found;
          before = page.nextCursor;
        }
        throw new Error('the cursors never end');
      };
      expect(await listAll({ tenant: 'a', limit: 2 })).toEqual([newest!.id, scheduled!.id, older!.id]);
      expect(await listAll({ tenant: 'a', state: 'ready', limit: 1 })).toEqual([newest!.id, older!.id]);
      expect(await listAll({ queue: 'q', state: 'ready', limit: 5 })).toEqual([newest!.id, older!.id]);
      expect(await listAll({ state: 'scheduled', limit: 5 })).toEqual([scheduled!.id]);
      expect(await listAll({ tenant: 'nobody', limit: 5 })).toEqual([]);
      expect(await listAll({ queue: 'other', limit: 1_000 })).toHaveLength(2_500);
      expect(await store.listMessages({ state: 'dead', limit: 5 })).toEqual({ messages: [] });
      const first = await store.listMessages({ limit: 2 });
      expect(ids(first.messages)).toEqual([newest!.id, String(Number(newest!.id) - 1)]);
      expect(first.nextCursor).toBe(first.messages[1]!.id);
    });
  });
}
