import type { RunTimes } from './cron.js';

/** An interval that cannot be used; `field` is always 'every', the schedule field it came from. */
export class EveryParseError extends Error {
  readonly field = 'every';
  constructor(message: string) {
    super(message);
    this.name = 'EveryParseError';
  }
}

/** Units from largest to smallest: an interval names each at most once, in this order. */
const UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];
/** A schedule is not a busy loop: ticks at least a second apart. */
const MIN_INTERVAL_MS = 1_000;
/** Longer than this is almost certainly a typo, and a cron expression says it better. */
const MAX_INTERVAL_MS = 366 * 86_400_000;
const FORMAT_HINT = 'use a whole number and a unit (d, h, m, s, ms), like 30s, 5m, 1h, 1d or 1h30m';

/**
 * Parse a fixed interval into milliseconds: whole numbers with units d, h, m, s and ms, largest
 * unit first, each unit at most once ("30s", "5m", "1h", "1d", "1h30m", "1m30s", "1500ms").
 * Case and spaces between parts do not matter.
 *
 * @throws EveryParseError for anything else, for intervals under 1 s and over 366 days.
 * @example
 * parseEvery('1h30m'); // 5_400_000
 */
export function parseEvery(spec: string): number {
  if (typeof spec !== 'string') throw new EveryParseError(`an interval must be a string: ${FORMAT_HINT}`);
  const text = spec.trim().toLowerCase();
  if (text === '') throw new EveryParseError(`the interval is empty: ${FORMAT_HINT}`);
  let total = 0;
  let unitsLeft = UNITS;
  for (const part of splitParts(spec, text)) {
    const index = unitsLeft.findIndex(([unit]) => unit === part.unit);
    if (index < 0) throw new EveryParseError(`"${spec}" repeats or misorders "${part.unit}": give each unit once, largest first`);
    total += part.amount * unitsLeft[index]![1];
    unitsLeft = unitsLeft.slice(index + 1);
  }
  if (total < MIN_INTERVAL_MS) throw new EveryParseError(`"${spec}" is under the shortest interval, 1s`);
  if (total > MAX_INTERVAL_MS) throw new EveryParseError(`"${spec}" is over the longest interval, 366d`);
  return total;
}

/** "1h 30m" → [{1, h}, {30, m}]; throws unless the whole text is such parts. */
function splitParts(spec: string, text: string): { amount: number; unit: string }[] {
  const parts: { amount: number; unit: string }[] = [];
  const pattern = /\s*(\d+)\s*(ms|d|h|m|s)\s*/y;
  let end = 0;
  let match: RegExpExecArray | null;
  // A failed sticky match resets lastIndex to 0, so remember where the last good part ended.
  while ((match = pattern.exec(text)) !== null) {
    parts.push({ amount: Number(match[1]), unit: match[2]! });
    end = pattern.lastIndex;
  }
  if (end !== text.length || parts.length === 0) {
    throw new EveryParseError(`"${spec}" is not an interval: ${FORMAT_HINT}`);
  }
  return parts;
}

/**
 * Runs at `anchorMs + k * intervalMs` for every whole k ≥ 0: the anchor (typically when the
 * schedule was created) keeps ticks on one grid across restarts.
 *
 * @throws EveryParseError for an interval under 1 s, RangeError for an anchor that is not a number.
 * @example
 * const times = everyRunTimes(60_000, Date.parse('2026-05-01T10:00:30Z'));
 * times.next(Date.parse('2026-05-01T10:05:00Z')); // Date.parse('2026-05-01T10:05:30Z')
 */
export function everyRunTimes(intervalMs: number, anchorMs: number): RunTimes {
  if (!Number.isSafeInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS) {
    throw new EveryParseError(`interval must be a whole number of ms, at least ${MIN_INTERVAL_MS}; got ${intervalMs}`);
  }
  if (!Number.isFinite(anchorMs)) throw new RangeError(`anchorMs must be a finite number of ms, got ${anchorMs}`);
  return {
    next(afterMs: number): number {
      if (!Number.isFinite(afterMs)) throw new RangeError(`afterMs must be a finite number of ms, got ${afterMs}`);
      if (afterMs < anchorMs) return anchorMs;
      return anchorMs + (Math.floor((afterMs - anchorMs) / intervalMs) + 1) * intervalMs;
    },
  };
}
