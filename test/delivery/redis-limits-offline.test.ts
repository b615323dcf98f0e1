import { expect, it } from 'vitest';
import { RedisLimitKeys } from '../../src/delivery/limiter/redis-keys.js';
import { RedisLimits } from '../../src/delivery/limiter/redis-limits.js';

// What the Redis limits do without a Redis: these run whether or not the machine has one
// (redis-limits.test.ts needs it).

it('refuses to open on an unreachable Redis, naming it without its password', async () => {
  const failure = await RedisLimits.open({ url: 'redis://user:secret@127.0.0.1:1', prefix: 'x', connectTimeoutMs: 1_000 }).then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  expect(failure?.message).toMatch(/^Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1 is unreachable: /);
  expect(failure?.message).not.toContain('secret');
});

it('checks a prefix eagerly', () => {
  expect(() => new RedisLimitKeys('bad prefix')).toThrow(/prefix must be 1-64 characters/);
  expect(new RedisLimitKeys('prod').key('slots', 'domain:api.example.com:8443')).toBe('sluice:{prod}:v1:slots:domain:api.example.com:8443');
});
