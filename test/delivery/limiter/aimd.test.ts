import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { AdaptiveConcurrency } from '../../../src/delivery/limiter/aimd.js';

describe('AdaptiveConcurrency', () => {
  it('starts at the configured limit', () => {
    const aimd = new AdaptiveConcurrency(16);
    expect(aimd.effective).toBe(16);
    expect(aimd.configuredLimit).toBe(16);
  });

  it('halves once for a burst of throttles within one window', () => {
    const clock = new ManualClock(10_000);
    const aimd = new AdaptiveConcurrency(64);
    for (let i = 0; i < 10; i += 1) {
      aimd.onThrottle(clock.now());
      clock.advance(50);
    }
    expect(aimd.effective).toBe(32);
  });

  it('halves again once a window has passed since the last halving', () => {
    const clock = new ManualClock(0);
    const aimd = new AdaptiveConcurrency(64);
    aimd.onThrottle(clock.now());
    clock.advance(999);
    aimd.onThrottle(clock.now());
    expect(aimd.effective).toBe(32);
    clock.advance(1);
    aimd.onThrottle(clock.now());
    expect(aimd.effective).toBe(16);
  });

  it('rounds down and never goes below 1', () => {
    const clock = new ManualClock(0);
    const aimd = new AdaptiveConcurrency(5);
    const seen: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      aimd.onThrottle(clock.now());
      seen.push(aimd.effective);
      clock.advance(1_000);
    }
    expect(seen).toEqual([2, 1, 1, 1, 1, 1]);
  });

  it('grows by one per window while successes keep coming, back to the configured limit and no further', () => {
    const clock = new ManualClock(0);
    const aimd = new AdaptiveConcurrency(8);
    aimd.onThrottle(clock.now());
    expect(aimd.effective).toBe(4);
    const seen: number[] = [];
    // A success every 100 ms for 10 s.
    for (let t = 100; t <= 10_000; t += 100) {
      clock.set(t);
      aimd.onSuccess(clock.now());
      if (t % 1_000 === 0) seen.push(aimd.effective);
    }
    expect(seen).toEqual([5, 6, 7, 8, 8, 8, 8, 8, 8, 8]);
  });

  it('does not grow while no successes come: one late success is one step', () => {
    const aimd = new AdaptiveConcurrency(10, { increaseEveryMs: 500 });
    aimd.onThrottle(0); // 5
    aimd.onSuccess(60_000);
    expect(aimd.effective).toBe(6);
    aimd.onSuccess(60_100);
    expect(aimd.effective).toBe(6);
    aimd.onSuccess(60_500);
    expect(aimd.effective).toBe(7);
  });

  it('a throttle restarts the growth window', () => {
    const aimd = new AdaptiveConcurrency(10);
    aimd.onThrottle(0); // 5
    aimd.onSuccess(900);
    aimd.onThrottle(950); // same wave as the halving at 0: no second halving, but not healthy either
    aimd.onSuccess(1_500);
    expect(aimd.effective).toBe(5);
    aimd.onSuccess(1_950);
    expect(aimd.effective).toBe(6);
  });

  it('uses the configured window length', () => {
    const aimd = new AdaptiveConcurrency(10, { increaseEveryMs: 5_000 });
    aimd.onThrottle(0);
    aimd.onThrottle(4_999);
    expect(aimd.effective).toBe(5);
    aimd.onSuccess(9_998);
    expect(aimd.effective).toBe(5);
    aimd.onSuccess(9_999);
    expect(aimd.effective).toBe(6);
  });

  it('a lower configured limit clamps at once', () => {
    const aimd = new AdaptiveConcurrency(20);
    aimd.setConfigured(6);
    expect(aimd.effective).toBe(6);
    aimd.onSuccess(0);
    aimd.onSuccess(10_000);
    expect(aimd.effective).toBe(6);
  });

  it('a higher limit is taken at once when running at full limit, grown into when throttled', () => {
    const healthy = new AdaptiveConcurrency(5);
    healthy.setConfigured(50);
    expect(healthy.effective).toBe(50);

    const throttled = new AdaptiveConcurrency(8);
    throttled.onThrottle(0); // 4
    throttled.setConfigured(20);
    expect(throttled.effective).toBe(4);
    throttled.onSuccess(1_000);
    expect(throttled.effective).toBe(5);
    throttled.setConfigured(3);
    expect(throttled.effective).toBe(3);
  });

  it('rejects limits that make no sense', () => {
    expect(() => new AdaptiveConcurrency(0)).toThrow('configured concurrency must be an integer of at least 1, got 0');
    expect(() => new AdaptiveConcurrency(2.5)).toThrow(/integer/);
    expect(() => new AdaptiveConcurrency(4, { increaseEveryMs: 0 })).toThrow(/increaseEveryMs/);
    expect(() => new AdaptiveConcurrency(4).setConfigured(-1)).toThrow(/at least 1/);
  });
});
