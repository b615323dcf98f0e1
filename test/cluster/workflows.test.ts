import { afterEach, expect, it } from 'vitest';
import { describeRedis, rawClient, redisUrl } from '../delivery/redis-support.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * Workflow runs on nodes of one cluster, in this process, on one PostgreSQL schema: a workflow made
 * on one node is known to the other, a run goes on when the node that started it stops, each step
 * reaches the sink once, and a domain's concurrency holds for the steps of many runs across nodes.
 * Checked through each node's API and from the sink's side; nothing asserts how long anything took.
 */
describePostgres('workflow runs on several nodes', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  function schema(): string {
    const name = freshSchema();
    cleanups.push(() => dropSchema(name));
    return name;
  }

  /** The Redis keys of a cluster (its schema's name is their prefix) are deleted after the test. */
  function dropRedisKeys(prefix: string): void {
    cleanups.push(async () => {
      const raw = await rawClient();
      try {
        for await (const keys of raw.scanIterator({ MATCH: `sluice:{${prefix}}:*`, COUNT: 1_000 })) if (keys.length > 0) await raw.unlink(keys);
      } finally {
        await raw.close();
      }
    });
  }

  async function node(shared: string, limits: Record<string, unknown> = { perNode: true }): Promise<TestSluice> {
    const started = await startSluice({ storage: { postgres: postgresUrl, postgresSchema: shared, postgresPoolSize: 4 }, network: { allowPrivate: true }, limits });
    cleanups.push(() => started.stop());
    return started;
  }

  async function sink(delayMs = 0): Promise<Sink> {
    const started = await new Sink((req) => ({ status: 200, body: `answer of ${req.url}`, delayMs })).start();
    cleanups.push(() => started.stop());
    return started;
  }

  async function ended(on: TestSluice, id: string): Promise<any> {
    return eventually(async () => {
      const run = (await on.api('GET', `/v1/workflows/runs/${id}`)).body;
      return run.state !== 'running' && run;
    }, `run ${id} to end`, 60_000);
  }

  function arrivalsAt(target: Sink, path: string): number {
    return target.arrivals.filter((arrival) => arrival.url === path).length;
  }

  it('a workflow made on one node is known to the other; a run started there goes on on the other when its node stops, each step sent once', async () => {
    const shared = schema();
    const target = await sink();
    const a = await node(shared);
    const b = await node(shared);
    const steps = [
      { name: 'one', request: { url: `${target.origin}/one` } },
      // Due well after the moment a is stopped, so that b is the one to send it.
      { name: 'two', delayMs: 5_000, request: { url: `${target.origin}/two`, body: '{{ steps.one.response.body }}' } },
      { name: 'three', request: { url: `${target.origin}/three` } },
    ];
    expect((await a.api('PUT', '/v1/workflows/handover', { steps })).status).toBe(201);
    const seen = await eventually(async () => {
      const found = await b.api('GET', '/v1/workflows/handover');
      return found.status === 200 && found.body;
    }, 'the workflow on b');
    expect(seen.config.steps.map((step: { name: string }) => step.name)).toEqual(['one', 'two', 'three']);

    const started = await a.api('POST', '/v1/workflows/handover/runs', {});
    expect(started.status).toBe(201);
    const id: string = started.body.id;
    await eventually(async () => (await b.api('GET', `/v1/workflows/runs/${id}`)).body.steps?.length === 2, 'step two waiting');
    await a.stop();
    const waiting = (await b.api('GET', `/v1/workflows/runs/${id}`)).body;
    expect(waiting.steps.map((step: any) => [step.name, step.state])).toEqual([
      ['one', 'succeeded'],
      ['two', 'pending'],
    ]);
    expect(arrivalsAt(target, '/two')).toBe(0);

    const run = await ended(b, id);
    expect(run.state).toBe('succeeded');
    expect(run.steps.map((step: any) => [step.name, step.state])).toEqual([
      ['one', 'succeeded'],
      ['two', 'succeeded'],
      ['three', 'succeeded'],
    ]);
    expect([arrivalsAt(target, '/one'), arrivalsAt(target, '/two'), arrivalsAt(target, '/three')]).toEqual([1, 1, 1]);
    expect(target.arrivals.find((arrival) => arrival.url === '/two')!.body.toString()).toBe('answer of /one');
  });

  describeRedis('limits shared through Redis', () => {
    it("a domain's concurrency of 2 holds at the sink for the steps of many runs started on two nodes, and every step arrives once", async () => {
      const shared = schema();
      dropRedisKeys(shared);
      const target = await sink(30);
      const limits = { redis: redisUrl, domains: { [target.domain]: { concurrency: 2 } } };
      const nodes = [await node(shared, limits), await node(shared, limits)];
      const steps = ['s1', 's2', 's3'].map((name) => ({ name, request: { url: `${target.origin}/${name}?run={{ vars.n }}` } }));
      expect((await nodes[0]!.api('PUT', '/v1/workflows/busy', { steps })).status).toBe(201);
      await eventually(async () => (await nodes[1]!.api('GET', '/v1/workflows/busy')).status === 200, 'the workflow on the second node');
      const runs = 20;
      const ids = await Promise.all(
        Array.from({ length: runs }, async (_, n) => {
          const started = await nodes[n % 2]!.api('POST', '/v1/workflows/busy/runs', { vars: { n } });
          expect(started.status).toBe(201);
          return started.body.id as string;
        }),
      );
      for (const id of ids) expect((await ended(nodes[0]!, id)).state).toBe('succeeded');
      expect(target.maxInFlight).toBeLessThanOrEqual(2);
      const urls = target.arrivals.map((arrival) => arrival.url);
      expect(urls.length).toBe(runs * steps.length);
      expect(new Set(urls).size).toBe(runs * steps.length);
      // Both nodes sent steps: the limit was shared, not held by one node doing all the work.
      expect(nodes.every((n) => (n.app.dispatcher?.started ?? 0) > 0)).toBe(true);
    });
  });
});
