import { expect, it } from 'vitest';
import { openRedisLimits } from '../../src/delivery/shared-limits.js';
import { describeRedis, freshPrefix, rawClient, redisUrl } from './redis-support.js';

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
