import { endOfGap, instantsOf, isValidTimeZone, toNaive } from './timezone.js';

export { isValidTimeZone } from './timezone.js';

/** When a schedule runs. */
export interface RunTimes {
  /** The first run strictly after `afterMs` (epoch ms), or undefined if there is none. */
  next(afterMs: number): number | undefined;
}

/** A cron expression or time zone that cannot be used; `field` names which. */
export class CronParseError extends Error {
  constructor(
    message: string,
    readonly field: 'cron' | 'timezone',
  ) {
    super(message);
    this.name = 'CronParseError';
  }
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Value the names start at (months: 1, days: 0). */
  nameBase?: number;
}
const FIELDS: FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

/** Search no further than this for a matching time (impossible dates such as 30 February). */
const SEARCH_YEARS = 8;
const DAY_MS = 86_400_000;
/** Larger than any DST shift: how far back a run may hide in a repeated (fall-back) hour. */
const OVERLAP_WINDOW_MS = 3 * 3_600_000;

/**
 * Parse a cron expression — 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds
 * first) or a macro (@hourly, @daily, @weekly, @monthly, @yearly) — evaluated in an IANA time zone.
 *
 * Rules, as Vixie cron has them: `*`, lists, ranges, steps (`*\/15`, `1-30/5`), month and day
 * names, Sunday as 0 or 7; when both day fields are restricted, a day matches if either does.
 *
 * Across daylight-saving changes:
 * - A wall-clock time skipped by a spring-forward jump (02:30 in Berlin on the last Sunday of
 *   March) runs once, at the instant the clocks jumped (03:00): a daily job is never skipped.
 * - A wall-clock time that occurs twice on a fall-back day runs once, at its first occurrence,
 *   when the schedule names fixed hours. A schedule whose hour field covers every hour runs in each
 *   real hour, so "every 15 minutes" stays every 15 real minutes.
 *
 * @example
 * const weekdays = parseCron('0 9 * * 1-5', 'Europe/Berlin');
 * // After Friday 09:00 CET comes Monday 09:00 CEST, across the spring-forward weekend:
 * weekdays.next(Date.parse('2026-03-27T08:00:00Z')); // Date.parse('2026-03-30T07:00:00Z')
 */
export function parseCron(expression: string, timeZone: string): RunTimes {
  if (!isValidTimeZone(timeZone)) throw new CronParseError(`unknown time zone "${timeZone}"`, 'timezone');
  if (typeof expression !== 'string') throw new CronParseError('must be a string', 'cron');
  const trimmed = expression.trim().toLowerCase();
  const text = MACROS[trimmed] ?? trimmed;
  if (text.startsWith('@')) throw new CronParseError(`unknown macro "${expression.trim()}"`, 'cron');
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    throw new CronParseError(`expected 5 or 6 fields, got ${parts.length}`, 'cron');
  }
  const fields = parts.length === 5 ? ['0', ...parts] : parts;
  const sets = fields.map((field, index) => parseField(field, FIELDS[index]!));
  const days = sets[5]!;
  if (days.has(7)) days.add(0);
  days.delete(7);
  return new CronRunTimes(
    sets.map((set) => [...set].sort((a, b) => a - b)) as number[][],
    fields[3] !== '*' && fields[3] !== '?',
    fields[5] !== '*' && fields[5] !== '?',
    timeZone,
  );
}

