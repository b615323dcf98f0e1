import { describe, expect, it } from 'vitest';
import type { Sink } from '../support/sink.js';
import { eventually, type TestSluice } from '../support/sluice.js';
import { finished, workflowHarness } from './harness.js';

/**
 * Replaying a workflow step's dead message (SPEC: it resumes its run at that step, if the run failed
 * there, else 409), and cancelling a step's message directly (its run is cancelled with it). On a
 * real node (SQLite) against real HTTP sinks on 127.0.0.1; what is checked is what the API shows
 * and what the sink received.
 */

const harness = workflowHarness();
const start = () => harness.start();

/** A sink that fails the paths in `failing` (500) and answers the rest 200. */
function sink(failing: Set<string>): Promise<Sink> {
  return harness.sink((req) => ({ status: failing.has(req.url ?? '') ? 500 : 200, body: `at ${req.url}` }));
}

async function run(sluice: TestSluice, id: string): Promise<any> {
  return (await sluice.api('GET', `/v1/workflows/runs/${id}`)).body;
}

/** Start a run of `workflow` and wait for it to end. */
async function endedRun(sluice: TestSluice, workflow: string): Promise<any> {
  const started = await sluice.api('POST', `/v1/workflows/${workflow}/runs`, {});
  expect(started.status).toBe(201);
  return finished(sluice, started.body.id);
}

async function messageState(sluice: TestSluice, id: string): Promise<string> {
  return (await sluice.api('GET', `/v1/messages/${id}`)).body.state;
}

function count(target: Sink, path: string): number {
  return target.arrivals.filter((arrival) => arrival.url === path).length;
}

/** Three steps; `two` is tried once. */
function threeSteps(target: Sink) {
  return {
    steps: [
      { name: 'one', request: { url: `${target.origin}/one` } },
      { name: 'two', request: { url: `${target.origin}/two` }, retry: { maxAttempts: 1 } },
      { name: 'three', request: { url: `${target.origin}/three`, body: '{{ steps.one.response.body }}' } },
    ],
  };
}

