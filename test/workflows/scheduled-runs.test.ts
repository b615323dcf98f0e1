import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SluiceClient } from '../../src/client/client.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { killHard, spawnSluice } from '../support/child.js';
import { ClockedNode } from '../support/clocked-node.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice } from '../support/sluice.js';

/**
 * Schedules that start a workflow run at each tick (`workflow: { name, vars }`). Under a clock that
 * stands still except where the test moves it, each tick is fired by asking the runner for what is
 * due then, so every run is one the schedule decided on at a known instant; on each store, a run per
 * tick, none fired again and none lost across a restart. Then a real node killed with SIGKILL while
 * its schedule ticks: the runs stored are exactly the ticks counted, with no tick missing.
 */

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MINUTE = 60_000;
const at = (ms: number) => new Date(ms).toISOString();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One Sluice that can be stopped and started again on the same data, with the clock the test moves. */
async function harness(storage: Record<string, unknown>, config: Record<string, unknown> = {}) {
  const node = await ClockedNode.start({ storage, ...config }, T0, cleanups);
  return Object.assign(node, {
    /** The runs of a workflow, oldest first. */
    async runs(workflow: string): Promise<any[]> {
      return ((await node.api('GET', `/v1/workflows/${workflow}/runs?limit=100`)).body.runs as any[]).reverse();
    },
    /** Every run of a workflow, once each has ended. */
    async ended(workflow: string, count: number): Promise<any[]> {
      return eventually(async () => {
        const runs = await this.runs(workflow);
        return runs.length === count && runs.every((run) => run.state !== 'running') && runs;
      }, `${count} runs of ${workflow} to end`);
    },
  });
}

