import { describe, expect, it } from 'vitest';
import { CronParseError, nextRuns, parseCron } from '../../src/scheduler/cron.js';
import { everyRunTimes, parseEvery } from '../../src/scheduler/every.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const runs = (expr: string, tz: string, from: string, count: number) => nextRuns(parseCron(expr, tz), at(from), count).map(iso);
const gaps = (times: (string | undefined)[]) => times.slice(1).map((t, i) => (Date.parse(t!) - Date.parse(times[i]!)) / 60_000);

describe('cron in UTC', () => {
  it('handles steps, ranges, lists and names', () => {
    expect(runs('*/15 * * * *', 'UTC', '2026-05-01T10:07:00Z', 3)).toEqual(['2026-05-01T10:15:00.000Z', '2026-05-01T10:30:00.000Z', '2026-05-01T10:45:00.000Z']);
    expect(runs('0 9-17/4 * * *', 'UTC', '2026-05-01T00:00:00Z', 3)).toEqual(['2026-05-01T09:00:00.000Z', '2026-05-01T13:00:00.000Z', '2026-05-01T17:00:00.000Z']);
    expect(runs('0 0 * jan-mar MON,fri', 'UTC', '2026-12-31T00:00:00Z', 2)).toEqual(['2027-01-01T00:00:00.000Z', '2027-01-04T00:00:00.000Z']);
    expect(runs('5,10 0 1 * *', 'UTC', '2026-05-01T00:05:00Z', 2)).toEqual(['2026-05-01T00:10:00.000Z', '2026-06-01T00:05:00.000Z']);
  });

  it('is strictly after the given time', () => {
    expect(iso(parseCron('0 * * * *', 'UTC').next(at('2026-05-01T10:00:00Z')))).toBe('2026-05-01T11:00:00.000Z');
    expect(iso(parseCron('0 * * * *', 'UTC').next(at('2026-05-01T09:59:59.999Z')))).toBe('2026-05-01T10:00:00.000Z');
  });

  it('matches either day field when both are restricted', () => {
    expect(runs('0 0 13 * 5', 'UTC', '2026-11-01T00:00:00Z', 4)).toEqual([
      '2026-11-06T00:00:00.000Z',
      '2026-11-13T00:00:00.000Z',
      '2026-11-20T00:00:00.000Z',
      '2026-11-27T00:00:00.000Z',
    ]);
    expect(runs('0 0 13 * *', 'UTC', '2026-11-01T00:00:00Z', 1)).toEqual(['2026-11-13T00:00:00.000Z']);
  });

  it('treats Sunday as 0 or 7', () => {
    expect(runs('0 12 * * 7', 'UTC', '2026-11-22T13:00:00Z', 1)).toEqual(runs('0 12 * * 0', 'UTC', '2026-11-22T13:00:00Z', 1));
    expect(runs('0 12 * * 7', 'UTC', '2026-11-22T13:00:00Z', 1)).toEqual(['2026-11-29T12:00:00.000Z']);
  });

  it('finds leap days quickly and gives up on impossible dates', () => {
    const started = Date.now();
    expect(runs('0 0 29 2 *', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual(['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']);
    expect(parseCron('0 0 30 2 *', 'UTC').next(at('2026-01-01T00:00:00Z'))).toBeUndefined();
    expect(runs('0 0 31 * 1', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-05T00:00:00.000Z']);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('supports a seconds field and macros', () => {
    expect(runs('*/20 * * * * *', 'UTC', '2026-05-01T10:00:05Z', 3)).toEqual(['2026-05-01T10:00:20.000Z', '2026-05-01T10:00:40.000Z', '2026-05-01T10:01:00.000Z']);
    expect(runs('@hourly', 'UTC', '2026-05-01T10:30:00Z', 1)).toEqual(['2026-05-01T11:00:00.000Z']);
    expect(runs('@daily', 'UTC', '2026-05-01T10:30:00Z', 1)).toEqual(['2026-05-02T00:00:00.000Z']);
    expect(runs('@weekly', 'UTC', '2026-11-22T10:30:00Z', 1)).toEqual(['2026-11-29T00:00:00.000Z']);
    expect(runs('@monthly', 'UTC', '2026-11-22T10:30:00Z', 1)).toEqual(['2026-12-01T00:00:00.000Z']);
    expect(runs('@yearly', 'UTC', '2026-11-22T10:30:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
  });

  it('refuses bad expressions and zones, naming the part', () => {
    const bad: [string, RegExp][] = [
      ['61 * * * *', /minute "61".*range/],
      ['* 24 * * *', /hour "24"/],
      ['* * 0 * *', /day of month "0"/],
      ['* * * 13 *', /month "13"/],
      ['* * * * 8', /day of week "8"/],
      ['*/0 * * * *', /step/],
      ['5-1 * * * *', /backwards/],
      ['a b c d e', /minute "b"|second "a"|not a number/],
      ['* * * *', /5 or 6 fields/],
      ['* * * * * * *', /5 or 6 fields/],
      ['@sometimes', /unknown macro/],
      ['1,,2 * * * *', /minute/],
    ];
    for (const [expr, message] of bad) {
      expect(() => parseCron(expr, 'UTC'), expr).toThrow(message);
    }
    try {
      parseCron('0 9 * * *', 'Mars/Olympus');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CronParseError);
      expect((error as CronParseError).field).toBe('timezone');
    }
  });
});

describe('cron across daylight-saving changes', () => {
  it('Europe/Berlin spring forward: a daily 02:30 runs at 03:00 that day, not skipped', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST, the moment clocks jumped
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('Europe/Berlin fall back: a daily 02:30 runs once, at its first occurrence', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 3)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST (first)
      '2026-10-26T01:30:00.000Z', // 02:30 CET
      '2026-10-27T01:30:00.000Z',
    ]);
  });

  it('Europe/Berlin: every 15 minutes stays every 15 real minutes across both changes', () => {
    const spring = runs('*/15 * * * *', 'Europe/Berlin', '2026-03-29T00:00:00Z', 12);
    expect(gaps(spring).every((gap) => gap === 15)).toBe(true);
    const autumn = runs('*/15 * * * *', 'Europe/Berlin', '2026-10-24T23:00:00Z', 16);
    expect(gaps(autumn).every((gap) => gap === 15)).toBe(true);
    expect(autumn).toContain('2026-10-25T00:45:00.000Z'); // 02:45 CEST
    expect(autumn).toContain('2026-10-25T01:00:00.000Z'); // 02:00 CET, the repeated hour
  });

  it('America/New_York: 02:30 on the spring-forward day runs at 03:00 EDT; 01:30 on fall-back runs once', () => {
    expect(runs('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 2)).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']);
    expect(runs('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2)).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
    const hourly = runs('0 * * * *', 'America/New_York', '2026-11-01T04:00:00Z', 4);
    expect(gaps(hourly)).toEqual([60, 60, 60]);
  });

  it('Australia/Lord_Howe: a 30-minute shift keeps every-15-minutes regular', () => {
    const october = runs('*/15 * * * *', 'Australia/Lord_Howe', '2026-10-03T14:30:00Z', 10);
    expect(gaps(october).every((gap) => gap === 15)).toBe(true);
    const april = runs('*/15 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:00:00Z', 10);
    expect(gaps(april).every((gap) => gap === 15)).toBe(true);
  });

  it('lists weekday mornings in local time across the Berlin spring change', () => {
    expect(runs('0 9 * * 1-5', 'Europe/Berlin', '2026-03-27T08:00:00Z', 2)).toEqual(['2026-03-30T07:00:00.000Z', '2026-03-31T07:00:00.000Z']);
  });
});

describe('every', () => {
  it('parses intervals and refuses anything under a second', () => {
    expect(parseEvery('30s')).toBe(30_000);
    expect(parseEvery('5m')).toBe(300_000);
    expect(parseEvery('1h30m')).toBe(5_400_000);
    expect(parseEvery('1d')).toBe(86_400_000);
    expect(parseEvery('1500ms')).toBe(1_500);
    for (const bad of ['500ms', '0s', 'often', '5', '1x', '', '-1s']) expect(() => parseEvery(bad), bad).toThrow();
  });

  it('runs at anchor + k·interval', () => {
    const times = everyRunTimes(60_000, 1_000);
    expect(nextRuns(times, 0, 3)).toEqual([1_000, 61_000, 121_000]);
    expect(times.next(61_000)).toBe(121_000);
  });
});
