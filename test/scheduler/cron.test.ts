import { describe, expect, it } from 'vitest';
import { CronParseError, isValidTimeZone, nextRuns, parseCron } from '../../src/scheduler/cron.js';

// Every time here is fixed: no test reads the real clock.
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const runs = (expr: string, tz: string, from: string, count: number) => nextRuns(parseCron(expr, tz), at(from), count).map(iso);
const minutesBetween = (times: (string | undefined)[]) => times.slice(1).map((t, i) => (Date.parse(t!) - Date.parse(times[i]!)) / 60_000);

describe('cron in UTC', () => {
  it('handles steps, ranges, lists and names', () => {
    expect(runs('*/15 * * * *', 'UTC', '2026-05-01T10:07:00Z', 3)).toEqual(['2026-05-01T10:15:00.000Z', '2026-05-01T10:30:00.000Z', '2026-05-01T10:45:00.000Z']);
    expect(runs('0 9-17/4 * * *', 'UTC', '2026-05-01T00:00:00Z', 4)).toEqual(['2026-05-01T09:00:00.000Z', '2026-05-01T13:00:00.000Z', '2026-05-01T17:00:00.000Z', '2026-05-02T09:00:00.000Z']);
    expect(runs('0 0 * jan-mar MON,fri', 'UTC', '2026-12-31T00:00:00Z', 2)).toEqual(['2027-01-01T00:00:00.000Z', '2027-01-04T00:00:00.000Z']);
    expect(runs('5,10 0 1 * *', 'UTC', '2026-05-01T00:05:00Z', 2)).toEqual(['2026-05-01T00:10:00.000Z', '2026-06-01T00:05:00.000Z']);
    expect(runs('50/5 * * * *', 'UTC', '2026-05-01T10:00:00Z', 3)).toEqual(['2026-05-01T10:50:00.000Z', '2026-05-01T10:55:00.000Z', '2026-05-01T11:50:00.000Z']);
    expect(runs('0 12 * * Sat-sun', 'UTC', '2026-05-01T00:00:00Z', 3)).toEqual(['2026-05-02T12:00:00.000Z', '2026-05-03T12:00:00.000Z', '2026-05-09T12:00:00.000Z']);
    expect(runs('0 0 1 */5 *', 'UTC', '2026-02-01T00:00:00Z', 3)).toEqual(['2026-06-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
  });

  it('returns the first run strictly after the given time', () => {
    const hourly = parseCron('0 * * * *', 'UTC');
    expect(iso(hourly.next(at('2026-05-01T10:00:00Z')))).toBe('2026-05-01T11:00:00.000Z');
    expect(iso(hourly.next(at('2026-05-01T09:59:59.999Z')))).toBe('2026-05-01T10:00:00.000Z');
    expect(iso(hourly.next(at('2026-05-01T10:00:00.001Z')))).toBe('2026-05-01T11:00:00.000Z');
    expect(() => hourly.next(Number.NaN)).toThrow(/finite/);
  });

  it('rolls over month and year ends', () => {
    expect(runs('59 23 31 12 *', 'UTC', '2026-12-31T23:59:00Z', 1)).toEqual(['2027-12-31T23:59:00.000Z']);
    expect(runs('0 0 31 * *', 'UTC', '2026-01-31T00:00:00Z', 3)).toEqual(['2026-03-31T00:00:00.000Z', '2026-05-31T00:00:00.000Z', '2026-07-31T00:00:00.000Z']);
  });

  it('matches either day field when both are restricted (Vixie)', () => {
    expect(runs('0 0 13 * 5', 'UTC', '2026-11-01T00:00:00Z', 5)).toEqual([
      '2026-11-06T00:00:00.000Z', // Friday
      '2026-11-13T00:00:00.000Z', // Friday the 13th
      '2026-11-20T00:00:00.000Z',
      '2026-11-27T00:00:00.000Z',
      '2026-12-04T00:00:00.000Z',
    ]);
    expect(runs('0 0 1 * mon', 'UTC', '2026-05-31T00:00:00Z', 2)).toEqual(['2026-06-01T00:00:00.000Z', '2026-06-08T00:00:00.000Z']);
    // Only one restricted: it alone decides.
    expect(runs('0 0 13 * *', 'UTC', '2026-11-01T00:00:00Z', 1)).toEqual(['2026-11-13T00:00:00.000Z']);
    expect(runs('0 0 * * 5', 'UTC', '2026-11-01T00:00:00Z', 1)).toEqual(['2026-11-06T00:00:00.000Z']);
    // A day field starting with * counts as unrestricted, as in Vixie: both must match (odd days that are Fridays).
    expect(runs('0 0 */2 * 5', 'UTC', '2026-11-01T00:00:00Z', 2)).toEqual(['2026-11-13T00:00:00.000Z', '2026-11-27T00:00:00.000Z']);
  });

  it('treats Sunday as 0 or 7, also inside ranges', () => {
    expect(runs('0 12 * * 7', 'UTC', '2026-11-22T13:00:00Z', 1)).toEqual(['2026-11-29T12:00:00.000Z']);
    expect(runs('0 12 * * 0', 'UTC', '2026-11-22T13:00:00Z', 1)).toEqual(['2026-11-29T12:00:00.000Z']);
    expect(runs('0 12 * * 6-7', 'UTC', '2026-11-23T00:00:00Z', 2)).toEqual(['2026-11-28T12:00:00.000Z', '2026-11-29T12:00:00.000Z']);
  });

  it('finds leap days and gives up on impossible dates', () => {
    expect(runs('0 0 29 2 *', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual(['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']);
    // 2100 is not a leap year: the gap 2096 -> 2104 is the longest there is, and still found.
    expect(runs('0 0 29 2 *', 'UTC', '2096-03-01T00:00:00Z', 1)).toEqual(['2104-02-29T00:00:00.000Z']);
    expect(runs('0 0 29 feb *', 'America/New_York', '2026-01-01T00:00:00Z', 1)).toEqual(['2028-02-29T05:00:00.000Z']);
    // A day that never occurs in the months named is refused when parsed, not accepted to never run.
    expect(() => parseCron('0 0 30 2 *', 'UTC')).toThrow(/never runs: day of month 30 does not occur in FEB/);
    expect(() => parseCron('0 0 31 4,6,9,11 *', 'Europe/Berlin')).toThrow(CronParseError);
    expect(() => parseCron('0 0 30,31 feb *', 'UTC')).toThrow(/never runs/);
    // With both day fields restricted, the weekday runs alone: Mondays in February.
    expect(runs('0 0 30 2 1', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-02-02T00:00:00.000Z']);
    expect(runs('0 0 31 * 1', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-05T00:00:00.000Z']);
  });

  it('is fast: skips whole months and days, never walks minute by minute', { timeout: 10_000 }, () => {
    // Each of these made the searching slow in some way; 400 calls together take milliseconds.
    const cases: [string, string][] = [
      ['* * * * * *', 'Europe/Berlin'],
      ['0 0 29 2 *', 'America/New_York'],
      ['0 0 31 * 1', 'Australia/Lord_Howe'],
      ['59 23 31 12 *', 'Europe/Berlin'],
      ['*/15 * * * *', 'America/New_York'],
    ];
    for (const [expr, tz] of cases) {
      const times = parseCron(expr, tz);
      let after = at('2026-10-24T23:00:00Z');
      for (let i = 0; i < 70; i++) after = times.next(after) ?? after + 86_400_000;
    }
  });

  it('supports a seconds field and macros', () => {
    expect(runs('*/20 * * * * *', 'UTC', '2026-05-01T10:00:05Z', 3)).toEqual(['2026-05-01T10:00:20.000Z', '2026-05-01T10:00:40.000Z', '2026-05-01T10:01:00.000Z']);
    expect(runs('30 0 9 * * *', 'UTC', '2026-05-01T09:00:30Z', 1)).toEqual(['2026-05-02T09:00:30.000Z']);
    expect(runs('* * * * * *', 'UTC', '2026-05-01T23:59:59.500Z', 2)).toEqual(['2026-05-02T00:00:00.000Z', '2026-05-02T00:00:01.000Z']);
    expect(runs('@hourly', 'UTC', '2026-05-01T10:30:00Z', 1)).toEqual(['2026-05-01T11:00:00.000Z']);
    expect(runs('@daily', 'UTC', '2026-05-01T10:30:00Z', 1)).toEqual(['2026-05-02T00:00:00.000Z']);
    expect(runs('@midnight', 'UTC', '2026-05-01T10:30:00Z', 1)).toEqual(['2026-05-02T00:00:00.000Z']);
    expect(runs('@weekly', 'UTC', '2026-11-22T10:30:00Z', 1)).toEqual(['2026-11-29T00:00:00.000Z']);
    expect(runs('@monthly', 'UTC', '2026-11-22T10:30:00Z', 1)).toEqual(['2026-12-01T00:00:00.000Z']);
    expect(runs('@yearly', 'UTC', '2026-11-22T10:30:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(runs(' @ANNUALLY ', 'UTC', '2026-11-22T10:30:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(runs('@daily', 'Asia/Tokyo', '2026-05-01T10:30:00Z', 1)).toEqual(['2026-05-01T15:00:00.000Z']);
  });

  it('refuses bad expressions, naming the part', () => {
    const bad: [string, RegExp][] = [
      ['61 * * * *', /^minute "61" is out of range 0-59/],
      ['* 24 * * *', /^hour "24" is out of range 0-23/],
      ['* * 0 * *', /^day of month "0" is out of range 1-31/],
      ['* * 32 * *', /^day of month "32"/],
      ['* * * 13 *', /^month "13" is out of range 1-12/],
      ['* * * * 8', /^day of week "8" is out of range 0-7/],
      ['60 * * * * *', /^second "60"/],
      ['*/0 * * * *', /^minute "\*\/0" has a bad step "0"/],
      ['*/60 * * * *', /^minute "\*\/60" has a bad step/],
      ['*/x * * * *', /^minute "\*\/x" has a bad step "x"/],
      ['1/2/3 * * * *', /more than one step/],
      ['5-1 * * * *', /^minute "5-1" runs backwards/],
      ['1-2-3 * * * *', /not a value or a range/],
      ['0 0 * * fri-mon', /^day of week "fri-mon" runs backwards/],
      ['0 0 * foo *', /^month "foo" has "foo", which is not a number or a name \(JAN-DEC\)/],
      ['0 0 * * monday', /^day of week "monday".*not a number or a name \(SUN-SAT\)/],
      ['jan * * * *', /^minute "jan" has "jan", which is not a number$/],
      ['0 0 1,32 * *', /^day of month "32" is out of range 1-31 \(in "1,32"\)$/],
      ['1,,2 * * * *', /^minute "" is missing a value/],
      ['-5 * * * *', /^minute "-5" is missing a value/],
      ['1.5 * * * *', /^minute "1.5".*not a number/],
      ['* * * *', /expected 5 fields .* or 6 .*got 4/],
      ['* * * * * * *', /got 7/],
      ['', /got 0/],
      ['   ', /got 0/],
      ['@sometimes', /unknown macro "@sometimes"/],
    ];
    for (const [expr, message] of bad) {
      let thrown: unknown;
      try {
        parseCron(expr, 'UTC');
      } catch (error) {
        thrown = error;
      }
      expect(thrown, expr).toBeInstanceOf(CronParseError);
      expect((thrown as CronParseError).field, expr).toBe('cron');
      expect((thrown as Error).message, expr).toMatch(message);
    }
  });

  it('refuses unknown time zones with field "timezone"', () => {
    for (const zone of ['Mars/Olympus', '', 'Europe/Berlinn', 'x'.repeat(100)]) {
      expect(isValidTimeZone(zone), zone).toBe(false);
      let thrown: unknown;
      try {
        parseCron('0 9 * * *', zone);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, zone).toBeInstanceOf(CronParseError);
      expect((thrown as CronParseError).field).toBe('timezone');
      expect((thrown as Error).message).toMatch(/unknown time zone/);
    }
    for (const zone of ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata']) expect(isValidTimeZone(zone), zone).toBe(true);
  });
});

describe('cron across daylight-saving changes', () => {
  it('Europe/Berlin spring forward: a daily 02:30 runs at 03:00 that day, not skipped', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST, the moment clocks jumped
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    // Several skipped times run once between them, and a real 03:00 after it is not lost.
    expect(runs('*/20 2,3 * * *', 'Europe/Berlin', '2026-03-29T00:00:00Z', 4)).toEqual([
      '2026-03-29T01:00:00.000Z', // 02:00, 02:20, 02:40 and 03:00 CEST together
      '2026-03-29T01:20:00.000Z',
      '2026-03-29T01:40:00.000Z',
      '2026-03-30T00:00:00.000Z',
    ]);
  });

  it('Europe/Berlin fall back: a daily 02:30 runs once, at its first occurrence', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 3)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST (first); 02:30 CET an hour later does not run
      '2026-10-26T01:30:00.000Z', // 02:30 CET
      '2026-10-27T01:30:00.000Z',
    ]);
    // Asked from inside the repeated hour's second pass, the 02:30 that already ran is not run again.
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-25T01:10:00Z', 1)).toEqual(['2026-10-26T01:30:00.000Z']);
    expect(runs('*/20 2 * * *', 'Europe/Berlin', '2026-10-25T00:00:00Z', 4)).toEqual([
      '2026-10-25T00:20:00.000Z',
      '2026-10-25T00:40:00.000Z',
      '2026-10-26T01:00:00.000Z',
      '2026-10-26T01:20:00.000Z',
    ]);
  });

  it('Europe/Berlin: every 15 minutes stays every 15 real minutes across both changes', () => {
    const spring = runs('*/15 * * * *', 'Europe/Berlin', '2026-03-28T23:50:00Z', 12);
    expect(spring[0]).toBe('2026-03-29T00:00:00.000Z');
    expect(minutesBetween(spring)).toEqual(Array(11).fill(15));
    const autumn = runs('*/15 * * * *', 'Europe/Berlin', '2026-10-24T23:50:00Z', 16);
    expect(minutesBetween(autumn)).toEqual(Array(15).fill(15));
    expect(autumn).toContain('2026-10-25T00:45:00.000Z'); // 02:45 CEST
    expect(autumn).toContain('2026-10-25T01:00:00.000Z'); // 02:00 CET, the repeated hour
    // Hourly at :30 is hourly in real time: nothing extra for the skipped 02:30.
    expect(minutesBetween(runs('30 * * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z', 4))).toEqual([60, 60, 60]);
    expect(minutesBetween(runs('30 * * * *', 'Europe/Berlin', '2026-10-24T23:00:00Z', 4))).toEqual([60, 60, 60]);
  });

  it('America/New_York: 02:30 runs at 03:00 EDT on the spring day; 01:30 runs once on the fall day', () => {
    expect(runs('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
    expect(runs('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; not again at 01:30 EST
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(minutesBetween(runs('*/15 * * * *', 'America/New_York', '2026-03-08T06:20:00Z', 8))).toEqual(Array(7).fill(15));
    expect(minutesBetween(runs('*/15 * * * *', 'America/New_York', '2026-11-01T05:20:00Z', 8))).toEqual(Array(7).fill(15));
    expect(minutesBetween(runs('0 * * * *', 'America/New_York', '2026-11-01T04:00:00Z', 4))).toEqual([60, 60, 60]);
  });

  it('Australia/Lord_Howe: the 30-minute shift follows the same rules', () => {
    // 2026-10-04 02:00 +10:30 -> 02:30 +11; 2026-04-05 02:00 +11 -> 01:30 +10:30.
    expect(runs('15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T12:00:00Z', 2)).toEqual([
      '2026-10-03T15:30:00.000Z', // 02:15 does not exist: 02:30 +11
      '2026-10-04T15:15:00.000Z',
    ]);
    expect(runs('45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T12:00:00Z', 2)).toEqual([
      '2026-04-04T14:45:00.000Z', // 01:45 +11, first of two
      '2026-04-05T15:15:00.000Z',
    ]);
    expect(minutesBetween(runs('*/15 * * * *', 'Australia/Lord_Howe', '2026-10-03T15:00:00Z', 10))).toEqual(Array(9).fill(15));
    expect(minutesBetween(runs('*/15 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:00:00Z', 10))).toEqual(Array(9).fill(15));
  });

  it('keeps weekday mornings in local time across the Berlin spring change', () => {
    expect(runs('0 9 * * 1-5', 'Europe/Berlin', '2026-03-27T07:00:00Z', 3)).toEqual([
      '2026-03-27T08:00:00.000Z', // Friday 09:00 CET
      '2026-03-30T07:00:00.000Z', // Monday 09:00 CEST
      '2026-03-31T07:00:00.000Z',
    ]);
  });
});

/**
 * A second, independent statement of the rules: walk real time minute by minute and decide at each
 * minute whether a run is due. Slow, but obviously right; the engine must agree with it exactly.
 */
describe('cron agrees with a minute-by-minute simulation around each change', () => {
  interface Wall {
    ms: number;
    minute: number;
    hour: number;
    monthDay: number;
    month: number;
    weekDay: number;
  }
  const wallAtMs = (ms: number): Wall => {
    const date = new Date(ms);
    return { ms, minute: date.getUTCMinutes(), hour: date.getUTCHours(), monthDay: date.getUTCDate(), month: date.getUTCMonth() + 1, weekDay: date.getUTCDay() };
  };
  const formats = new Map<string, Intl.DateTimeFormat>();
  const formatFor = (timeZone: string) => {
    const options = { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' } as const;
    if (!formats.has(timeZone)) formats.set(timeZone, new Intl.DateTimeFormat('en-GB', options));
    return formats.get(timeZone)!;
  };
  const wallOf = (instant: number, timeZone: string): Wall => {
    const parts = formatFor(timeZone).formatToParts(instant);
    const get = (type: string) => Number(parts.find((part) => part.type === type)!.value);
    const ms = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
    return wallAtMs(ms);
  };

  /** Runs in [from, to): every-hour schedules follow real time; fixed hours run first occurrences and catch up gaps. */
  const simulate = (matches: (wall: Wall) => boolean, everyHour: boolean, timeZone: string, from: number, to: number) => {
    const fired: number[] = [];
    const seen = new Set<number>();
    let previous: Wall | undefined;
    for (let instant = from; instant < to; instant += 60_000) {
      const wall = wallOf(instant, timeZone);
      let due = everyHour ? matches(wall) : matches(wall) && !seen.has(wall.ms);
      for (let skipped = (previous?.ms ?? wall.ms) + 60_000; !everyHour && skipped < wall.ms; skipped += 60_000) {
        if (matches(wallAtMs(skipped))) due = true;
      }
      if (due) fired.push(instant);
      seen.add(wall.ms);
      previous = wall;
    }
    return fired;
  };

  const schedules: [string, (wall: Wall) => boolean, boolean][] = [
    ['*/15 * * * *', (w) => w.minute % 15 === 0, true],
    ['45 * * * *', (w) => w.minute === 45, true],
    ['*/10 * * * 0', (w) => w.minute % 10 === 0 && w.weekDay === 0, true],
    // In Santiago the last match before the April change is in the repeated hour, the next a year on.
    ['30 * 1-4 4 *', (w) => w.minute === 30 && w.month === 4 && w.monthDay <= 4, true],
    ['30 2 * * *', (w) => w.hour === 2 && w.minute === 30, false],
    ['15,45 0-3 * * *', (w) => w.hour <= 3 && (w.minute === 15 || w.minute === 45), false],
    ['*/5 1,2 * * *', (w) => (w.hour === 1 || w.hour === 2) && w.minute % 5 === 0, false],
    ['0 3 * * *', (w) => w.hour === 3 && w.minute === 0, false],
    ['30 23 * * *', (w) => w.hour === 23 && w.minute === 30, false],
  ];
  // Days with a change: a 1 h shift, a 30 min shift (Lord_Howe), a 2 h shift (Troll), changes at midnight (Santiago).
  const changes: [string, string][] = [
    ['Europe/Berlin', '2026-03-29'],
    ['Europe/Berlin', '2026-10-25'],
    ['America/New_York', '2026-03-08'],
    ['America/New_York', '2026-11-01'],
    ['Australia/Lord_Howe', '2026-04-05'],
    ['Australia/Lord_Howe', '2026-10-04'],
    ['Antarctica/Troll', '2026-03-29'],
    ['Antarctica/Troll', '2026-10-25'],
    ['America/Santiago', '2026-04-05'],
    ['America/Santiago', '2026-09-06'],
  ];

  for (const [timeZone, day] of changes) {
    it(`${timeZone} around ${day}`, () => {
      const from = at(`${day}T00:00:00Z`) - 18 * 3_600_000;
      const to = from + 48 * 3_600_000;
      const offsetOf = (instant: number) => wallOf(instant, timeZone).ms - instant;
      expect(offsetOf(from), 'the window holds an offset change').not.toBe(offsetOf(to));
      for (const [expr, matches, everyHour] of schedules) {
        const expected = simulate(matches, everyHour, timeZone, from, to).map(iso);
        const actual = nextRuns(parseCron(expr, timeZone), from - 1, expected.length + 1).map(iso);
        expect(actual.slice(0, expected.length), expr).toEqual(expected);
        expect(Date.parse(actual[expected.length]!) >= to, `${expr}: no extra run before the window ends`).toBe(true);
      }
    });
  }
});