function scheduledRunsSuite(storage: () => Record<string, unknown>): void {
  it('starts one run per tick with the schedule’s vars, counts it, and neither fires a tick again nor loses one across a restart', async () => {
    const h = await harness(storage());
    const steps = [{ name: 'report', request: { url: `${h.sink.origin}/report/{{ vars.kind }}`, body: { to: '{{ vars.to }}' } } }];
    expect((await h.api('PUT', '/v1/workflows/nightly', { steps })).status).toBe(201);
    const created = await h.api('POST', '/v1/schedules', { name: 'reports', every: '1m', missed: 'all', workflow: { name: 'nightly', vars: { kind: 'daily', to: 'ops' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ workflow: { name: 'nightly', vars: { kind: 'daily', to: 'ops' } }, runs: 0, nextRuns: [at(T0 + MINUTE), at(T0 + 2 * MINUTE), at(T0 + 3 * MINUTE), at(T0 + 4 * MINUTE), at(T0 + 5 * MINUTE)] });
    expect(created.body.message).toBeUndefined();

    await h.tick();
    await h.tick();
    const two = await h.ended('nightly', 2);
    expect(two.map((run) => run.state)).toEqual(['succeeded', 'succeeded']);
    expect((await h.api('GET', '/v1/schedules/reports')).body).toMatchObject({ runs: 2, lastRunAt: at(T0 + 2 * MINUTE), nextRunAt: at(T0 + 3 * MINUTE) });
    expect(h.sink.arrivals.map((arrival) => [arrival.url, JSON.parse(arrival.body.toString())])).toEqual([
      ['/report/daily', { to: 'ops' }],
      ['/report/daily', { to: 'ops' }],
    ]);
    const run = (await h.api('GET', `/v1/workflows/runs/${two[0].id}`)).body;
    expect(run.vars).toEqual({ kind: 'daily', to: 'ops' });

    // Down over the ticks at +3 and +4 minutes: the restart fires those two (missed: all), once each,
    // and not the two fired before it.
    await h.restart(2.5 * MINUTE);
    const four = await h.ended('nightly', 4);
    expect(four.slice(0, 2).map((listed) => listed.id)).toEqual(two.map((listed) => listed.id));
    expect((await h.api('GET', '/v1/schedules/reports')).body).toMatchObject({ runs: 4, nextRunAt: at(T0 + 5 * MINUTE) });
    await h.restart();
    await h.tick(0);
    expect(await h.runs('nightly')).toHaveLength(4);
    expect(h.sink.arrivals).toHaveLength(4);
  });

  it('a run waiting on a step when the node stops goes on after the restart', async () => {
    const h = await harness(storage());
    const steps = [{ name: 'later', delayMs: 30_000, request: { url: `${h.sink.origin}/later` } }];
    expect((await h.api('PUT', '/v1/workflows/delayed', { steps })).status).toBe(201);
    expect((await h.api('POST', '/v1/schedules', { name: 'once', every: '1m', maxRuns: 1, workflow: { name: 'delayed' } })).status).toBe(201);
    await h.tick();
    expect((await h.runs('delayed')).map((listed) => listed.state)).toEqual(['running']);
    await h.restart(MINUTE);
    const [ended] = await h.ended('delayed', 1);
    expect(ended.state).toBe('succeeded');
    expect((await h.api('GET', '/v1/schedules/once')).body).toMatchObject({ runs: 1, state: 'completed' });
    expect(h.sink.arrivals.map((arrival) => arrival.url)).toEqual(['/later']);
  });
}

describe('scheduled workflow runs on SQLite', () => scheduledRunsSuite(() => ({})));

describePostgres('scheduled workflow runs on PostgreSQL', () =>
  scheduledRunsSuite(() => {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(schema));
    return { postgres: postgresUrl, postgresSchema: schema, postgresPoolSize: 4 };
  }),
);

describe('a schedule with a workflow', () => {
  it('is refused with a 400 naming the field: an unknown workflow, another tenant’s, both message and workflow, neither', async () => {
    const h = await harness({});
    expect((await h.api('PUT', '/v1/workflows/mine', { steps: [{ name: 'a', request: { url: `${h.sink.origin}/a` } }] })).status).toBe(201);
    expect((await h.api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
    const cases: [string, Record<string, unknown>, string][] = [
      ['an unknown workflow', { workflow: { name: 'nope' } }, 'workflow.name'],
      ["another tenant's workflow", { tenant: 'acme', workflow: { name: 'mine' } }, 'workflow.name'],
      ['both', { workflow: { name: 'mine' }, message: { url: `${h.sink.origin}/m` } }, 'workflow'],
      ['neither', {}, 'message'],
      ['vars that are not an object', { workflow: { name: 'mine', vars: [1] } }, 'workflow.vars'],
    ];
    for (const [what, body, field] of cases) {
      const refused = await h.api('POST', '/v1/schedules', { name: 'bad', every: '1m', ...body });
      expect(refused.status, what).toBe(400);
      expect(refused.body.code, what).toBe('SLUICE_ERR_VALIDATION');
      expect(refused.body.errors.map((error: { field: string }) => error.field), what).toContain(field);
    }
    expect((await h.api('GET', '/v1/schedules')).body.schedules).toEqual([]);
  });

  it('a PATCH giving a workflow replaces the message, and one giving a message replaces the workflow', async () => {
    const h = await harness({});
    expect((await h.api('PUT', '/v1/workflows/mine', { steps: [{ name: 'a', request: { url: `${h.sink.origin}/run` } }] })).status).toBe(201);
    expect((await h.api('POST', '/v1/schedules', { name: 's', every: '1m', message: { url: `${h.sink.origin}/message` } })).status).toBe(201);
    const toWorkflow = await h.api('PATCH', '/v1/schedules/s', { workflow: { name: 'mine' } });
    expect(toWorkflow.status).toBe(200);
    expect(toWorkflow.body.message).toBeUndefined();
    await h.tick();
    await h.ended('mine', 1);
    const toMessage = await h.api('PATCH', '/v1/schedules/s', { message: { url: `${h.sink.origin}/message` } });
    expect(toMessage.status).toBe(200);
    expect(toMessage.body.workflow).toBeUndefined();
    await h.tick();
    await eventually(() => h.sink.arrivals.length === 2, 'the message');
    expect(h.sink.arrivals.map((arrival) => arrival.url)).toEqual(['/run', '/message']);
    expect(await h.runs('mine')).toHaveLength(1);
  });

  it('in sluice.yaml starts runs of the file’s workflows; an unknown one stops the start naming schedules.<name>.workflow.name', async () => {
    const sink = await new Sink(() => ({ status: 200 })).start();
    cleanups.push(() => sink.stop());
    const workflows = { ping: { steps: [{ name: 'ping', request: { url: `${sink.origin}/ping` } }] } };
    const h = await harness({}, { workflows, schedules: { pinger: { every: '1m', workflow: { name: 'ping' } } } });
    await h.tick();
    expect(await h.ended('ping', 1)).toHaveLength(1);
    await expect(startSluice({ schedules: { pinger: { every: '1m', workflow: { name: 'nope' } } } })).rejects.toThrow(/schedules\.pinger\.workflow\.name: no workflow named nope/);
  });
});

describe('a workflow schedule across kill -9', () => {
  const KEY = 'sk_scheduled_runs_0123456789';
  const TICKS = 10;

  it('stores exactly one run per tick: none doubled, none lost, and every run goes on after the restart', async () => {
    const sink = await new Sink(() => ({ status: 200 })).start();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sched-kill-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => sink.stop());
    writeFileSync(join(dir, 'sluice.yaml'), 'network: { allowPrivate: true }\n');
    const start = async () => {
      const { child, url } = await spawnSluice(['--config', join(dir, 'sluice.yaml'), '--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);
      return { child, client: new SluiceClient({ url, key: KEY }) };
    };
    let node = await start();
    await node.client.request('PUT', '/v1/workflows/beat', { steps: [{ name: 'beat', request: { url: `${sink.origin}/beat` } }] });
    // missed: all, so that a tick due while the node is down fires after the restart: every one of
    // the TICKS ticks fires, whatever the kills hit.
    await node.client.request('POST', '/v1/schedules', { name: 'beats', every: '1s', missed: 'all', maxRuns: TICKS, workflow: { name: 'beat' } });
    const runsOf = async () => ((await node.client.request('GET', '/v1/workflows/beat/runs?limit=1000')) as { runs: { id: string; state: string }[] }).runs;

    // Killed twice while it ticks, each time once more runs are stored.
    for (let kill = 0; kill < 2; kill += 1) {
      const before = (await runsOf()).length;
      await eventually(async () => (await runsOf()).length > before, 'another run', 60_000);
      await killHard(node.child);
      node = await start();
    }
    await eventually(async () => ((await node.client.request('GET', '/v1/schedules/beats')) as { state: string }).state === 'completed', 'the schedule to complete', 60_000);
    const runs = await eventually(async () => {
      const listed = await runsOf();
      return listed.every((run) => run.state === 'succeeded') && listed;
    }, 'every run to succeed', 60_000);
    // The count and the runs are stored in one transaction: it counted TICKS, so there are TICKS runs.
    expect(((await node.client.request('GET', '/v1/schedules/beats')) as { runs: number }).runs).toBe(TICKS);
    expect(new Set(runs.map((run) => run.id)).size).toBe(TICKS);
    expect(runs).toHaveLength(TICKS);
    // At least once: a step in flight at a kill may have gone twice.
    expect(sink.arrivals.length).toBeGreaterThanOrEqual(TICKS);
    await killHard(node.child);
  }, 240_000);
});
