import { describe, expect, it } from 'vitest';
import { nextRuns } from '../../src/scheduler/cron.js';
import { EveryParseError, everyRunTimes, parseEvery } from '../../src/scheduler/every.js';

describe('parseEvery', () => {
  it('reads single units and combinations, largest first', () => {
    expect(parseEvery('30s')).toBe(30_000);
    expect(parseEvery('5m')).toBe(300_000);
    expect(parseEvery('1h')).toBe(3_600_000);
    expect(parseEvery('1d')).toBe(86_400_000);
    expect(parseEvery('1h30m')).toBe(5_400_000);
    expect(parseEvery('1d2h3m4s5ms')).toBe(93_784_005);
    expect(parseEvery('1500ms')).toBe(1_500);
    expect(parseEvery('1000ms')).toBe(1_000);
    expect(parseEvery('90s')).toBe(90_000);
    expect(parseEvery(' 1H 30M ')).toBe(5_400_000);
    expect(parseEvery('366d')).toBe(366 * 86_400_000);
  });

  it('refuses garbage with a message that says what is wrong', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      ['often', /not an interval.*like 30s, 5m/],
      ['5', /not an interval/],
      ['1x', /not an interval/],
      ['-1s', /not an interval/],
      ['1.5h', /not an interval/],
      ['1h30', /not an interval/],
      ['h', /not an interval/],
      ['30m1h', /repeats or misorders "h"/],
      ['1m1m', /repeats or misorders "m"/],
      ['500ms', /under the shortest interval, 1s/],
      ['999ms', /under the shortest/],
      ['0s', /under the shortest/],
      ['367d', /over the longest interval/],
      ['99999999999999999999d', /over the longest/],
    ];
    for (const [spec, message] of bad) {
      let thrown: unknown;
      try {
        parseEvery(spec);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, spec).toBeInstanceOf(EveryParseError);
      expect((thrown as EveryParseError).field).toBe('every');
      expect((thrown as Error).message, spec).toMatch(message);
    }
  });
});

describe('everyRunTimes', () => {
  const anchor = Date.parse('2026-05-01T10:00:30Z');

  it('runs at anchor + k·interval, strictly after the given time', () => {
    const times = everyRunTimes(60_000, anchor);
    expect(times.next(anchor - 5_000)).toBe(anchor);
    expect(times.next(anchor - 1)).toBe(anchor);
    expect(times.next(anchor)).toBe(anchor + 60_000);
    expect(times.next(anchor + 59_999)).toBe(anchor + 60_000);
    expect(times.next(anchor + 60_000)).toBe(anchor + 120_000);
    expect(nextRuns(times, Date.parse('2026-05-01T10:05:00Z'), 3)).toEqual([
      Date.parse('2026-05-01T10:05:30Z'),
      Date.parse('2026-05-01T10:06:30Z'),
      Date.parse('2026-05-01T10:07:30Z'),
    ]);
  });

  it('keeps its grid far from the anchor, in real time whatever the zone', () => {
    const times = everyRunTimes(parseEvery('1h30m'), anchor);
    const later = anchor + 1_000 * 5_400_000;
    expect(times.next(later - 1)).toBe(later);
    expect(times.next(later)).toBe(later + 5_400_000);
  });

  it('refuses intervals under a second and anchors that are not numbers', () => {
    expect(() => everyRunTimes(999, anchor)).toThrow(EveryParseError);
    expect(() => everyRunTimes(1_000.5, anchor)).toThrow(/whole number/);
    expect(() => everyRunTimes(Number.NaN, anchor)).toThrow(EveryParseError);
    expect(() => everyRunTimes(1_000, Number.NaN)).toThrow(/anchorMs/);
    expect(() => everyRunTimes(1_000, anchor).next(Number.POSITIVE_INFINITY)).toThrow(/afterMs/);
  });

  it('lists no runs when asked for none, and refuses a bad count', () => {
    expect(nextRuns(everyRunTimes(1_000, 0), 0, 0)).toEqual([]);
    expect(() => nextRuns(everyRunTimes(1_000, 0), 0, -1)).toThrow(/count/);
  });
});
