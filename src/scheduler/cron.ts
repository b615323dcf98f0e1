import { isValidTimeZone, offsetAt, offsetChangeBetween, wallTimeAt } from './timezone.js';

export { isValidTimeZone } from './timezone.js';

/** When a schedule runs. */
export interface RunTimes {
  /** The first run strictly after `afterMs` (epoch ms), or undefined if there is none. */
  next(afterMs: number): number | undefined;
}

/** A cron expression or time zone that cannot be used; `field` says which of the two. */
export class CronParseError extends Error {
  constructor(
    message: string,
    readonly field: 'cron' | 'timezone',
  ) {
    super(message);
    this.name = 'CronParseError';
  }
}

/** The macros of Vixie cron, as 6-field expressions (seconds first). */
const MACROS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};
const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** Names for the values from `min` on (months from 1, days from 0). */
  names?: string[];
}
/** In 6-field order; a 5-field expression gets second "0" in front. */
const FIELD_SPECS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day of week', min: 0, max: 7, names: DAY_NAMES },
];

const SECOND_MS = 1000;
const DAY_MS = 86_400_000;
/**
 * How far ahead to look for a match before calling an expression impossible ("0 0 30 2 *"). Eight
 * years, because 29 February can be that far apart (2096 → 2104: 2100 is not a leap year).
 */
const SEARCH_MS = 8 * 366 * DAY_MS;
/** Larger than any daylight-saving shift in the tz database (Antarctica/Troll: 2 h). */
const MAX_SHIFT_MS = 3 * 3_600_000;

/** What an expression matches, field by field. */
interface CronFields {
  seconds: number[];
  minutes: number[];
  hours: number[];
  monthDays: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekDays: ReadonlySet<number>;
  /** The day-of-month field does not start with `*`: see the day rule in {@link parseCron}. */
  monthDayRestricted: boolean;
  weekDayRestricted: boolean;
}

/**
 * Parse a cron expression, evaluated in an IANA time zone: 5 fields (minute hour day-of-month month
 * day-of-week), 6 (a seconds field first), or a macro: `@yearly` (`@annually`), `@monthly`,
 * `@weekly`, `@daily` (`@midnight`), `@hourly`.
 *
 * Fields take `*`, values, lists (`1,15`), ranges (`1-5`), steps (`*\/15`, `1-30/5`, and `5/15`
 * meaning `5-59/15`), month names JAN–DEC and day names SUN–SAT in any case; Sunday is 0 or 7
 * (and SUN closing a range is 7: `SAT-SUN`);
 * `?` is read as `*`. As in Vixie cron, when both day fields are restricted (neither starts with
 * `*`) a day matches if either does: `0 0 13 * 5` runs on the 13th and on every Friday.
 *
 * Across daylight-saving changes, the rules users expect of a system cron:
 * - A wall-clock time skipped by a spring-forward jump (02:30 in Europe/Berlin on 2026-03-29)
 *   runs once, at the first instant after the gap (03:00 local), for schedules with fixed hours:
 *   a daily job is never skipped. Several such times in one gap run once between them.
 * - A wall-clock time that occurs twice on a fall-back day runs once, at its first occurrence,
 *   for schedules with fixed hours.
 * - A schedule whose hour field covers every hour (`*`) runs in real time instead: in each real
 *   hour, both passes of a repeated hour included, and nothing extra for skipped times. So
 *   `*\/15 * * * *` stays every 15 real minutes across both changes.
 *
 * @throws CronParseError with `field` 'timezone' for an unknown zone, 'cron' for a bad expression,
 *   with a message naming the part (`minute "61" is out of range 0-59`).
 * @example
 * const weekdays = parseCron('0 9 * * 1-5', 'Europe/Berlin');
 * // After Friday 09:00 CET comes Monday 09:00 CEST, across the spring-forward weekend:
 * weekdays.next(Date.parse('2026-03-27T08:00:00Z')); // Date.parse('2026-03-30T07:00:00Z')
 */
export function parseCron(expression: string, timeZone: string): RunTimes {
  if (!isValidTimeZone(timeZone)) {
    throw new CronParseError(`unknown time zone "${String(timeZone)}": use an IANA name such as "Europe/Berlin" or "UTC"`, 'timezone');
  }
  return new CronRunTimes(parseFields(expression), timeZone);
}