describe('replaying a dead workflow step', () => {
  it('resumes a run that failed at that step: the step is sent again, the run goes on to its end, earlier steps are not sent again', async () => {
    const failing = new Set(['/two']);
    const target = await sink(failing);
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/workflows/three', threeSteps(target))).status).toBe(201);
    const failed = await endedRun(sluice, 'three');
    expect(failed.state).toBe('failed');
    expect(failed.steps.map((step: any) => [step.name, step.state])).toEqual([
      ['one', 'succeeded'],
      ['two', 'failed'],
    ]);
    const dead = failed.steps[1].messageId;
    expect(await messageState(sluice, dead)).toBe('dead');

    failing.clear();
    const replayed = await sluice.api('POST', '/v1/queues/outbound/dead/replay', { ids: [dead] });
    expect(replayed.status).toBe(200);
    expect(replayed.body).toEqual({ replayed: 1, ids: [dead] });
    const resumed = await finished(sluice, failed.id);
    expect(resumed.state).toBe('succeeded');
    expect(resumed.error).toBeUndefined();
    expect(resumed.steps.map((step: any) => [step.seq, step.name, step.state])).toEqual([
      [0, 'one', 'succeeded'],
      [1, 'two', 'succeeded'],
      [2, 'three', 'succeeded'],
    ]);
    expect(resumed.steps[1]).toMatchObject({ messageId: dead, attempts: 1, response: { status: 200, body: 'at /two' } });
    expect(target.arrivals.at(-1)!.body.toString()).toBe('at /one');
    expect([count(target, '/one'), count(target, '/two'), count(target, '/three')]).toEqual([1, 2, 1]);
  });

  it('answers 409 naming the run, and replays nothing, when the run went on through onFailure or was cancelled', async () => {
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const target = await harness.sink((req) => (req.url === '/held' ? { status: 500, after: held } : { status: req.url === '/charge' ? 402 : 200 }));
    const sluice = await start();
    const onFailure = {
      steps: [
        { name: 'charge', request: { url: `${target.origin}/charge` }, retry: { maxAttempts: 1 }, onFailure: 'refund' },
        { name: 'refund', request: { url: `${target.origin}/refund` } },
      ],
    };
    expect((await sluice.api('PUT', '/v1/workflows/pay', onFailure)).status).toBe(201);
    const handled = await endedRun(sluice, 'pay');
    expect(handled.state).toBe('succeeded');
    const charge = handled.steps[0].messageId;
    const refused = await sluice.api('POST', '/v1/queues/outbound/dead/replay', { ids: [charge] });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SLUICE_ERR_CONFLICT');
    expect(refused.body.detail).toContain(`run ${handled.id}`);
    expect(refused.body.runs).toEqual([handled.id]);

    // A run cancelled while its step was being sent: the step dies afterwards, the run stays cancelled.
    const holding = { steps: [{ name: 'held', request: { url: `${target.origin}/held` }, retry: { maxAttempts: 1 } }] };
    expect((await sluice.api('PUT', '/v1/workflows/holding', holding)).status).toBe(201);
    const { id } = (await sluice.api('POST', '/v1/workflows/holding/runs', {})).body;
    await eventually(() => count(target, '/held') === 1, 'the held step in flight');
    expect((await sluice.api('DELETE', `/v1/workflows/runs/${id}`)).status).toBe(200);
    release!();
    const heldStep = (await run(sluice, id)).steps[0].messageId;
    await eventually(async () => (await messageState(sluice, heldStep)) === 'dead', 'the held step dead');
    const cancelled = await sluice.api('POST', '/v1/queues/outbound/dead/replay', { ids: [heldStep, charge] });
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.runs.sort()).toEqual([handled.id, id].sort());

    // Nothing changed: both messages dead, both runs as they ended, nothing sent again.
    expect([await messageState(sluice, charge), await messageState(sluice, heldStep)]).toEqual(['dead', 'dead']);
    expect((await run(sluice, handled.id)).state).toBe('succeeded');
    expect((await run(sluice, id)).state).toBe('cancelled');
    expect([count(target, '/charge'), count(target, '/held')]).toEqual([1, 1]);
  });

  it('replaying all dead letters resumes the runs that failed at their steps, and leaves the others dead and listed', async () => {
    const failing = new Set(['/two', '/plain', '/charge']);
    const target = await sink(failing);
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/workflows/three', threeSteps(target))).status).toBe(201);
    const pay = {
      steps: [
        { name: 'charge', request: { url: `${target.origin}/charge` }, retry: { maxAttempts: 1 }, onFailure: 'refund' },
        { name: 'refund', request: { url: `${target.origin}/refund` } },
      ],
    };
    expect((await sluice.api('PUT', '/v1/workflows/pay', pay)).status).toBe(201);
    const failed = await endedRun(sluice, 'three');
    const handled = await endedRun(sluice, 'pay');
    const plain = (await sluice.api('POST', '/v1/messages', { url: `${target.origin}/plain`, retry: { maxAttempts: 1 } })).body.id;
    await eventually(async () => (await messageState(sluice, plain)) === 'dead', 'the plain message dead');

    failing.clear();
    const replayed = await sluice.api('POST', '/v1/queues/outbound/dead/replay', {});
    expect(replayed.status).toBe(200);
    const two = failed.steps[1].messageId;
    const charge = handled.steps[0].messageId;
    expect(replayed.body.ids.sort()).toEqual([plain, two].sort());
    expect(replayed.body.leftDead).toEqual([{ id: charge, run: handled.id, reason: expect.stringContaining(`run ${handled.id}`) }]);
    expect((await finished(sluice, failed.id)).state).toBe('succeeded');
    await eventually(() => count(target, '/plain') === 2, 'the plain message sent again');
    expect(await messageState(sluice, charge)).toBe('dead');
    expect([count(target, '/one'), count(target, '/two'), count(target, '/three'), count(target, '/charge')]).toEqual([1, 2, 1, 1]);
  });

  it('replays a step whose run was already resumed (the node stopped before the replay), once', async () => {
    const failing = new Set(['/two']);
    const target = await sink(failing);
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/workflows/three', threeSteps(target))).status).toBe(201);
    const failed = await endedRun(sluice, 'three');
    const dead = (await sluice.app.store.getMessage(failed.steps[1].messageId))!;
    // The first half of a replay, alone: the run waits on a message that is still dead.
    expect(await sluice.app.workflows.resume(dead)).toBe(failed.id);
    const waiting = await run(sluice, failed.id);
    expect(waiting.state).toBe('running');
    expect(waiting.steps[1]).toMatchObject({ name: 'two', state: 'pending', messageId: dead.id });
    expect(waiting.steps[1].error).toBeUndefined();

    failing.clear();
    expect((await sluice.api('POST', '/v1/queues/outbound/dead/replay', { ids: [dead.id] })).body.replayed).toBe(1);
    expect((await finished(sluice, failed.id)).state).toBe('succeeded');
    // Once moved past, the step's message is no longer the run's to replay.
    expect((await sluice.api('POST', '/v1/queues/outbound/dead/replay', { ids: [dead.id] })).body.replayed).toBe(0);
    expect([count(target, '/one'), count(target, '/two'), count(target, '/three')]).toEqual([1, 2, 1]);
  });
});

describe("cancelling a step's message", () => {
  it('cancels the run that waits on it; a message of no run cancels only itself', async () => {
    const target = await sink(new Set());
    const sluice = await start();
    const later = { steps: [{ name: 'now', request: { url: `${target.origin}/now` } }, { name: 'later', delayMs: 3_600_000, request: { url: `${target.origin}/later` } }] };
    expect((await sluice.api('PUT', '/v1/workflows/later', later)).status).toBe(201);
    const { id } = (await sluice.api('POST', '/v1/workflows/later/runs', {})).body;
    const waiting = await eventually(async () => {
      const found = await run(sluice, id);
      return found.steps.length === 2 && found;
    }, 'the run to wait on its second step');
    const step = waiting.steps[1].messageId;
    const cancelled = await sluice.api('DELETE', `/v1/messages/${step}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ id: step, state: 'cancelled', run: id });
    const after = await run(sluice, id);
    expect(after.state).toBe('cancelled');
    expect(after.steps.map((s: any) => [s.name, s.state])).toEqual([
      ['now', 'succeeded'],
      ['later', 'cancelled'],
    ]);

    const plain = (await sluice.api('POST', '/v1/messages', { url: `${target.origin}/plain`, delayMs: 3_600_000 })).body.id;
    expect((await sluice.api('DELETE', `/v1/messages/${plain}`)).body).toEqual({ id: plain, state: 'cancelled' });
    expect(count(target, '/later')).toBe(0);
  });
});
