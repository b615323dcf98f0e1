import type { ScheduleConfig } from '../config/schema.js';
import { parseCron, type RunTimes } from './cron.js';
import { everyRunTimes, parseEvery } from './every.js';
import { ExcludingRunTimes } from './exclusions.js';
import { SolarRunTimes } from './solar.js';

const DAY_MS = 86_400_000;

/**
 * How far ahead one search for a schedule's next run looks: five years (1,827 days, two leap days
 * among them at most). A schedule whose exclusions, or whose place (a solar event near a pole),
 * leave nothing in that span has no next run; `nextRuns` lists what falls in it, so it may list
 * fewer than five.
 */
export const LOOKAHEAD_MS = 1_827 * DAY_MS;

/**
 * When a schedule runs: its cron, interval or solar event, without its exclusions, from `startAt` to
 * `endAt` (both inclusive). An interval counts from `startAt` when there is one, else from `anchor`
 * (when the schedule was created). `maxRuns` is not here: it depends on how many runs the store
 * has counted (see ScheduleRunner).
 *
 * @throws CronParseError or EveryParseError for a timing the schema would refuse.
 * @example
 * const times = scheduleRunTimes(config, Date.now());
 * times.next(Date.now()); // the next run, or undefined when the schedule has none left
 */
export function scheduleRunTimes(config: ScheduleConfig, anchor: number): RunTimes {
  const startAt = config.startAt === undefined ? undefined : Date.parse(config.startAt);
  const endAt = config.endAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(config.endAt);
  let times = timingOf(config, startAt ?? anchor, endAt);
  const exclude = config.exclude;
  if (exclude && (exclude.dates?.length || exclude.weekdays?.length || exclude.times?.length)) {
    times = new ExcludingRunTimes(times, exclude, config.timezone, LOOKAHEAD_MS, endAt);
  }
  return between(times, startAt, endAt);
}

function timingOf(config: ScheduleConfig, anchor: number, endAt: number): RunTimes {
  if (config.cron !== undefined) return parseCron(config.cron, config.timezone);
  if (config.every !== undefined) return everyRunTimes(parseEvery(config.every), anchor);
  return new SolarRunTimes(config.solar!, config.timezone, LOOKAHEAD_MS, endAt);
}

/** Runs of `times` from `startAt` to `endAt`, both inclusive. */
function between(times: RunTimes, startAt: number | undefined, endAt: number): RunTimes {
  return {
    next(afterMs: number): number | undefined {
      if (afterMs >= endAt) return undefined;
      const run = times.next(startAt === undefined ? afterMs : Math.max(afterMs, startAt - 1));
      return run === undefined || run > endAt ? undefined : run;
    },
  };
}
