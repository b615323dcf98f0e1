/**
 * Wall-clock arithmetic in IANA time zones with nothing but Intl. "Naive" times are wall-clock
 * readings encoded as if they were UTC epoch milliseconds (Date.UTC of the local fields), which
 * makes calendar arithmetic plain integer arithmetic.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Is this a time zone the runtime knows (an IANA name such as "Europe/Berlin", or "UTC")? */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock reading of an instant in a zone, as a naive time (whole seconds). */
export function toNaive(instant: number, timeZone: string): number {
  const parts = formatterFor(timeZone).formatToParts(new Date(instant));
  const field = (type: string) => Number(parts.find((part) => part.type === type)!.value);
  return Date.UTC(field('year'), field('month') - 1, field('day'), field('hour'), field('minute'), field('second'));
}

/** The zone's offset from UTC at an instant, in ms (Berlin in summer: +7,200,000). */
export function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  return toNaive(whole, timeZone) - whole;
}

/**
 * Every instant whose wall-clock reading is `naive`: none in a spring-forward gap, two in a
 * fall-back overlap (earlier first), one otherwise. Assumes at most one offset change within a day
 * either side, which holds for every zone in the tz database.
 */
export function instantsOf(naive: number, timeZone: string): number[] {
  const offsets = new Set([offsetAt(naive - 86_400_000, timeZone), offsetAt(naive + 86_400_000, timeZone)]);
  const instants: number[] = [];
  for (const offset of offsets) {
    const instant = naive - offset;
    if (offsetAt(instant, timeZone) === offset && !instants.includes(instant)) instants.push(instant);
  }
  return instants.sort((a, b) => a - b);
}

/**
 * The first instant after the spring-forward gap that swallowed `naive` (the moment clocks jumped).
 * Found by bisection between the two readings of the gap; offsets change on whole seconds.
 */
export function endOfGap(naive: number, timeZone: string): number {
  const before = offsetAt(naive - 86_400_000, timeZone);
  const after = offsetAt(naive + 86_400_000, timeZone);
  let low = naive - after; // still before the jump
  let high = naive - before; // already after it
  while (high - low > 1000) {
    const middle = Math.floor((low + high) / 2000) * 1000;
    if (offsetAt(middle, timeZone) === before) low = middle;
    else high = middle;
  }
  return high;
}
