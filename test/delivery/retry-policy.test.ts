import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  classifyOutcome,
  parseRetryAfter,
  retryPolicySchema,
  type RetryPolicy,
} from '../../src/delivery/retry-policy.js';

const NOW = Date.parse('2026-03-29T12:00:00Z');
const HOUR = 3_600_000;

describe('retryPolicySchema', () => {
  it('fills every default from an empty object', () => {
    expect(retryPolicySchema.parse({})).toEqual({ maxAttempts: 12, initialMs: 1_000, maxMs: HOUR, multiplier: 2 });
    expect(DEFAULT_RETRY_POLICY).toEqual({ maxAttempts: 12, initialMs: 1_000, maxMs: HOUR, multiplier: 2 });
  });

  it('takes the user-facing shape and flattens it', () => {
    const policy = retryPolicySchema.parse({
      maxAttempts: 5,
      backoff: { initialMs: 500, maxMs: 60_000, multiplier: 1.5 },
      retryOn: [503, 429, 503],
    });
    expect(policy).toEqual({ maxAttempts: 5, initialMs: 500, maxMs: 60_000, multiplier: 1.5, retryOn: [503, 429] });
  });

  it('rejects unknown keys, at the top and inside backoff', () => {
    expect(retryPolicySchema.safeParse({ attempts: 3 }).success).toBe(false);
    const nested = retryPolicySchema.safeParse({ backoff: { initial: 5 } });
    expect(nested.success).toBe(false);
    expect(nested.error?.issues[0]?.path).toEqual(['backoff']);
  });

  it.each([
    [{ maxAttempts: 0 }, ['maxAttempts']],
    [{ maxAttempts: 101 }, ['maxAttempts']],
    [{ maxAttempts: 2.5 }, ['maxAttempts']],
    [{ backoff: { initialMs: 0 } }, ['backoff', 'initialMs']],
    [{ backoff: { multiplier: 0.5 } }, ['backoff', 'multiplier']],
    [{ retryOn: [99] }, ['retryOn', 0]],
    [{ retryOn: [503, 600] }, ['retryOn', 1]],
    [{ backoff: { initialMs: 10_000, maxMs: 5_000 } }, ['backoff', 'maxMs']],
    [{ backoff: { initialMs: 2 * HOUR } }, ['backoff', 'maxMs']],
  ])('rejects %j at %j', (input, path) => {
    const result = retryPolicySchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(path);
  });

  it('accepts the range limits', () => {
    expect(retryPolicySchema.parse({ maxAttempts: 1 }).maxAttempts).toBe(1);
    expect(retryPolicySchema.parse({ maxAttempts: 100 }).maxAttempts).toBe(100);
    expect(retryPolicySchema.parse({ backoff: { initialMs: 1, multiplier: 1 } }).multiplier).toBe(1);
    expect(retryPolicySchema.parse({ retryOn: [100, 599] }).retryOn).toEqual([100, 599]);
  });
});

describe('backoffDelay', () => {
  const fixed = (value: number) => () => value;

  it('draws uniformly from zero up to the ceiling, inclusive', () => {
    const policy = DEFAULT_RETRY_POLICY;
    expect(backoffDelay(policy, 1, fixed(0))).toBe(0);
    expect(backoffDelay(policy, 1, fixed(0.5))).toBe(500);
    expect(backoffDelay(policy, 1, fixed(0.9999999))).toBe(1_000);
    expect(backoffDelay(policy, 3, fixed(0.9999999))).toBe(4_000);
    expect(backoffDelay(policy, 3, fixed(0.25))).toBe(1_000);
  });

  it('multiplies the ceiling per attempt until maxMs caps it', () => {
    const top = fixed(0.9999999);
    const ceilings = Array.from({ length: 14 }, (_, i) => backoffDelay(DEFAULT_RETRY_POLICY, i + 1, top));
    expect(ceilings).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_024_000, 2_048_000, HOUR, HOUR]);
  });

  it('stays within bounds for every attempt and draw, without overflow at attempt 100', () => {
    const steep: RetryPolicy = { maxAttempts: 100, initialMs: 7 * 24 * HOUR, maxMs: 7 * 24 * HOUR, multiplier: 100 };
    for (const policy of [DEFAULT_RETRY_POLICY, steep]) {
      for (let attempt = 1; attempt <= 100; attempt += 1) {
        for (const draw of [0, 0.1, 0.5, 0.999999999]) {
          const delay = backoffDelay(policy, attempt, fixed(draw));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(policy.maxMs);
        }
      }
    }
    expect(backoffDelay(steep, 100, fixed(0.999999999))).toBe(steep.maxMs);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 10_000, fixed(0.999999999))).toBe(HOUR);
  });

  it('clamps a random source that strays outside [0, 1)', () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, fixed(1))).toBe(1_000);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, fixed(-3))).toBe(0);
  });

  it('spreads draws over the whole range with a real random source', () => {
    const delays = Array.from({ length: 2_000 }, () => backoffDelay(DEFAULT_RETRY_POLICY, 2));
    expect(Math.min(...delays)).toBeLessThan(200);
    expect(Math.max(...delays)).toBeGreaterThan(1_800);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2_000);
  });

  it('rejects an attempt number that is not 1-based', () => {
    expect(() => backoffDelay(DEFAULT_RETRY_POLICY, 0)).toThrow('attempt must be an integer of at least 1, got 0');
    expect(() => backoffDelay(DEFAULT_RETRY_POLICY, 1.5)).toThrow(/attempt/);
  });
});

