import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ThreadedStore } from '../../src/store/sqlite/store-thread.js';
import type { Store } from '../../src/store/store.js';
import { stepOf, stepOrigin, type NewMessage, type NewRun, type RunChange, type RunStart, type RunStep, type StepState } from '../../src/store/types.js';
import { newMessage } from './store-contract.js';
import { describePostgres, tempPostgresStore } from './postgres-support.js';

/** What a backend can be asked beyond the contract's common part. */
interface Backend {
  /** Whether a delivery outcome's claim is checked (PostgreSQL; SQLite not yet, types.ts DeliveryOutcome). */
  checksClaims: boolean;
}

const LANE = { queue: 'wf', domain: 'example.com' };

/** A step's message: a push message on LANE, due at `deliverAt`. */
function stepMessage(overrides: Partial<NewMessage> = {}): NewMessage {
  return newMessage({ queue: LANE.queue, domain: LANE.domain, url: 'http://example.com/hook', tenant: 'acme', body: Buffer.from('{"step":true}'), ...overrides });
}

function step(seq: number, name: string, state: StepState, overrides: Partial<RunStep> = {}): RunStep {
  return { seq, name, state, attempts: 0, updatedAt: 1_000, ...overrides };
}

/** A running run of `acme`'s `onboard`: step 0 skipped, step 1 pending with its message, due now. */
function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    tenant: 'acme',
    workflow: 'onboard',
    definition: { steps: [{ name: 'check' }, { name: 'welcome' }, { name: 'notify' }] },
    vars: { user: 42 },
    state: 'running',
    steps: [step(0, 'check', 'skipped'), step(1, 'welcome', 'pending')],
    message: stepMessage(),
    ...overrides,
  };
}

const attempt = { attempt: 1, startedAt: 2_000, status: 200, latencyMs: 12 };

/** Start one run as the group commit does: appendWithRuns with no messages beside it. */
async function startRun(store: Store, run: NewRun, now: number): Promise<RunStart> {
  return (await store.appendWithRuns([], [run], now)).runs[0]!;
}