function parseFields(expression: string): CronFields {
  if (typeof expression !== 'string') throw new CronParseError('a cron expression must be a string', 'cron');
  const trimmed = expression.trim();
  const text = trimmed.startsWith('@') ? MACROS[trimmed.toLowerCase()] : trimmed;
  if (text === undefined) throw new CronParseError(`unknown macro "${trimmed}": use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly`, 'cron');
  const parts = text === '' ? [] : text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    throw new CronParseError(`expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), got ${parts.length}`, 'cron');
  }
  const fields = parts.length === 5 ? ['0', ...parts] : parts;
  const [seconds, minutes, hours, monthDays, months, weekDays] = fields.map((field, index) => parseField(field, FIELD_SPECS[index]!));
  if (weekDays!.delete(7)) weekDays!.add(0);
  const sorted = (values: Set<number>) => [...values].sort((a, b) => a - b);
  const parsed: CronFields = {
    seconds: sorted(seconds!),
    minutes: sorted(minutes!),
    hours: sorted(hours!),
    monthDays: monthDays!,
    months: months!,
    weekDays: weekDays!,
    monthDayRestricted: !/^[*?]/.test(fields[3]!),
    weekDayRestricted: !/^[*?]/.test(fields[5]!),
  };
  refuseImpossibleDays(parsed);
  return parsed;
}

/** Days in each month at most (February in a leap year), January first. */
const LONGEST_MONTHS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * An expression whose day-of-month never occurs in its months (`0 0 30 2 *`, `0 0 31 4,6 *`) would
 * be accepted and then never run. When both day fields are restricted a weekday can match alone,
 * so only the other case can be impossible; 29 February is possible (leap years).
 */
function refuseImpossibleDays(fields: CronFields): void {
  if (fields.monthDayRestricted && fields.weekDayRestricted) return;
  for (const month of fields.months) {
    for (const day of fields.monthDays) if (day <= LONGEST_MONTHS[month - 1]!) return;
  }
  const days = [...fields.monthDays].sort((a, b) => a - b).join(',');
  const months = [...fields.months].sort((a, b) => a - b).map((month) => MONTH_NAMES[month - 1]!.toUpperCase()).join(',');
  throw new CronParseError(`never runs: day of month ${days} does not occur in ${months}`, 'cron');
}

/** The values one field matches: a comma-separated list of values, ranges and steps. */
function parseField(field: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const context = item === field ? '' : ` (in "${field}")`;
    const fail = (why: string) => new CronParseError(`${spec.name} "${item}" ${why}${context}`, 'cron');
    const slash = item.split('/');
    if (slash.length > 2) throw fail('has more than one step');
    const [range, stepText] = slash as [string, string | undefined];
    const step = stepText === undefined ? 1 : parseStep(stepText, spec, fail);
    const [low, high] = parseRange(range, spec, fail, stepText !== undefined);
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

function parseStep(text: string, spec: FieldSpec, fail: (why: string) => Error): number {
  const largest = spec.max - spec.min;
  const step = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(step >= 1 && step <= largest)) throw fail(`has a bad step "${text}": use a whole number from 1 to ${largest}`);
  return step;
}

/** `*`, `a-b` or `a` as [low, high]; a lone value with a step runs to the field's end (`5/15`). */
function parseRange(text: string, spec: FieldSpec, fail: (why: string) => Error, stepped: boolean): [number, number] {
  if (text === '*' || text === '?') return [spec.min, spec.max];
  const ends = text.split('-');
  if (ends.length > 2) throw fail('is not a value or a range a-b');
  const low = parseValue(ends[0]!, spec, fail);
  if (ends.length === 1) return [low, stepped ? spec.max : low];
  let high = parseValue(ends[1]!, spec, fail);
  // Sunday closing a day-of-week range ("sat-sun", "mon-sun") means 7, its end-of-week number.
  if (spec.max === 7 && high === 0 && low > 0) high = 7;
  if (low > high) throw fail(`runs backwards: ${low} is after ${high}`);
  return [low, high];
}

function parseValue(text: string, spec: FieldSpec, fail: (why: string) => Error): number {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + spec.min;
  if (!/^\d+$/.test(text)) {
    const names = spec.names ? ` or a name (${spec.names[0]!.toUpperCase()}-${spec.names.at(-1)!.toUpperCase()})` : '';
    throw fail(text === '' ? `is missing a value` : `has "${text}", which is not a number${names}`);
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) throw fail(`is out of range ${spec.min}-${spec.max}`);
  return value;
}

/**
 * Finds runs by searching wall-clock readings (pure calendar arithmetic, skipping whole months,
 * days and hours that cannot match) and then mapping a reading to an instant with the zone offset
 * in force. Between the cursor and that instant the offset may change; then the search moves to
 * the change and applies the daylight-saving rules there. So a call costs a handful of Intl
 * look-ups, plus ~25 (a bisection) when a change lies ahead.
 */
class CronRunTimes implements RunTimes {
  /** The hour field covers every hour: runs follow real time across changes (see parseCron). */
  private readonly everyHour: boolean;

  constructor(
    private readonly fields: CronFields,
    private readonly timeZone: string,
  ) {
    this.everyHour = fields.hours.length === 24;
  }