describe('classifyOutcome', () => {
  it.each([
    [200, 'success'],
    [201, 'success'],
    [204, 'success'],
    [299, 'success'],
    [undefined, 'retry'],
    [408, 'retry'],
    [425, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [599, 'retry'],
    [100, 'dead'],
    [301, 'dead'],
    [304, 'dead'],
    [400, 'dead'],
    [401, 'dead'],
    [403, 'dead'],
    [404, 'dead'],
    [409, 'dead'],
    [410, 'dead'],
    [422, 'dead'],
  ] as const)('default policy: %s → %s', (status, outcome) => {
    expect(classifyOutcome(status, DEFAULT_RETRY_POLICY)).toBe(outcome);
  });

  it('retryOn replaces the default list; network errors still retry and 2xx still succeed', () => {
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, retryOn: [409, 503] };
    expect(classifyOutcome(409, policy)).toBe('retry');
    expect(classifyOutcome(503, policy)).toBe('retry');
    expect(classifyOutcome(500, policy)).toBe('dead');
    expect(classifyOutcome(429, policy)).toBe('dead');
    expect(classifyOutcome(undefined, policy)).toBe('retry');
    expect(classifyOutcome(200, policy)).toBe('success');
    expect(classifyOutcome(503, { ...DEFAULT_RETRY_POLICY, retryOn: [] })).toBe('dead');
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(NOW + 120_000);
    expect(parseRetryAfter(' 5 ', NOW)).toBe(NOW + 5_000);
    expect(parseRetryAfter('0', NOW)).toBe(NOW);
    expect(parseRetryAfter('1.5', NOW)).toBe(NOW + 1_500);
  });

  it('reads the three HTTP-date forms', () => {
    const at = Date.parse('2026-03-29T12:10:00Z');
    expect(parseRetryAfter('Sun, 29 Mar 2026 12:10:00 GMT', NOW)).toBe(at);
    expect(parseRetryAfter('Sunday, 29-Mar-26 12:10:00 GMT', NOW)).toBe(at);
    expect(parseRetryAfter('Sun Mar 29 12:10:00 2026', NOW)).toBe(at);
    // asctime pads a one-digit day with a space.
    expect(parseRetryAfter('Wed Apr  1 01:00:00 2026', Date.parse('2026-04-01T00:00:00Z'))).toBe(Date.parse('2026-04-01T01:00:00Z'));
  });

  it('a past date means now', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(NOW);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(NOW);
    expect(parseRetryAfter('Sun, 29 Mar 2026 11:59:59 GMT', NOW)).toBe(NOW);
  });

  it('caps the wait at 24 hours', () => {
    expect(parseRetryAfter('999999999999999999999', NOW)).toBe(NOW + 24 * HOUR);
    expect(parseRetryAfter('86401', NOW)).toBe(NOW + 24 * HOUR);
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', NOW)).toBe(NOW + 24 * HOUR);
  });

  it.each([
    undefined,
    '',
    '   ',
    '-5',
    '5s',
    '1e3',
    'soon',
    'Infinity',
    'NaN',
    '2026-03-29T12:10:00Z',
    'Sun, 31 Feb 2026 12:00:00 GMT',
    'Sun, 29 Mar 2026 25:00:00 GMT',
    'Sun, 29 Foo 2026 12:00:00 GMT',
    'Sun, 29 Mar 2026 12:10:00 PST',
  ])('garbage or absent %j → undefined', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});