function workflowRunContract(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>, backend: Backend): void {
  describe(`workflow runs: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ store, cleanup } = await open()));
    afterEach(async () => cleanup());

    /** Start a run and answer its id and its pending step's message id. */
    async function started(run: NewRun = newRun(), now = 1_000): Promise<{ runId: string; messageId: string }> {
      const start = await startRun(store, run, now);
      const read = await store.getRun(start.id);
      return { runId: start.id, messageId: read!.steps.at(-1)!.messageId! };
    }

    /** Claim the lane's ready messages, as a push worker does. */
    async function claim(now = 2_000, leaseUntil = 60_000) {
      const [claimed] = await store.claimLanes([{ lane: LANE, max: 10 }], leaseUntil, now);
      return claimed!;
    }

    /** The change a worker makes when step 1 was delivered: step 1 succeeded, step 2 pending with its message. */
    function stepDone(runId: string, messageId: string, version = 0): RunChange {
      return {
        runId,
        version,
        state: 'running',
        steps: [
          step(1, 'welcome', 'succeeded', { messageId, attempts: 1, response: { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' }, updatedAt: 2_000 }),
          step(2, 'notify', 'pending', { updatedAt: 2_000 }),
        ],
        message: stepMessage({ receivedAt: 2_000, deliverAt: 2_000, body: Buffer.from('{"step":2}') }),
      };
    }

    it('startRun writes the run, its steps and the step message, whose origin names run and step', async () => {
      const start = await startRun(store, newRun({ idempotencyKey: 'k' }), 1_000);
      expect(start).toMatchObject({ state: 'running', created: true });
      expect(start.id).toMatch(/^[1-9][0-9]*$/);
      const read = await store.getRun(start.id);
      expect(read?.run).toEqual({
        id: start.id,
        tenant: 'acme',
        workflow: 'onboard',
        definition: newRun().definition,
        vars: { user: 42 },
        state: 'running',
        idempotencyKey: 'k',
        createdAt: 1_000,
        updatedAt: 1_000,
        version: 0,
      });
      expect(read?.steps).toHaveLength(2);
      expect(read?.steps[0]).toEqual(step(0, 'check', 'skipped'));
      const messageId = read!.steps[1]!.messageId!;
      expect(read?.steps[1]).toEqual(step(1, 'welcome', 'pending', { messageId }));

      const message = await store.getMessage(messageId);
      expect(message?.origin).toBe(stepOrigin(start.id, 1));
      expect(stepOf(message!.origin)).toEqual({ runId: start.id, seq: 1 });
      expect(message?.state).toBe('ready');
      expect(message?.body.toString()).toBe('{"step":true}');

      const later = await startRun(store, newRun({ message: stepMessage({ deliverAt: 5_000 }) }), 1_000);
      const laterMessage = (await store.getRun(later.id))!.steps[1]!.messageId!;
      expect((await store.getMessage(laterMessage))?.state).toBe('scheduled');
      expect((await store.queueCounts()).get('wf')?.states).toMatchObject({ ready: 1, scheduled: 1 });
    });

    it('a repeated idempotency key answers the first run and writes nothing more', async () => {
      const first = await startRun(store, newRun({ idempotencyKey: 'order-1' }), 1_000);
      const again = await startRun(store, newRun({ idempotencyKey: 'order-1', vars: { user: 7 } }), 2_000);
      expect(again).toEqual({ id: first.id, state: 'running', created: false });
      expect((await store.getRun(first.id))?.run.vars).toEqual({ user: 42 });
      expect((await store.listRuns({ limit: 10 })).runs).toHaveLength(1);
      expect((await store.queueCounts()).get('wf')?.states.ready).toBe(1);

      // The key is per tenant and workflow.
      expect((await startRun(store, newRun({ idempotencyKey: 'order-1', workflow: 'other' }), 2_000)).created).toBe(true);
      expect((await startRun(store, newRun({ idempotencyKey: 'order-1', tenant: 'globex' }), 2_000)).created).toBe(true);
    });

    it('two starts with one key at the same time make one run', async () => {
      const starts = await Promise.all([1, 2, 3].map(() => startRun(store, newRun({ idempotencyKey: 'same' }), 1_000)));
      expect(new Set(starts.map((start) => start.id)).size).toBe(1);
      expect(starts.filter((start) => start.created)).toHaveLength(1);
      expect((await store.listRuns({ limit: 10 })).runs).toHaveLength(1);
      expect((await store.queueCounts()).get('wf')?.states.ready).toBe(1);
    });

    it('a run that starts already over has no message', async () => {
      const start = await startRun(store, 
        newRun({ state: 'failed', error: 'request could not be made', steps: [step(0, 'check', 'skipped'), step(1, 'welcome', 'failed', { error: 'bad url' })], message: undefined }),
        1_000,
      );
      expect(start).toMatchObject({ state: 'failed', created: true });
      const read = await store.getRun(start.id);
      expect(read?.run).toMatchObject({ state: 'failed', error: 'request could not be made', version: 0 });
      expect(read?.steps.map((s) => s.messageId)).toEqual([undefined, undefined]);
      expect(read?.steps[1]?.error).toBe('bad url');
      expect((await store.listMessages({ limit: 10 })).messages).toEqual([]);
    });

    it('changeRun from a stale version changes nothing', async () => {
      const { runId, messageId } = await started();
      const cancel: RunChange = { runId, version: 1, state: 'cancelled', steps: [step(1, 'welcome', 'cancelled', { messageId })], cancelMessages: [messageId] };
      expect(await store.changeRun(cancel, 3_000)).toBe(false);
      const read = await store.getRun(runId);
      expect(read?.run).toMatchObject({ state: 'running', version: 0, updatedAt: 1_000 });
      expect(read?.steps[1]?.state).toBe('pending');
      expect((await store.getMessage(messageId))?.state).toBe('ready');
      for (const id of ['abc', '-1', '99999999999999999999']) expect(await store.changeRun({ ...cancel, runId: id, version: 0 }, 3_000)).toBe(false);
    });

    it('changeRun cancelling a run cancels its scheduled message', async () => {
      const { runId, messageId } = await started(newRun({ message: stepMessage({ deliverAt: 9_000 }) }));
      const cancel: RunChange = { runId, version: 0, state: 'cancelled', error: 'cancelled by API', steps: [step(1, 'welcome', 'cancelled', { messageId, updatedAt: 3_000 })], cancelMessages: [messageId] };
      expect(await store.changeRun(cancel, 3_000)).toBe(true);
      const read = await store.getRun(runId);
      expect(read?.run).toMatchObject({ state: 'cancelled', error: 'cancelled by API', version: 1, updatedAt: 3_000 });
      expect(read?.steps).toHaveLength(2);
      expect(read?.steps[1]).toEqual(step(1, 'welcome', 'cancelled', { messageId, updatedAt: 3_000 }));
      expect((await store.getMessage(messageId))?.state).toBe('cancelled');
      expect((await store.queueCounts()).get('wf')?.states).toMatchObject({ scheduled: 0, cancelled: 1 });
      expect(await store.changeRun(cancel, 4_000)).toBe(false); // version 0 is gone
    });

    it('a delivery outcome carrying the run change moves the run, writes its steps and appends the next message', async () => {
      const { runId, messageId } = await started();
      const [claimed] = await claim();
      expect(claimed?.id).toBe(messageId);
      const moved = await store.completeDeliveries([{ id: messageId, kind: 'delivered', attempt, claim: claimed!.claim, run: stepDone(runId, messageId) }], 2_500);
      expect(moved).toEqual([runId]);

      expect((await store.getMessage(messageId))?.state).toBe('delivered');
      expect(await store.getAttempts(messageId)).toHaveLength(1);
      const read = await store.getRun(runId);
      expect(read?.run).toMatchObject({ state: 'running', version: 1, updatedAt: 2_500 });
      expect(read?.steps.map((s) => [s.seq, s.state])).toEqual([[0, 'skipped'], [1, 'succeeded'], [2, 'pending']]);
      expect(read?.steps[1]?.response).toEqual({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' });
      const next = read!.steps[2]!.messageId!;
      expect(next).toBeDefined();
      expect(next).not.toBe(messageId);
      const nextMessage = await store.getMessage(next);
      expect(nextMessage).toMatchObject({ state: 'ready', origin: stepOrigin(runId, 2) });
      expect(nextMessage?.body.toString()).toBe('{"step":2}');
      expect((await store.queueCounts()).get('wf')?.states).toMatchObject({ ready: 1, inflight: 0, delivered: 1 });
    });

    it('an outcome that no longer applies does not move the run', async () => {
      const { runId, messageId } = await started();
      const [claimed] = await claim();
      await store.completeDeliveries([{ id: messageId, kind: 'delivered', attempt, claim: claimed!.claim }], 2_500);
      // Told again, now with the run's change: the message is no longer in flight.
      expect(await store.completeDeliveries([{ id: messageId, kind: 'delivered', attempt, claim: claimed!.claim, run: stepDone(runId, messageId) }], 2_600)).toEqual([]);
      const read = await store.getRun(runId);
      expect(read?.run).toMatchObject({ state: 'running', version: 0 });
      expect(read?.steps.map((s) => s.state)).toEqual(['skipped', 'pending']);
      expect((await store.listMessages({ limit: 10 })).messages).toHaveLength(1);
    });

    it('an outcome applies but its run change, made at another version, does not', async () => {
      const { runId, messageId } = await started();
      const [claimed] = await claim();
      expect(await store.changeRun({ runId, version: 0, state: 'running', steps: [] }, 2_200)).toBe(true);
      expect(await store.completeDeliveries([{ id: messageId, kind: 'delivered', attempt, claim: claimed!.claim, run: stepDone(runId, messageId, 0) }], 2_500)).toEqual([]);
      expect((await store.getMessage(messageId))?.state).toBe('delivered');
      const read = await store.getRun(runId);
      expect(read?.run).toMatchObject({ version: 1, updatedAt: 2_200 });
      expect(read?.steps.map((s) => s.state)).toEqual(['skipped', 'pending']);
      expect((await store.listMessages({ limit: 10 })).messages).toHaveLength(1);
    });

    // Defined only where claims are checked (PostgreSQL): SQLite does not check them yet.
    if (backend.checksClaims) it('an outcome of a stale claim does not move the run; the current claim does', async () => {
      const { runId, messageId } = await started();
      const [old] = await claim(2_000, 3_000);
      await store.wake(4_000, new Map()); // the claim expired: ready again
      const [current] = await claim(4_000, 60_000);
      expect(current?.claim).not.toBe(old!.claim);
      await store.completeDeliveries([{ id: messageId, kind: 'delivered', attempt, claim: old!.claim, run: stepDone(runId, messageId) }], 4_500);
      expect((await store.getMessage(messageId))?.state).toBe('inflight');
      expect((await store.getRun(runId))?.run.version).toBe(0);
      await store.completeDeliveries([{ id: messageId, kind: 'delivered', attempt, claim: current!.claim, run: stepDone(runId, messageId) }], 4_600);
      expect((await store.getRun(runId))?.run.version).toBe(1);
      expect((await store.getRun(runId))?.steps).toHaveLength(3);
    });

    it('listRuns: newest first, filtered, paged by an exclusive cursor', async () => {
      const ids: string[] = [];
      const runs: Partial<NewRun>[] = [
        { tenant: 'acme', workflow: 'a' },
        { tenant: 'acme', workflow: 'b', state: 'succeeded', message: undefined, steps: [step(0, 'check', 'skipped')] },
        { tenant: 'globex', workflow: 'a' },
        { tenant: 'acme', workflow: 'a', state: 'succeeded', message: undefined, steps: [step(0, 'check', 'skipped')] },
        { tenant: 'acme', workflow: 'a' },
      ];
      for (const [index, run] of runs.entries()) ids.push((await startRun(store, newRun(run), 1_000 + index)).id);
      const newestFirst = [...ids].reverse();
      const listed = (filter: Parameters<Store['listRuns']>[0]) => store.listRuns(filter).then((page) => page.runs.map((run) => run.id));

      expect(await listed({ limit: 10 })).toEqual(newestFirst);
      expect(await listed({ limit: 10, tenant: 'acme' })).toEqual([ids[4], ids[3], ids[1], ids[0]]);
      expect(await listed({ limit: 10, tenant: 'acme', workflow: 'a' })).toEqual([ids[4], ids[3], ids[0]]);
      expect(await listed({ limit: 10, workflow: 'a', state: 'running' })).toEqual([ids[4], ids[2], ids[0]]);
      expect(await listed({ limit: 10, before: ids[2] })).toEqual([ids[1], ids[0]]);

      const pages: string[][] = [];
      let before: string | undefined;
      do {
        const page = await store.listRuns({ limit: 2, before });
        pages.push(page.runs.map((run) => run.id));
        before = page.nextCursor;
      } while (before !== undefined);
      expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
      expect((await store.listRuns({ limit: 4 })).nextCursor).toBe(newestFirst[3]);
      expect((await store.listRuns({ limit: 5 })).nextCursor).toBeUndefined();
      expect((await store.listRuns({ limit: 10, before: 'abc' })).runs).toEqual([]);
    });

    it('getRun of an id that is not a run id is undefined', async () => {
      await started();
      for (const id of ['abc', '-1', '99999999999999999999', '', '0', '1.5']) expect(await store.getRun(id)).toBeUndefined();
    });

    it('workflows are stored per tenant: upsert keeps createdAt, list orders, delete removes one', async () => {
      await store.upsertWorkflow({ tenant: 'acme', name: 'onboard', config: { v: 1 }, createdAt: 1_000, updatedAt: 1_000 });
      await store.upsertWorkflow({ tenant: 'globex', name: 'onboard', config: { v: 9 }, createdAt: 1_100, updatedAt: 1_100 });
      await store.upsertWorkflow({ tenant: 'acme', name: 'billing', config: { v: 1 }, createdAt: 1_200, updatedAt: 1_200 });
      await store.upsertWorkflow({ tenant: 'acme', name: 'onboard', config: { v: 2 }, createdAt: 5_000, updatedAt: 5_000 });
      expect(await store.listWorkflows()).toEqual([
        { tenant: 'acme', name: 'billing', config: { v: 1 }, createdAt: 1_200, updatedAt: 1_200 },
        { tenant: 'acme', name: 'onboard', config: { v: 2 }, createdAt: 1_000, updatedAt: 5_000 },
        { tenant: 'globex', name: 'onboard', config: { v: 9 }, createdAt: 1_100, updatedAt: 1_100 },
      ]);
      expect(await store.deleteWorkflow('acme', 'onboard')).toBe(true);
      expect(await store.deleteWorkflow('acme', 'onboard')).toBe(false);
      expect((await store.listWorkflows()).map((w) => `${w.tenant}/${w.name}`)).toEqual(['acme/billing', 'globex/onboard']);
    });

    it('appendWithRuns stores a routed group and its runs in one transaction, or nothing', async () => {
      const lead = stepMessage({ queue: 'wf', origin: 'source:hooks', payload: 'lead' });
      const follower = stepMessage({ queue: 'audit', domain: '', url: undefined, origin: 'source:hooks', payload: { follows: 1 } });
      const done = await store.appendWithRuns([lead, follower], [newRun({ idempotencyKey: 'source:hooks:d1' })], 1_000);
      expect(done.results.map((result) => result.duplicate)).toEqual([false, false]);
      expect(done.runs).toEqual([{ id: expect.any(String), state: 'running', created: true }]);
      expect((await store.getMessage(done.results[1]!.id))?.body.toString()).toBe('{"step":true}');
      const run = await store.getRun(done.runs[0]!.id);
      expect(run?.steps.at(-1)?.messageId).toBeDefined();
      // The same delivery again: its run is found by its key, nothing new is started.
      const again = await store.appendWithRuns([stepMessage({ origin: 'source:hooks' })], [newRun({ idempotencyKey: 'source:hooks:d1' })], 1_100);
      expect(again.runs).toEqual([{ id: done.runs[0]!.id, state: 'running', created: false }]);
      const before = (await store.listMessages({ limit: 100 })).messages.length;
      // A run that cannot be written (its variables do not serialize) takes the messages down with it.
      const broken = newRun({ vars: { n: 1n } as unknown as Record<string, unknown> });
      await expect(store.appendWithRuns([stepMessage({ origin: 'source:hooks' })], [broken], 1_200)).rejects.toThrow();
      expect((await store.listMessages({ limit: 100 })).messages).toHaveLength(before);
      expect((await store.listRuns({ limit: 10 })).runs).toHaveLength(1);
    });

    it('purge takes runs that ended before the cutoff with their steps, never a running one', async () => {
      const ended = await startRun(store, newRun({ state: 'succeeded', steps: [step(0, 'check', 'skipped')], message: undefined }), 1_000);
      const running = await started();
      const recent = await startRun(store, newRun({ state: 'failed', steps: [step(0, 'check', 'failed')], message: undefined }), 9_000);
      await store.purge(5_000, 10_000, 100);
      expect(await store.getRun(ended.id)).toBeUndefined();
      expect((await store.getRun(running.runId))?.run.state).toBe('running');
      expect((await store.getRun(recent.id))?.steps).toHaveLength(1);
      const listed = await store.listRuns({ limit: 10 });
      expect(listed.runs.map((run) => run.id).sort()).toEqual([running.runId, recent.id].sort());
    });
  });
}

function sqliteVariant(threaded: boolean) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-runs-'));
    const file = join(dir, 'sluice.db');
    const store = threaded ? ThreadedStore.open(file, 'fsync') : new SqliteStore(file, 'fsync');
    return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  };
}

workflowRunContract('sqlite', sqliteVariant(false), { checksClaims: false });
workflowRunContract('sqlite on its own thread', sqliteVariant(true), { checksClaims: false });

describePostgres('workflow runs on PostgreSQL', () => workflowRunContract('postgres', () => tempPostgresStore(), { checksClaims: true }));
