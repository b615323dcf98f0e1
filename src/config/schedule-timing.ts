import { z } from 'zod';
import { WEEKDAYS } from '../scheduler/exclusions.js';
import { SOLAR_EVENTS } from '../scheduler/solar.js';

/**
 * The parts of a schedule beyond its cron or interval: exclusions, a start and an end, a most
 * number of runs, and solar events. Part of the one configuration schema (schema.ts takes them into
 * `scheduleFieldsSchema`); here so that schema.ts stays a readable size.
 */

const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;
const timeOfDay = z.string().regex(TIME_OF_DAY, 'must be a local time HH:MM, 00:00 to 23:59');

/** A local time window `[from, to)`; `to` before `from` wraps past midnight (22:00 to 06:00). */
const timeWindowSchema = z
  .object({ from: timeOfDay, to: timeOfDay })
  .strict()
  .refine((window) => window.from !== window.to, { path: ['to'], message: 'must differ from from (the window would be empty)' });

/** When a schedule does not run, read on its time zone's clock. */
export const exclusionsSchema = z
  .object({
    /** Local dates, `YYYY-MM-DD`: a tick on one of them is skipped. */
    dates: z.array(z.iso.date({ error: 'must be a date YYYY-MM-DD' })).max(1_000).optional(),
    /** Local weekdays, `mon` … `sun`. */
    weekdays: z
      .array(z.enum(WEEKDAYS))
      .max(7)
      .refine((days) => new Set(days).size < WEEKDAYS.length, { message: 'excludes every day: the schedule would never run' })
      .optional(),
    /** Local time windows `[from, to)`, `HH:MM`, wrapping past midnight when `to` < `from`. */
    times: z.array(timeWindowSchema).max(48).optional(),
  })
  .strict();

/** Once a day at a solar event at a place, instead of cron or every. */
export const solarSchema = z
  .object({
    /** sunrise, sunset, solarNoon, or civil twilight: dawn (morning), dusk (evening). */
    event: z.enum(SOLAR_EVENTS),
    /** Degrees, north positive. */
    latitude: z.number().min(-90).max(90),
    /** Degrees, east positive. */
    longitude: z.number().min(-180).max(180),
    /** Run this many minutes after the event (negative: before). */
    offsetMinutes: z.number().int().min(-720).max(720).default(0),
  })
  .strict();

/** An instant as RFC 3339 with an offset or Z (`2026-12-24T18:00:00+01:00`). */
export const instantSchema = z.iso.datetime({ offset: true, error: 'must be an RFC 3339 date-time with an offset, like 2026-12-24T18:00:00Z' });

/** The fields this module adds to a schedule. */
export const scheduleTimingFields = {
  exclude: exclusionsSchema.optional(),
  /** First possible run (inclusive); with `every`, the runs count from it. */
  startAt: instantSchema.optional(),
  /** Last possible run (inclusive): then the schedule is completed. */
  endAt: instantSchema.optional(),
  /** Most runs; skipped ticks do not count. Then the schedule is completed. */
  maxRuns: z.number().int().positive().max(1_000_000_000).optional(),
  solar: solarSchema.optional(),
};

interface TimingFields {
  cron?: string | undefined;
  every?: string | undefined;
  solar?: unknown;
  startAt?: string | undefined;
  endAt?: string | undefined;
}

/** Checks across fields: exactly one of cron, every and solar; an end not before the start. */
export function checkScheduleTiming(schedule: TimingFields, ctx: z.RefinementCtx): void {
  const timings = (['cron', 'every', 'solar'] as const).filter((field) => schedule[field] !== undefined);
  if (timings.length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of cron, every or solar' });
  if (timings.length > 1) {
    ctx.addIssue({ code: 'custom', path: [timings[1]!], message: `give exactly one of cron, every or solar, not ${timings.join(' and ')}` });
  }
  const { startAt, endAt } = schedule;
  if (startAt !== undefined && endAt !== undefined && Date.parse(endAt) < Date.parse(startAt)) {
    ctx.addIssue({ code: 'custom', path: ['endAt'], message: `must not be before startAt (${startAt})` });
  }
}
