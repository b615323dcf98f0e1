import { describe, expect, it } from 'vitest';
import { scheduleConfigSchema } from '../../src/config/schema.js';
import { nextRuns } from '../../src/scheduler/cron.js';
import { scheduleRunTimes } from '../../src/scheduler/schedule-times.js';

/** A schedule as sluice.yaml or the API would give it, through the one schema. */
function times(fields: Record<string, unknown>, anchor = 0) {
  return scheduleRunTimes(scheduleConfigSchema.parse({ message: { url: 'http://hooks.test/' }, ...fields }), anchor);
}
const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');
const runs = (fields: Record<string, unknown>, from: string, count: number, anchor = 0) => nextRuns(times(fields, anchor), Date.parse(from), count).map(iso);
/** The local reading of an instant, "Sat 09:00". */
const local = (ms: number, timeZone: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms).replace(',', '');

describe('exclusions', () => {
  it('skips excluded local dates', () => {
    const fields = { cron: '0 9 * * *', timezone: 'Europe/Berlin', exclude: { dates: ['2026-12-25', '2026-12-26'] } };
    expect(runs(fields, '2026-12-24T00:00:00Z', 3)).toEqual(['2026-12-24T08:00Z', '2026-12-27T08:00Z', '2026-12-28T08:00Z']);
  });

  it('reads the date in the schedule zone: a date excluded in Auckland is over there before it starts in UTC', () => {
    // 2026-07-04 in Auckland (UTC+12) is 2026-07-03T12:00Z to 2026-07-04T12:00Z.
    const fields = { every: '6h', timezone: 'Pacific/Auckland', exclude: { dates: ['2026-07-04'] } };
    expect(runs(fields, '2026-07-03T00:00:00Z', 3)).toEqual(['2026-07-03T06:00Z', '2026-07-04T12:00Z', '2026-07-04T18:00Z']);
  });

  it('skips excluded local weekdays, a whole weekend at once even every second', () => {
    const hourly = runs({ cron: '0 * * * *', timezone: 'Europe/Berlin', exclude: { weekdays: ['sat', 'sun'] } }, '2026-03-06T21:30:00Z', 3);
    // Friday 23:00 CET runs; the next is Monday 00:00 CET.
    expect(hourly).toEqual(['2026-03-06T22:00Z', '2026-03-08T23:00Z', '2026-03-09T00:00Z']);
    const started = performance.now();
    const everySecond = times({ every: '1s', timezone: 'Europe/Berlin', exclude: { weekdays: ['sat', 'sun'] } });
    expect(iso(everySecond.next(Date.parse('2026-03-06T22:59:59Z'))!)).toBe('2026-03-08T23:00Z');
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('skips a local time window [from, to)', () => {
    const fields = { cron: '*/15 * * * *', timezone: 'Europe/Berlin', exclude: { times: [{ from: '12:00', to: '13:30' }] } };
    const result = nextRuns(times(fields), Date.parse('2026-05-04T09:30:00Z'), 3).map((at) => local(at, 'Europe/Berlin'));
    expect(result).toEqual(['Mon 11:45', 'Mon 13:30', 'Mon 13:45']);
  });

  it('wraps a window past midnight when to is before from', () => {
    const fields = { every: '1h', timezone: 'America/New_York', exclude: { times: [{ from: '22:00', to: '06:00' }] } };
    const result = nextRuns(times(fields, Date.parse('2026-05-04T00:00:00Z')), Date.parse('2026-05-05T00:30:00Z'), 3).map((at) => local(at, 'America/New_York'));
    expect(result).toEqual(['Mon 21:00', 'Tue 06:00', 'Tue 07:00']);
  });

  it('keeps a window on the wall clock across the spring-forward change (Berlin, 29 March 2026)', () => {
    // Window 01:30-03:30 local; 02:00-03:00 does not exist that night, so it lasts one real hour less.
    const fields = { every: '15m', timezone: 'Europe/Berlin', exclude: { times: [{ from: '01:30', to: '03:30' }] } };
    expect(runs(fields, '2026-03-29T00:00:00Z', 3)).toEqual(['2026-03-29T00:15Z', '2026-03-29T01:30Z', '2026-03-29T01:45Z']);
    // 00:15Z is 01:15 CET; 01:30Z is 03:30 CEST, the window's end.
  });

  it('excludes both passes of a repeated hour, and runs in the pass the window does not cover (Berlin, 25 October 2026)', () => {
    const repeated = { every: '15m', timezone: 'Europe/Berlin', exclude: { times: [{ from: '02:00', to: '02:30' }] } };
    // 00:00Z-00:30Z is 02:00-02:30 CEST, 01:00Z-01:30Z is 02:00-02:30 CET.
    expect(runs(repeated, '2026-10-24T23:30:00Z', 5)).toEqual(['2026-10-24T23:45Z', '2026-10-25T00:30Z', '2026-10-25T00:45Z', '2026-10-25T01:30Z', '2026-10-25T01:45Z']);
    // A window the clock leaves by going back: 02:45 CEST (00:45Z) is in it, then the clock reads 02:00 CET.
    const leftBackwards = { every: '15m', timezone: 'Europe/Berlin', exclude: { times: [{ from: '02:45', to: '03:15' }] } };
    expect(runs(leftBackwards, '2026-10-25T00:30:00Z', 4)).toEqual(['2026-10-25T01:00Z', '2026-10-25T01:15Z', '2026-10-25T01:30Z', '2026-10-25T02:15Z']);
  });

  it('excludes a whole local date of 23 hours (New York, 8 March 2026)', () => {
    const fields = { every: '1h', timezone: 'America/New_York', exclude: { dates: ['2026-03-08'] } };
    // 2026-03-08T05:00Z is midnight EST; 2026-03-09T04:00Z is midnight EDT.
    expect(runs(fields, '2026-03-08T03:30:00Z', 2)).toEqual(['2026-03-08T04:00Z', '2026-03-09T04:00Z']);
  });

  it('tests the instant of a solar run, offset included', () => {
    // New York sunset on 8 March 2025 is 17:55 EST, on 9 March 18:56 EDT (timeanddate.com); 30 minutes after
    // them: 18:25 EST, excluded by 18:00-19:00, then 19:26 EDT, not.
    const solar = { event: 'sunset', latitude: 40.7128, longitude: -74.006, offsetMinutes: 30 };
    const next = times({ solar, timezone: 'America/New_York', exclude: { times: [{ from: '18:00', to: '19:00' }] } }).next(Date.parse('2025-03-08T12:00:00-05:00'))!;
    expect(Math.abs(next - Date.parse('2025-03-09T19:26:00-04:00'))).toBeLessThanOrEqual(60_000);
  });

  it('looks at most five years ahead', () => {
    const christmas = { cron: '0 9 25 12 *', exclude: { dates: ['2026-12-25', '2027-12-25', '2028-12-25', '2029-12-25', '2030-12-25'] } };
    expect(times(christmas).next(Date.parse('2026-01-01T00:00:00Z'))).toBeUndefined();
    expect(iso(times(christmas).next(Date.parse('2027-01-01T00:00:00Z'))!)).toBe('2031-12-25T09:00Z');
  });
});

describe('startAt and endAt', () => {
  it('are inclusive; with every, startAt is the anchor', () => {
    const fields = { every: '1d', startAt: '2026-05-01T10:00:30Z', endAt: '2026-05-03T10:00:30Z' };
    const anchor = Date.parse('2026-04-01T07:13:00Z'); // when it was created: not the grid
    expect(nextRuns(times(fields, anchor), Date.parse('2026-04-20T00:00:00Z'), 5).map((at) => new Date(at).toISOString())).toEqual([
      '2026-05-01T10:00:30.000Z',
      '2026-05-02T10:00:30.000Z',
      '2026-05-03T10:00:30.000Z',
    ]);
  });

  it('bound a cron and a solar schedule alike', () => {
    expect(runs({ cron: '0 9 * * *', startAt: '2026-05-01T09:00:00Z', endAt: '2026-05-02T09:00:00+00:00' }, '2026-01-01T00:00:00Z', 5)).toEqual([
      '2026-05-01T09:00Z',
      '2026-05-02T09:00Z',
    ]);
    const solar = { event: 'solarNoon', latitude: 0, longitude: 0, offsetMinutes: 0 };
    expect(nextRuns(times({ solar, startAt: '2026-05-01T00:00:00Z', endAt: '2026-05-03T00:00:00Z' }), 0, 5)).toHaveLength(2);
  });

  it('an end already past: no run', () => {
    expect(times({ every: '1m', endAt: '2026-01-01T00:00:00Z' }).next(Date.parse('2026-01-01T00:00:00Z'))).toBeUndefined();
  });
});

describe('the schedule schema', () => {
  const parse = (fields: Record<string, unknown>) => scheduleConfigSchema.safeParse({ message: { url: 'http://hooks.test/' }, ...fields });
  const fieldsOf = (fields: Record<string, unknown>) => parse(fields).error?.issues.map((issue) => issue.path.join('.'));

  it('names the field of each bad part', () => {
    const solar = { event: 'sunrise', latitude: 52.5, longitude: 13.4 };
    expect(fieldsOf({ cron: '0 9 * * *', exclude: { dates: ['2026-02-30'] } })).toEqual(['exclude.dates.0']);
    expect(fieldsOf({ cron: '0 9 * * *', exclude: { weekdays: ['saturday'] } })).toEqual(['exclude.weekdays.0']);
    expect(fieldsOf({ cron: '0 9 * * *', exclude: { weekdays: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] } })).toEqual(['exclude.weekdays']);
    expect(fieldsOf({ cron: '0 9 * * *', exclude: { times: [{ from: '12:00', to: '24:00' }] } })).toEqual(['exclude.times.0.to']);
    expect(fieldsOf({ cron: '0 9 * * *', exclude: { times: [{ from: '9:00', to: '10:00' }] } })).toEqual(['exclude.times.0.from']);
    expect(fieldsOf({ cron: '0 9 * * *', exclude: { times: [{ from: '10:00', to: '10:00' }] } })).toEqual(['exclude.times.0.to']);
    expect(fieldsOf({ cron: '0 9 * * *', exclude: { holidays: true } })).toEqual(['exclude']);
    expect(fieldsOf({ cron: '0 9 * * *', startAt: 'tomorrow' })).toEqual(['startAt']);
    expect(fieldsOf({ cron: '0 9 * * *', endAt: '2026-05-01T09:00:00' })).toEqual(['endAt']); // no offset
    expect(fieldsOf({ cron: '0 9 * * *', startAt: '2026-05-02T00:00:00Z', endAt: '2026-05-01T00:00:00Z' })).toEqual(['endAt']);
    expect(fieldsOf({ cron: '0 9 * * *', maxRuns: 0 })).toEqual(['maxRuns']);
    expect(fieldsOf({ cron: '0 9 * * *', maxRuns: 1.5 })).toEqual(['maxRuns']);
    expect(fieldsOf({ cron: '0 9 * * *', solar })).toEqual(['solar']);
    expect(fieldsOf({ every: '1h', solar })).toEqual(['solar']);
    expect(fieldsOf({ solar: { ...solar, latitude: 91 } })).toEqual(['solar.latitude']);
    expect(fieldsOf({ solar: { ...solar, longitude: -180.5 } })).toEqual(['solar.longitude']);
    expect(fieldsOf({ solar: { ...solar, offsetMinutes: 721 } })).toEqual(['solar.offsetMinutes']);
    expect(fieldsOf({ solar: { ...solar, event: 'moonrise' } })).toEqual(['solar.event']);
    expect(fieldsOf({ solar: { event: 'sunrise', latitude: 52.5 } })).toEqual(['solar.longitude']);
    expect(fieldsOf({})).toEqual(['']);
  });

  it('takes a solar schedule, its offset 0 unless given', () => {
    const parsed = parse({ solar: { event: 'dusk', latitude: -33.86, longitude: 151.2 }, timezone: 'Australia/Sydney', maxRuns: 10 });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.solar).toEqual({ event: 'dusk', latitude: -33.86, longitude: 151.2, offsetMinutes: 0 });
  });
});
