/**
 * Wall-clock arithmetic in IANA time zones with nothing but `Intl.DateTimeFormat`.
 *
 * A "wall time" here is a zone's clock reading (year, month, day, hour, minute, second) encoded as
 * if it were a UTC instant: `Date.UTC` of the local fields. That turns calendar arithmetic on local
 * readings into plain integer arithmetic, and `instant + offset = wall time`.
 */

/** Whole seconds: every offset change in the tz database falls on one. */
const SECOND_MS = 1000;
/** Formatters are costly to build (~50 µs) and cheap to reuse; cap the cache against odd inputs. */
const MAX_CACHED_FORMATTERS = 1000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A formatter that reads an instant's wall-clock fields in `timeZone`; throws RangeError for unknown zones. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter) return formatter;
  formatter = new Intl.DateTimeFormat('en-US', {
    timeZone,
    // h23, not hour12: false: the latter prints midnight as "24" on some ICU versions.
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  if (formatters.size >= MAX_CACHED_FORMATTERS) formatters.clear();
  formatters.set(timeZone, formatter);
  return formatter;
}

/**
 * Is this a time zone the runtime knows: an IANA name such as "Europe/Berlin", or "UTC"?
 *
 * @example
 * isValidTimeZone('America/New_York'); // true
 * isValidTimeZone('Mars/Olympus'); // false
 */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock reading of an instant in a zone, as a wall time (see the file comment), to the second. */
export function wallTimeAt(instant: number, timeZone: string): number {
  const fields: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instant))) fields[part.type] = part.value;
  return Date.UTC(
    Number(fields.year),
    Number(fields.month) - 1,
    Number(fields.day),
    Number(fields.hour),
    Number(fields.minute),
    Number(fields.second),
  );
}

/** The zone's offset from UTC at an instant, in ms (Berlin in summer: +7,200,000). */
export function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / SECOND_MS) * SECOND_MS;
  return wallTimeAt(whole, timeZone) - whole;
}

/**
 * The first whole second in `(from, to]` at which the zone's offset is no longer `offset`, given that
 * it is `offset` at `from` and something else at `to`. With several changes in between it finds one
 * of them, which is all callers need: they only step forward to it. Bisection: ~25 lookups for a year.
 */
export function offsetChangeBetween(from: number, to: number, offset: number, timeZone: string): number {
  let low = Math.floor(from / SECOND_MS) * SECOND_MS;
  let high = Math.ceil(to / SECOND_MS) * SECOND_MS;
  while (high - low > SECOND_MS) {
    const middle = low + Math.floor((high - low) / (2 * SECOND_MS)) * SECOND_MS;
    if (offsetAt(middle, timeZone) === offset) low = middle;
    else high = middle;
  }
  return high;
}

/**
 * The instant the zone's clock first reads `wall` after `from` (a wall reading later than the one at
 * `from`). When the offset changes before the clock gets there, the change instead: there the reading
 * jumps (forward over `wall`, or back below it), and the caller looks again from it. Callers ask for
 * readings less than a day ahead, and no zone changes its offset twice within a day.
 */
export function nextInstantOfWall(from: number, wall: number, timeZone: string): number {
  const offset = offsetAt(from, timeZone);
  const candidate = Math.max(wall - offset, from + 1);
  if (offsetAt(candidate, timeZone) === offset) return candidate;
  return offsetChangeBetween(from, candidate, offset, timeZone);
}

/**
 * The instant of a wall reading that is not in a gap or an overlap (a local noon): the reading minus
 * the offset in force then. Two looks settle a guess made with the offset at the reading itself.
 */
export function instantOfWall(wall: number, timeZone: string): number {
  const first = wall - offsetAt(wall, timeZone);
  return wall - offsetAt(first, timeZone);
}
