import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { afterEach, describe, it } from 'vitest';
import { RedisLimits, type RedisLimitsOptions } from '../../src/delivery/limiter/redis-limits.js';

/** Where the Redis tests connect: SLUICE_TEST_REDIS_URL, else the machine's own server. */
export const redisUrl = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** In CI the Redis tests never skip: an unreachable Redis fails every one of them. */
const inCi = process.env.CI === 'true';

/** Why Redis cannot be used (one line), or undefined when it answers. Asked once per test file. */
async function unreachable(): Promise<string | undefined> {
  const client = createClient({ url: redisUrl, socket: { connectTimeout: 3_000, reconnectStrategy: false } });
  client.on('error', () => {}); // the failed connect rejects below; the event must not fail the file
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `Redis at ${redisUrl.replace(/\/\/[^@/]*@/, '//***@')} is unreachable: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    if (client.isOpen) await client.close().catch(() => {});
  }
}

const skipReason = inCi ? undefined : await unreachable();

/**
 * `describe(name, suite)` when Redis answers, or in CI whatever happens (there an unreachable Redis
 * fails each test with the connection error). Elsewhere without Redis: one skipped test whose name
 * says why.
 */
export function describeRedis(name: string, suite: () => void): void {
  if (skipReason === undefined) describe(name, suite);
  else it.skip(`${name}: skipped, ${skipReason}`.replace(/\s+/g, ' '), () => {});
}

/** A key prefix no other test uses. */
export function freshPrefix(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

/**
 * For a describe block: `open(options)` gives a RedisLimits on this test's own prefix (several calls
 * in one test share it: several nodes). After each test every key of the prefix is deleted and the
 * connections closed.
 */
export function redisLimitsPerTest(): { open: (options?: Partial<RedisLimitsOptions>) => Promise<RedisLimits>; prefix: () => string } {
  let prefix = freshPrefix();
  const opened: RedisLimits[] = [];
  afterEach(async () => {
    // Through a client of its own: the test may have broken the limits' connections.
    await Promise.allSettled(opened.splice(0).map((limits) => limits.close()));
    const raw = await rawClient();
    try {
      for await (const keys of raw.scanIterator({ MATCH: `sluice:{${prefix}}:*`, COUNT: 1_000 })) {
        if (keys.length > 0) await raw.unlink(keys);
      }
    } finally {
      await raw.close();
    }
    prefix = freshPrefix();
  });
  return {
    prefix: () => prefix,
    open: async (options = {}) => {
      const limits = await RedisLimits.open({ url: redisUrl, prefix, ...options });
      opened.push(limits);
      return limits;
    },
  };
}

/** A plain client for what the tests do behind the limits' back (SCRIPT FLUSH, reading keys). */
export async function rawClient() {
  const client = createClient({ url: redisUrl });
  await client.connect();
  return client;
}

export { eventually } from '../support/eventually.js';