  next(afterMs: number): number | undefined {
    if (!Number.isFinite(afterMs)) throw new RangeError(`afterMs must be a finite number of ms, got ${afterMs}`);
    // Runs fall on whole seconds: the first candidate is the whole second after afterMs.
    let cursor = Math.floor(afterMs / SECOND_MS) * SECOND_MS + SECOND_MS;
    let fromWall = this.firstWallToSearch(cursor);
    const wallLimit = fromWall + SEARCH_MS;
    for (;;) {
      const offset = offsetAt(cursor, this.timeZone);
      const wall = this.nextMatchingWall(fromWall, wallLimit);
      if (wall === undefined) return undefined;
      const instant = wall - offset;
      const change = this.offsetChangeUpTo(cursor, instant, offset);
      if (change === undefined) return instant;
      const offsetAfter = offsetAt(change, this.timeZone);
      const skipped = offsetAfter > offset && wall < change + offsetAfter;
      if (skipped && !this.everyHour) return change;
      cursor = change;
      // After a fall-back the readings up to change + offset come again; fixed hours ran them already.
      fromWall = offsetAfter < offset && !this.everyHour ? change + offset : change + offsetAfter;
    }
  }

  /**
   * The wall time to search from for runs at or after `start`. For fixed hours, if `start` is in
   * the second pass of a repeated (fall-back) hour, the readings left in that hour ran in the first.
   */
  private firstWallToSearch(start: number): number {
    const wall = wallTimeAt(start, this.timeZone);
    if (this.everyHour) return wall;
    const offset = wall - start;
    const earlierOffset = offsetAt(start - MAX_SHIFT_MS, this.timeZone);
    if (earlierOffset <= offset) return wall;
    const change = offsetChangeBetween(start - MAX_SHIFT_MS, start, earlierOffset, this.timeZone);
    return Math.max(wall, change + earlierOffset);
  }

  /**
   * An instant in `(cursor, instant]` where the offset stops being `offset`, or undefined if it holds.
   * The near probe catches a fall-back just ahead even when `instant` is far off in the same offset:
   * the repeated hour could hold runs of an every-hour schedule.
   */
  private offsetChangeUpTo(cursor: number, instant: number, offset: number): number | undefined {
    const near = Math.min(instant, cursor + MAX_SHIFT_MS);
    if (offsetAt(near, this.timeZone) !== offset) return offsetChangeBetween(cursor, near, offset, this.timeZone);
    if (instant > near && offsetAt(instant, this.timeZone) !== offset) {
      return offsetChangeBetween(cursor, instant, offset, this.timeZone);
    }
    return undefined;
  }

  /** The first wall time at or after `from` (and not after `limit`) that matches every field. */
  private nextMatchingWall(from: number, limit: number): number | undefined {
    let t = from;
    while (t <= limit) {
      const date = new Date(t);
      const [year, month, day] = [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()];
      if (!this.fields.months.has(month + 1)) {
        t = Date.UTC(year, month + 1, 1);
      } else if (!this.dayMatches(date)) {
        t = Date.UTC(year, month, day + 1);
      } else {
        const timeOfDay = this.nextTimeOfDay(t - Date.UTC(year, month, day));
        if (timeOfDay !== undefined) return Date.UTC(year, month, day) + timeOfDay;
        t = Date.UTC(year, month, day + 1);
      }
    }
    return undefined;
  }

  /** The first matching time of day at or after `from` (ms since midnight), or undefined. */
  private nextTimeOfDay(from: number): number | undefined {
    const { hours, minutes, seconds } = this.fields;
    const fromSecond = Math.ceil(from / SECOND_MS);
    const [hour, minute, second] = [Math.floor(fromSecond / 3600), Math.floor(fromSecond / 60) % 60, fromSecond % 60];
    for (const h of hours) {
      if (h < hour) continue;
      for (const m of minutes) {
        if (h === hour && m < minute) continue;
        const s = h === hour && m === minute ? seconds.find((candidate) => candidate >= second) : seconds[0];
        if (s !== undefined) return ((h * 60 + m) * 60 + s) * SECOND_MS;
      }
    }
    return undefined;
  }

  /** Vixie's day rule: with both day fields restricted, either may match; otherwise both must. */
  private dayMatches(date: Date): boolean {
    const { monthDays, weekDays, monthDayRestricted, weekDayRestricted } = this.fields;
    const monthDay = monthDays.has(date.getUTCDate());
    const weekDay = weekDays.has(date.getUTCDay());
    return monthDayRestricted && weekDayRestricted ? monthDay || weekDay : monthDay && weekDay;
  }
}

/**
 * The next `count` runs strictly after `fromMs`, fewer if the schedule ends.
 *
 * @example
 * nextRuns(parseCron('0 * * * *', 'UTC'), Date.parse('2026-05-01T10:30:00Z'), 2);
 * // [Date.parse('2026-05-01T11:00:00Z'), Date.parse('2026-05-01T12:00:00Z')]
 */
export function nextRuns(times: RunTimes, fromMs: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a whole number ≥ 0, got ${count}`);
  const runs: number[] = [];
  let at: number | undefined = fromMs;
  while (runs.length < count && (at = times.next(at)) !== undefined) runs.push(at);
  return runs;
}
