import { afterEach, expect, it } from 'vitest';
import { describeRedis, rawClient, redisUrl } from '../delivery/redis-support.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * Nodes of one cluster sharing their limits through Redis, in this process: what the receiving
 * sink sees. Limits are checked from the sink's side (requests in flight at once, the spread of
 * arrivals); nothing asserts how fast anything went.
 */
describePostgres('limits shared through Redis', () => {
  describeRedis('several nodes', () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    });

    /** A fresh schema; its name is also the prefix of the cluster's Redis keys, deleted afterwards. */
    function schema(): string {
      const name = freshSchema();
      cleanups.push(async () => {
        await dropSchema(name);
        const raw = await rawClient();
        try {
          for await (const keys of raw.scanIterator({ MATCH: `sluice:{${name}}:*`, COUNT: 1_000 })) if (keys.length > 0) await raw.unlink(keys);
        } finally {
          await raw.close();
        }
      });
      return name;
    }

    async function node(shared: string, config: Record<string, unknown>, redis = redisUrl): Promise<TestSluice> {
      const { limits, ...rest } = config as { limits?: Record<string, unknown> };
      const started = await startSluice({
        ...rest,
        storage: { postgres: postgresUrl, postgresSchema: shared, postgresPoolSize: 4 },
        network: { allowPrivate: true },
        limits: { redis, ...limits },
      });
      cleanups.push(() => started.stop());
      return started;
    }

    async function sink(delayMs: number): Promise<Sink> {
      const started = await new Sink(() => ({ status: 200, delayMs })).start();
      cleanups.push(() => started.stop());
      return started;
    }

    function pushConfig(target: Sink, limit: Record<string, unknown>) {
      return {
        queues: { hooks: { mode: 'push', url: `${target.origin}/in` } },
        sources: { s: { queue: 'hooks' } },
        limits: { domains: { [target.domain]: limit } },
      };
    }

    let sent = 0;
    async function ingest(nodes: TestSluice[], count: number): Promise<void> {
      for (let i = 0; i < count; i += 1) {
        const response = await fetch(`${nodes[i % nodes.length]!.url}/in/s`, { method: 'POST', body: JSON.stringify({ n: (sent += 1) }) });
        expect(response.status).toBe(202);
      }
    }

    it('a domain concurrency of 3 holds at the sink across two nodes, and every message arrives once', async () => {
      const shared = schema();
      const target = await sink(40);
      const config = pushConfig(target, { concurrency: 3 });
      const nodes = [await node(shared, config), await node(shared, config)];
      await ingest(nodes, 80);
      await eventually(() => target.arrivals.length >= 80, 'all 80 delivered');
      expect(target.maxInFlight).toBeLessThanOrEqual(3);
      const bodies = target.arrivals.map((arrival) => arrival.body.toString());
      expect(new Set(bodies).size).toBe(80);
      // Both nodes delivered: the limit was shared, not held by one node alone.
      expect(nodes.every((n) => (n.app.dispatcher?.started ?? 0) > 0)).toBe(true);
      await eventually(async () => (await nodes[0]!.app.sharedLimits!.limits.slotsHeld(`domain:${target.domain}`)) === 0, 'every permit handed back');
    });

    it('a rate of 20/s (burst 2) is the cluster\'s: two nodes together take as long as one would', async () => {
      const shared = schema();
      const target = await sink(0);
      const config = pushConfig(target, { concurrency: 50, ratePerSecond: 20, burst: 2 });
      const nodes = [await node(shared, config), await node(shared, config)];
      await ingest(nodes, 60);
      await eventually(() => target.arrivals.length >= 60, 'all 60 delivered');
      const times = target.arrivals.map((arrival) => arrival.at).sort((x, y) => x - y);
      // At 20/s shared, 60 messages need (60 - 2) / 20 = 2.9 s from the first to the last; with each
      // node keeping its own 20/s they would take half that. 2.2 s leaves 0.7 s for delivery jitter.
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(2_200);
    });

    it('a limit changed through one node binds the other at once, and a flushed Redis rebuilds the limits from the configuration', async () => {
      const shared = schema();
      const target = await sink(30);
      const config = pushConfig(target, { concurrency: 4 });
      const [a, b] = [await node(shared, config), await node(shared, config)];
      expect((await a.api('PUT', `/v1/limits/domains/${encodeURIComponent(target.domain)}`, { concurrency: 1 })).status).toBe(200);
      // b hears of the change by NOTIFY; its next ask carries the new limit.
      await eventually(() => b.app.dispatcher!.limits.resolve(target.domain).concurrency === 1, 'the new limit on b');
      await ingest([a, b], 30);
      await eventually(() => target.arrivals.length >= 30, 'the first 30 delivered');
      expect(target.maxInFlight).toBe(1);

      // Every key of the cluster gone (a FLUSHDB, a restart without persistence): the next asks
      // build the state again from the limits each node holds. (A delivery in flight at that moment
      // would lose its place, as README says; this test flushes between deliveries.)
      await eventually(() => [a, b].every((n) => n.app.sharedLimits!.inUseCount() === 0), 'no delivery in flight');
      await a.app.sharedLimits!.limits.deleteAll();
      target.maxInFlight = 0;
      await ingest([a, b], 30);
      await eventually(() => target.arrivals.length >= 60, 'the next 30 delivered');
      expect(target.maxInFlight).toBe(1);
      expect(new Set(target.arrivals.map((arrival) => arrival.body.toString())).size).toBe(60);
    });

    it('stats on any node show the domain across the cluster; a slow domain holds up no other', async () => {
      const shared = schema();
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const slow = await new Sink(() => ({ status: 200, after: held })).start();
      cleanups.push(async () => {
        release();
        await slow.stop();
      });
      const fast = await sink(0);
      const config = {
        queues: { slow: { mode: 'push', url: `${slow.origin}/in` }, fast: { mode: 'push', url: `${fast.origin}/in` } },
        sources: { s: { queue: 'slow' }, f: { queue: 'fast' } },
        limits: { domains: { [slow.domain]: { concurrency: 2 }, [fast.domain]: { concurrency: 2 } } },
      };
      const [a, b] = [await node(shared, config), await node(shared, config)];
      for (let i = 0; i < 6; i += 1) expect((await fetch(`${a.url}/in/s`, { method: 'POST', body: `{"slow":${i}}` })).status).toBe(202);
      await eventually(() => slow.inFlight === 2, 'two requests held by the slow domain');
      // The slow domain's places are all taken; the fast domain's deliveries go through both nodes.
      for (let i = 0; i < 20; i += 1) expect((await fetch(`${[a, b][i % 2]!.url}/in/f`, { method: 'POST', body: `{"fast":${i}}` })).status).toBe(202);
      await eventually(() => fast.arrivals.length >= 20, 'the fast domain delivered');
      expect(slow.inFlight).toBe(2);
      for (const n of [a, b]) {
        await eventually(async () => {
          const { body } = await n.api('GET', '/v1/stats');
          const domain = body.domains.find((d: { domain: string }) => d.domain === slow.domain);
          return domain?.cluster?.inFlight === 2 && body.cluster?.inFlight === 2;
        }, 'the cluster figures in the stats of each node');
      }
      release();
      await eventually(() => slow.arrivals.length >= 6, 'the slow domain delivered');
    });

    it('Redis unreachable: deliveries under shared limits wait, the event says so, and they resume by themselves', async () => {
      const shared = schema();
      const proxy = await new TcpProxy(new URL(redisUrl)).start();
      cleanups.push(() => proxy.stop());
      const viaProxy = new URL(redisUrl);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const target = await sink(0);
      const n = await node(shared, pushConfig(target, { concurrency: 2 }), viaProxy.toString());
      await ingest([n], 5);
      await eventually(() => target.arrivals.length >= 5, 'the first five delivered');

      proxy.cut();
      await ingest([n], 5);
      await eventually(async () => {
        const { body } = await n.api('GET', '/v1/stats');
        return body.recentEvents?.some((e: { type: string; available?: boolean }) => e.type === 'shared-limits' && e.available === false);
      }, 'the event that Redis is unreachable');
      // Nothing goes out while no permit can be had (a limit is never exceeded).
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(target.arrivals.length).toBe(5);

      await proxy.restore();
      await eventually(() => target.arrivals.length >= 10, 'the other five delivered after Redis came back');
      const { body } = await n.api('GET', '/v1/stats');
      expect(body.recentEvents.some((e: { type: string; available?: boolean }) => e.type === 'shared-limits' && e.available === true)).toBe(true);
      expect(new Set(target.arrivals.map((a) => a.body.toString())).size).toBe(10);
    });

    it('a node without Redis is refused beside nodes that share their limits, and the other way round', async () => {
      const shared = schema();
      const first = await node(shared, {});
      await expect(startSluice({ storage: { postgres: postgresUrl, postgresSchema: shared } })).rejects.toThrow(
        new RegExp(`node ${first.app.cluster!.nodeId} .*shares its limits through Redis|node ${first.app.cluster!.nodeId} .*limits could not hold`),
      );
      const second = await node(shared, {});
      expect(second.app.cluster!.nodeId).not.toBe(first.app.cluster!.nodeId);

      const other = schema();
      const alone = await startSluice({ storage: { postgres: postgresUrl, postgresSchema: other } });
      cleanups.push(() => alone.stop());
      await expect(node(other, {})).rejects.toThrow(/keeps its limits to itself \(it started without Redis\)/);
    });
  });
});
