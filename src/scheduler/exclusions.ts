import type { RunTimes } from './cron.js';
import { nextInstantOfWall, wallTimeAt } from './timezone.js';

/** Weekday names as a schedule's `exclude.weekdays` gives them, Sunday first (Date#getUTCDay order). */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** When a schedule must not run, read on the clock of its time zone. */
export interface ExclusionSpec {
  /** Local dates, `YYYY-MM-DD`. */
  dates?: readonly string[];
  weekdays?: readonly Weekday[];
  /** Local times of day, `HH:MM`; `[from, to)`, wrapping past midnight when `to` is before `from`. */
  times?: readonly { from: string; to: string }[];
}

const DAY_MS = 86_400_000;

/** `HH:MM` as ms after midnight; the schema has checked the form. */
export function timeOfDayMs(text: string): number {
  const [hours, minutes] = text.split(':').map(Number) as [number, number];
  return (hours * 60 + minutes) * 60_000;
}

/**
 * A schedule's run times with its exclusions taken out: a tick whose local reading falls on an
 * excluded date or weekday, or in an excluded window, is skipped, and the search goes on from the
 * end of that exclusion (the next local midnight, or the window's `to`), not tick by tick, so an
 * every-second schedule excluded at weekends costs a few steps per weekend. The instant an
 * exclusion ends is found on the zone's clock: across a daylight-saving change the search stops at
 * the change and reads the clock again there, so a window is the same wall-clock window on both
 * sides of it (and both passes of a repeated hour are inside a window that covers it).
 *
 * The search for one run looks at most `lookaheadMs` past its start, and never past `endAt`.
 */
export class ExcludingRunTimes implements RunTimes {
  private readonly dates: ReadonlySet<string>;
  private readonly weekdays: ReadonlySet<number>;
  private readonly windows: readonly { from: number; to: number }[];

  constructor(
    private readonly base: RunTimes,
    exclude: ExclusionSpec,
    private readonly timeZone: string,
    private readonly lookaheadMs: number,
    private readonly endAt = Number.POSITIVE_INFINITY,
  ) {
    this.dates = new Set(exclude.dates ?? []);
    this.weekdays = new Set((exclude.weekdays ?? []).map((day) => WEEKDAYS.indexOf(day)));
    this.windows = (exclude.times ?? []).map((window) => ({ from: timeOfDayMs(window.from), to: timeOfDayMs(window.to) }));
  }

  next(afterMs: number): number | undefined {
    const limit = Math.min(afterMs + this.lookaheadMs, this.endAt);
    let tick = this.base.next(afterMs);
    while (tick !== undefined && tick <= limit) {
      const resume = this.endOfExclusion(tick);
      if (resume === undefined) return tick;
      tick = this.base.next(resume - 1);
    }
    return undefined;
  }

  /** Undefined when `instant` is not excluded; else an instant after it from which to look again. */
  private endOfExclusion(instant: number): number | undefined {
    const wall = wallTimeAt(instant, this.timeZone);
    const midnight = Math.floor(wall / DAY_MS) * DAY_MS;
    const date = new Date(midnight);
    if (this.dates.has(date.toISOString().slice(0, 10)) || this.weekdays.has(date.getUTCDay())) {
      return nextInstantOfWall(instant, midnight + DAY_MS, this.timeZone);
    }
    const time = wall - midnight;
    for (const { from, to } of this.windows) {
      const wraps = to < from;
      if (!wraps && time >= from && time < to) return nextInstantOfWall(instant, midnight + to, this.timeZone);
      if (wraps && time >= from) return nextInstantOfWall(instant, midnight + DAY_MS + to, this.timeZone);
      if (wraps && time < to) return nextInstantOfWall(instant, midnight + to, this.timeZone);
    }
    return undefined;
  }
}
