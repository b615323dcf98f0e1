import { expect, it } from 'vitest';
import { openRedisLimits, SharedLimits } from '../../src/delivery/shared-limits.js';
import { describeRedis, eventually, freshPrefix, rawClient, redisUrl } from './redis-support.js';

describeRedis('openRedisLimits', () => {
  it('warns at start when Redis may evict keys, and not when it may not', async () => {
    const raw = await rawClient();
    const before = (await raw.configGet('maxmemory-policy'))['maxmemory-policy']!;
    const warnings: string[] = [];
    const warn = (what: string, error: unknown) => warnings.push(`${what}: ${(error as Error).message}`);
    try {
      await raw.configSet('maxmemory-policy', 'noeviction');
      await (await openRedisLimits(redisUrl, freshPrefix(), warn)).close();
      expect(warnings).toEqual([]);
      // With maxmemory 0 (this server's) nothing is evicted whatever the policy: changing it is harmless.
      await raw.configSet('maxmemory-policy', 'allkeys-lru');
      await (await openRedisLimits(redisUrl, freshPrefix(), warn)).close();
      expect(warnings).toEqual(['Redis may evict keys: maxmemory-policy is allkeys-lru: set it to noeviction, or an evicted slot lets a limit be exceeded']);
    } finally {
      await raw.configSet('maxmemory-policy', before);
      await raw.close();
    }
  });
});

describeRedis('SharedLimits', () => {
  it('reports a permit Redis lost (a flush) once, and renews it no more', async () => {
    const limits = await openRedisLimits(redisUrl, freshPrefix(), () => {});
    const lost: number[] = [];
    const renewals: number[] = [];
    const shared = new SharedLimits({ limits, node: 'n1', clock: { now: () => Date.now() }, onLost: (count) => lost.push(count) });
    const original = limits.renewPermits.bind(limits);
    limits.renewPermits = async (...args) => {
      renewals.push(args[2].length);
      return original(...args);
    };
    try {
      const grant = await shared.acquire({ domain: 'flushed.example', tenant: 't', n: 1, concurrency: 1 });
      expect(grant?.ids).toHaveLength(1);
      shared.begin({ scopes: { domain: 'flushed.example', global: false }, id: grant!.ids[0]! });
      await limits.deleteAll();
      await eventually(() => lost.length === 1, 'the loss reported');
      const renewalsAfterLoss = renewals.length;
      // Two more renewal periods: the lost permit is neither renewed nor reported again.
      await new Promise((resolve) => setTimeout(resolve, 4_500));
      expect(lost).toEqual([1]);
      expect(renewals.length).toBe(renewalsAfterLoss);
      expect(shared.inUseCount()).toBe(0);
    } finally {
      await shared.stop();
      await limits.deleteAll();
      await limits.close();
    }
  });
});
