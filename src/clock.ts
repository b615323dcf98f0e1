/**
 * Time source for everything that must be testable: pass a Clock in, never read
 * `Date.now()` deep inside logic.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that moves only when told to. For tests of backoff, GCRA, cron and leases.
 *
 * @example
 * const clock = new ManualClock(Date.parse('2026-03-29T00:00:00Z'));
 * clock.advance(1500);
 */
export class ManualClock implements Clock {
  constructor(private current = 0) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}