function parseField(field: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const fail = (why: string) => new CronParseError(`${spec.name} "${item}": ${why}`, 'cron');
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined || range === undefined || range === '') throw fail('not a value, range or step');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1 || (stepText !== undefined && !/^\d+$/.test(stepText))) throw fail('step must be a whole number ≥ 1');
    let low: number;
    let high: number;
    if (range === '*' || range === '?') {
      low = spec.min;
      high = spec.max;
    } else if (range.includes('-')) {
      const [from, to, more] = range.split('-');
      if (more !== undefined) throw fail('a range has two ends');
      low = valueOf(from!, spec, fail);
      high = valueOf(to!, spec, fail);
      if (low > high) throw fail('range runs backwards');
    } else {
      low = valueOf(range, spec, fail);
      high = stepText === undefined ? low : spec.max;
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

function valueOf(text: string, spec: FieldSpec, fail: (why: string) => Error): number {
  const named = spec.names?.indexOf(text) ?? -1;
  if (named >= 0) return named + (spec.nameBase ?? 0);
  if (!/^\d{1,2}$/.test(text)) throw fail(spec.names ? 'not a number or a name' : 'not a number');
  const value = Number(text);
  if (value < spec.min || value > spec.max) throw fail(`out of range ${spec.min}-${spec.max}`);
  return value;
}

class CronRunTimes implements RunTimes {
  private readonly seconds: number[];
  private readonly minutes: number[];
  private readonly hours: number[];
  private readonly monthDays: Set<number>;
  private readonly months: Set<number>;
  private readonly weekDays: Set<number>;
  /** The hour field covers every hour: runs in repeated fall-back hours happen twice. */
  private readonly everyHour: boolean;

  constructor(
    sets: number[][],
    private readonly domRestricted: boolean,
    private readonly dowRestricted: boolean,
    private readonly timeZone: string,
  ) {
    [this.seconds, this.minutes, this.hours] = sets as [number[], number[], number[]];
    this.monthDays = new Set(sets[3]);
    this.months = new Set(sets[4]);
    this.weekDays = new Set(sets[5]);
    this.everyHour = this.hours.length === 24;
  }

  next(afterMs: number): number | undefined {
    const after = Math.floor(afterMs / 1000) * 1000;
    // Start a little back in wall-clock time: after a fall-back, earlier wall-clock readings come again.
    let naive = this.nextNaive(toNaive(after, this.timeZone) + 1000 - (this.everyHour ? OVERLAP_WINDOW_MS : 0));
    let best: number | undefined;
    while (naive !== undefined) {
      for (const instant of this.instantsFor(naive)) {
        if (instant > after && (best === undefined || instant < best)) best = instant;
      }
      if (best !== undefined && naive > toNaive(best, this.timeZone) + OVERLAP_WINDOW_MS) return best;
      naive = this.nextNaive(naive + 1000);
    }
    return best;
  }

  /** The instants a matching wall-clock time runs at, after the DST rules above. */
  private instantsFor(naive: number): number[] {
    const instants = instantsOf(naive, this.timeZone);
    if (instants.length === 0) return [endOfGap(naive, this.timeZone)];
    return this.everyHour ? instants : instants.slice(0, 1);
  }

  /** The first wall-clock time at or after `start` that matches every field. */
  private nextNaive(start: number): number | undefined {
    const limit = start + SEARCH_YEARS * 366 * DAY_MS;
    let t = start;
    while (t <= limit) {
      const date = new Date(t);
      const month = date.getUTCMonth() + 1;
      if (!this.months.has(month)) {
        t = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
        continue;
      }
      if (!this.dayMatches(date)) {
        t = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
        continue;
      }
      const dayStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
      const found = this.nextTimeOfDay(date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds());
      if (found === undefined) {
        t = dayStart + DAY_MS;
        continue;
      }
      return dayStart + found;
    }
    return undefined;
  }

  /** The first matching time of day at or after h:m:s, as ms since midnight, or undefined. */
  private nextTimeOfDay(hour: number, minute: number, second: number): number | undefined {
    for (const h of this.hours) {
      if (h < hour) continue;
      for (const m of this.minutes) {
        if (h === hour && m < minute) continue;
        for (const s of this.seconds) {
          if (h === hour && m === minute && s < second) continue;
          return ((h * 60 + m) * 60 + s) * 1000;
        }
      }
    }
    return undefined;
  }

  private dayMatches(date: Date): boolean {
    const dom = this.monthDays.has(date.getUTCDate());
    const dow = this.weekDays.has(date.getUTCDay());
    if (this.domRestricted && this.dowRestricted) return dom || dow;
    if (this.domRestricted) return dom;
    if (this.dowRestricted) return dow;
    return true;
  }
}

/** The next `count` runs strictly after `fromMs`. */
export function nextRuns(times: RunTimes, fromMs: number, count: number): number[] {
  const runs: number[] = [];
  let at: number | undefined = fromMs;
  while (runs.length < count && (at = times.next(at)) !== undefined) runs.push(at);
  return runs;
}
