import type { RunTimes } from './cron.js';

/** An interval that cannot be used. */
export class EveryParseError extends Error {
  readonly field = 'every';
  constructor(message: string) {
    super(message);
    this.name = 'EveryParseError';
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MIN_INTERVAL_MS = 1_000;
const MAX_INTERVAL_MS = 366 * 86_400_000;

/**
 * Parse an interval such as "30s", "5m", "1h", "1d" or "1h30m" into milliseconds. Anything under
 * one second is refused: a schedule is not a busy loop.
 */
export function parseEvery(spec: string): number {
  const text = typeof spec === 'string' ? spec.trim().toLowerCase() : '';
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) throw new EveryParseError(`"${spec}" is not an interval like 30s, 5m, 1h or 1h30m`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  if (total < MIN_INTERVAL_MS) throw new EveryParseError(`"${spec}" is under 1s`);
  if (total > MAX_INTERVAL_MS) throw new EveryParseError(`"${spec}" is over a year`);
  return total;
}

/** Runs at anchor + k·interval for every whole k ≥ 0. */
export function everyRunTimes(intervalMs: number, anchorMs: number): RunTimes {
  if (!(intervalMs >= MIN_INTERVAL_MS)) throw new EveryParseError('interval must be at least 1s');
  return {
    next(afterMs: number): number {
      if (afterMs < anchorMs) return anchorMs;
      return anchorMs + (Math.floor((afterMs - anchorMs) / intervalMs) + 1) * intervalMs;
    },
  };
}
