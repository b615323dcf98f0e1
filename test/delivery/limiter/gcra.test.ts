import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { Gcra } from '../../../src/delivery/limiter/gcra.js';

const EPOCH = Date.parse('2026-03-29T00:00:00Z');

/** A caller with endless work: every millisecond it takes as many as the limiter allows. */
function pollEveryMs(gcra: Gcra, clock: ManualClock, durationMs: number): number[] {
  const admitted: number[] = [];
  const end = clock.now() + durationMs;
  for (; clock.now() < end; clock.advance(1)) takeAll(gcra, clock.now(), admitted);
  return admitted;
}

/** Take everything the limiter allows at `now`; a limiter without bound fails instead of hanging. */
function takeAll(gcra: Gcra, now: number, admitted: number[]): void {
  for (let taken = 0; gcra.tryTake(now) === 0; taken += 1) {
    if (taken > 100_000) throw new Error(`admitted more than 100 000 at ${now}`);
    admitted.push(now);
  }
}

/**
 * The first pair of admissions that breaks "at most burst + floor(W * rate / 1000) in any closed
 * window of length W". Checking every pair (i, j) checks every window: the worst window for a
 * given set of admissions starts at one and ends at another.
 */
function windowViolation(times: number[], rate: number, burst: number): string | undefined {
  for (let i = 0; i < times.length; i += 1) {
    for (let j = i + 1; j < times.length; j += 1) {
      const width = times[j]! - times[i]!;
      const allowed = burst + Math.floor((width * rate) / 1000);
      if (j - i + 1 > allowed) return `${j - i + 1} admitted in [${times[i]}, ${times[j]}] (${width} ms), allowed ${allowed}`;
    }
  }
  return undefined;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A caller that comes and goes: busy spells of greedy polling, idle gaps, single requests. */
function irregularCaller(gcra: Gcra, clock: ManualClock, durationMs: number, seed: number): number[] {
  const random = seededRandom(seed);
  const admitted: number[] = [];
  const end = clock.now() + durationMs;
  while (clock.now() < end) {
    const roll = random();
    if (roll < 0.05) clock.advance(Math.floor(random() * 5_000)); // idle gap
    else if (roll < 0.5) {
      if (gcra.tryTake(clock.now()) === 0) admitted.push(clock.now());
      clock.advance(1 + Math.floor(random() * 50));
    } else {
      takeAll(gcra, clock.now(), admitted);
      clock.advance(1);
    }
  }
  return admitted;
}

const PAIRS: [rate: number, burst: number][] = [
  [0.5, 1],
  [0.5, 3],
  [1, 1],
  [3, 1],
  [3, 2],
  [7, 4],
  [10, 5],
  [40, 1],
  [40, 25],
];

describe('Gcra window guarantee', () => {
  for (const [rate, burst] of PAIRS) {
    it(`never admits more than burst beyond the steady rate in any window (rate ${rate}/s, burst ${burst}, greedy caller)`, () => {
      const clock = new ManualClock(EPOCH);
      const admitted = pollEveryMs(new Gcra(rate, burst), clock, 60_000);
      expect(windowViolation(admitted, rate, burst)).toBeUndefined();
      // The check has teeth: the caller got close to the bound, not far below it.
      expect(admitted.length).toBeGreaterThanOrEqual(burst + Math.floor(59_000 * rate / 1000) - 1);
    });

    it(`holds for a caller that comes and goes (rate ${rate}/s, burst ${burst})`, () => {
      const clock = new ManualClock(EPOCH);
      const admitted = irregularCaller(new Gcra(rate, burst), clock, 60_000, rate * 1000 + burst);
      expect(windowViolation(admitted, rate, burst)).toBeUndefined();
    });
  }

  it('holds for a rate faster than the millisecond clock (2000/s, burst 10)', () => {
    const clock = new ManualClock(EPOCH);
    const admitted = pollEveryMs(new Gcra(2_000, 10), clock, 2_000);
    expect(windowViolation(admitted, 2_000, 10)).toBeUndefined();
    expect(admitted.length).toBe(10 + 3_998);
  });

  it('the checker itself catches a schedule that breaks the bound', () => {
    expect(windowViolation([0, 0, 0], 1, 2)).toMatch(/3 admitted/);
    expect(windowViolation([0, 999], 1, 1)).toMatch(/2 admitted/);
    expect(windowViolation([0, 1000], 1, 1)).toBeUndefined();
  });
});

describe('Gcra steady rate', () => {
  it('gives a busy caller exactly the rate over an hour, without drift from epoch-sized times', () => {
    for (const [rate, burst] of [[3, 2], [0.5, 1], [7, 4], [300, 2]] as const) {
      const clock = new ManualClock(EPOCH);
      const count = pollEveryMs(new Gcra(rate, burst), clock, 3_600_000).length;
      const steady = rate * 3_600;
      expect(count, `rate ${rate}, burst ${burst}`).toBeGreaterThanOrEqual(steady);
      expect(count, `rate ${rate}, burst ${burst}`).toBeLessThanOrEqual(steady + burst);
    }
  });

  it('spaces burst 1 exactly 1/rate apart at a whole-millisecond interval', () => {
    const clock = new ManualClock(EPOCH);
    const admitted = pollEveryMs(new Gcra(0.5, 1), clock, 10_000);
    expect(admitted.map((t) => t - EPOCH)).toEqual([0, 2_000, 4_000, 6_000, 8_000]);
  });

  it('with burst 1 and a fractional interval keeps strict spacing, rounding the wait up to whole ms', () => {
    // 3/s is 333.33 ms apart: a millisecond caller cannot hit that, and strict spacing wins.
    const clock = new ManualClock(EPOCH);
    const admitted = pollEveryMs(new Gcra(3, 1), clock, 60_000);
    const gaps = admitted.slice(1).map((t, i) => t - admitted[i]!);
    expect(new Set(gaps)).toEqual(new Set([334]));
  });
});

describe('Gcra burst and waiting', () => {
  it('lets at most burst go at once after idle time, however long the idle', () => {
    const gcra = new Gcra(10, 5);
    const takeAllAt = (now: number) => {
      const admitted: number[] = [];
      takeAll(gcra, now, admitted);
      return admitted.length;
    };
    expect(takeAllAt(EPOCH)).toBe(5);
    expect(takeAllAt(EPOCH + 3_600_000)).toBe(5);
    expect(takeAllAt(EPOCH + 3_600_000 + 250)).toBe(2);
  });

  it('tryTake answers the wait and records nothing when refused', () => {
    const gcra = new Gcra(4, 1); // 250 ms apart
    expect(gcra.tryTake(1_000)).toBe(0);
    expect(gcra.tryTake(1_000)).toBe(250);
    expect(gcra.tryTake(1_100)).toBe(150);
    expect(gcra.tryTake(1_249)).toBe(1);
    expect(gcra.tryTake(1_250)).toBe(0);
    expect(gcra.tryTake(1_250)).toBe(250);
  });

  it('waitTime matches tryTake and records nothing', () => {
    const gcra = new Gcra(3, 2);
    gcra.tryTake(0);
    gcra.tryTake(0);
    for (let i = 0; i < 5; i += 1) expect(gcra.waitTime(10)).toBe(324); // 333.33 rounded up, minus 10
    expect(gcra.tryTake(10)).toBe(324);
    expect(gcra.tryTake(333)).toBe(1);
    expect(gcra.waitTime(334)).toBe(0);
    expect(gcra.tryTake(334)).toBe(0);
  });

  it('a caller that sleeps exactly waitTime is admitted every time', () => {
    const gcra = new Gcra(7, 1);
    let now = EPOCH;
    for (let i = 0; i < 1_000; i += 1) {
      now += gcra.waitTime(now);
      expect(gcra.tryTake(now)).toBe(0);
    }
  });

  it('tolerates a clock that steps back', () => {
    const gcra = new Gcra(1, 1);
    expect(gcra.tryTake(10_000)).toBe(0);
    expect(gcra.tryTake(5_000)).toBe(6_000);
    expect(gcra.tryTake(11_000)).toBe(0);
  });

  it('rejects limits that make no sense', () => {
    expect(() => new Gcra(0, 1)).toThrow('ratePerSecond must be a finite number greater than 0, got 0');
    expect(() => new Gcra(Number.POSITIVE_INFINITY, 1)).toThrow(/ratePerSecond/);
    expect(() => new Gcra(1, 0)).toThrow('burst must be an integer of at least 1, got 0');
    expect(() => new Gcra(1, 1.5)).toThrow(/burst/);
    expect(() => new Gcra(1, 1).tryTake(Number.NaN)).toThrow(/NaN/);
  });
});

describe('Gcra.reconfigure', () => {
  it('carries over how many requests are owed, not milliseconds: a faster rate frees the next sooner', () => {
    const gcra = new Gcra(1, 10);
    for (let i = 0; i < 10; i += 1) expect(gcra.tryTake(0)).toBe(0);
    expect(gcra.waitTime(0)).toBe(1_000);
    gcra.reconfigure(100, 10, 0);
    expect(gcra.waitTime(0)).toBe(10);
    expect(gcra.ratePerSecond).toBe(100);
  });

  it('a slower rate after a burst makes the next wait a full new interval', () => {
    const gcra = new Gcra(100, 10);
    for (let i = 0; i < 10; i += 1) gcra.tryTake(0);
    gcra.reconfigure(1, 10, 0);
    expect(gcra.waitTime(0)).toBe(1_000);
  });

  it('a smaller burst counts as a full bucket, and the new limits hold from the change on', () => {
    const clock = new ManualClock(0);
    const gcra = new Gcra(10, 10);
    for (let i = 0; i < 10; i += 1) gcra.tryTake(0);
    gcra.reconfigure(10, 2, 0);
    expect(gcra.burstSize).toBe(2);
    expect(gcra.waitTime(0)).toBe(100);
    clock.set(1);
    const after = pollEveryMs(gcra, clock, 30_000);
    expect(windowViolation(after, 10, 2)).toBeUndefined();
    expect(after[0]).toBe(100);
  });

  it('an idle limiter keeps its full new burst', () => {
    const gcra = new Gcra(1, 3);
    gcra.tryTake(0);
    gcra.reconfigure(2, 5, 60_000);
    const admitted: number[] = [];
    takeAll(gcra, 60_000, admitted);
    expect(admitted.length).toBe(5);
  });

  it('without a time, uses the latest time it has seen', () => {
    const gcra = new Gcra(1, 1);
    gcra.tryTake(5_000);
    gcra.waitTime(5_500);
    gcra.reconfigure(2, 1);
    // 0.5 cells were owed at 5 500 → at 2/s that is 250 ms.
    expect(gcra.waitTime(5_500)).toBe(250);
  });

  it('keeps the window guarantee across repeated live changes for requests after each change', () => {
    const clock = new ManualClock(EPOCH);
    const gcra = new Gcra(5, 5);
    const changes: [number, number][] = [[1, 2], [20, 10], [0.5, 1], [8, 3]];
    pollEveryMs(gcra, clock, 10_000);
    for (const [rate, burst] of changes) {
      gcra.reconfigure(rate, burst, clock.now());
      const admitted = pollEveryMs(gcra, clock, 20_000);
      expect(windowViolation(admitted, rate, burst), `after change to ${rate}/s burst ${burst}`).toBeUndefined();
      expect(admitted.length).toBeGreaterThanOrEqual(Math.floor(19_000 * rate / 1000));
    }
  });

  it('rejects bad new limits and keeps the old ones', () => {
    const gcra = new Gcra(2, 2);
    expect(() => gcra.reconfigure(-1, 2)).toThrow(/ratePerSecond/);
    expect(gcra.ratePerSecond).toBe(2);
  });
});
