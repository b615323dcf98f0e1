import type { RunTimes } from './cron.js';
import { instantOfWall, wallTimeAt } from './timezone.js';

/**
 * Sunrise, sunset, solar noon and civil twilight (dawn, dusk) at a place, from the equations NOAA
 * publishes for its Solar Calculator (after Meeus, "Astronomical Algorithms"): the sun's declination
 * and the equation of time from the Julian century, then the hour angle at which the sun's centre
 * reaches a zenith angle of 90.833° (sunrise and sunset: 34′ of refraction plus the 16′ radius of the
 * disc) or 96° (civil twilight, 6° below the horizon). NOAA gives its results as "theoretically
 * accurate to within a minute for locations between +/- 72° latitude, and within 10 minutes outside
 * of those latitudes" (gml.noaa.gov/grad/solcalc/calcdetails.html). Each event here is computed with
 * the sun's position at the event itself (four refinements of a first estimate), as NOAA's
 * calculator refines its own.
 *
 * Hand-written on purpose (issue 17 asks for it): it is these few public equations, checked against
 * published tables in test/scheduler/solar.test.ts, and the scheduler needs the event of each local
 * date in an IANA zone, which it reads with timezone.ts like the cron schedules.
 */

export const SOLAR_EVENTS = ['sunrise', 'sunset', 'solarNoon', 'dawn', 'dusk'] as const;
export type SolarEvent = (typeof SOLAR_EVENTS)[number];

/** What a `solar` schedule runs at: an event at a place, shifted by an offset. */
export interface SolarSpec {
  event: SolarEvent;
  /** Degrees, north positive. */
  latitude: number;
  /** Degrees, east positive. */
  longitude: number;
  offsetMinutes: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Julian day of the Unix epoch, and of J2000.0 (2000-01-01 12:00 TT, as NOAA's equations take it). */
const JD_UNIX_EPOCH = 2_440_587.5;
const JD_J2000 = 2_451_545;
/** Zenith angle of the sun's centre at the event: the upper limb on the horizon, refraction included; or 6° below it. */
const ZENITH: Record<Exclude<SolarEvent, 'solarNoon'>, number> = { sunrise: 90.833, sunset: 90.833, dawn: 96, dusk: 96 };
const REFINEMENTS = 4;
/** The event of a local date lies within this of its local noon (±12 h of hour angle, plus zones far from their meridian). */
const SEARCH_BACK_DAYS = 3;

const rad = (degrees: number) => (degrees * Math.PI) / 180;
const deg = (radians: number) => (radians * 180) / Math.PI;

/** The sun's declination (degrees) and the equation of time (minutes) at an instant. */
function sunAt(instant: number): { declination: number; equationOfTime: number } {
  const t = (instant / DAY_MS + JD_UNIX_EPOCH - JD_J2000) / 36_525; // Julian centuries since J2000.0
  const meanLongitude = (((280.46646 + t * (36_000.76983 + t * 0.0003032)) % 360) + 360) % 360;
  const meanAnomaly = rad(357.52911 + t * (35_999.05029 - 0.0001537 * t));
  const eccentricity = 0.016708634 - t * (0.000042037 + 0.0000001267 * t);
  const centre =
    Math.sin(meanAnomaly) * (1.914602 - t * (0.004817 + 0.000014 * t)) +
    Math.sin(2 * meanAnomaly) * (0.019993 - 0.000101 * t) +
    Math.sin(3 * meanAnomaly) * 0.000289;
  const node = rad(125.04 - 1_934.136 * t);
  const apparentLongitude = rad(meanLongitude + centre - 0.00569 - 0.00478 * Math.sin(node));
  const meanObliquity = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60;
  const obliquity = rad(meanObliquity + 0.00256 * Math.cos(node));
  const declination = deg(Math.asin(Math.sin(obliquity) * Math.sin(apparentLongitude)));
  const y = Math.tan(obliquity / 2) ** 2;
  const l0 = rad(meanLongitude);
  const e = eccentricity;
  const equationOfTime =
    4 *
    deg(
      y * Math.sin(2 * l0) -
        2 * e * Math.sin(meanAnomaly) +
        4 * e * y * Math.sin(meanAnomaly) * Math.cos(2 * l0) -
        0.5 * y * y * Math.sin(4 * l0) -
        1.25 * e * e * Math.sin(2 * meanAnomaly),
    );
  return { declination, equationOfTime };
}

/** The hour angle (degrees) at which the sun's centre is at `zenith`; undefined when it never gets there that day (polar). */
function hourAngle(zenith: number, latitude: number, declination: number): number | undefined {
  const phi = rad(latitude);
  const delta = rad(declination);
  const cosine = Math.cos(rad(zenith)) / (Math.cos(phi) * Math.cos(delta)) - Math.tan(phi) * Math.tan(delta);
  return cosine >= -1 && cosine <= 1 ? deg(Math.acos(cosine)) : undefined;
}

/** Minutes after 00:00 UTC of a day at which the sun is `hourAngleDegrees` from the meridian (east positive longitude). */
function minutesOfHourAngle(longitude: number, hourAngleDegrees: number, equationOfTime: number): number {
  return 720 - 4 * longitude + 4 * hourAngleDegrees - equationOfTime;
}

/**
 * The instant of `event` on the solar day whose transit (solar noon) is nearest `near`: sunrise and
 * dawn before that transit, sunset and dusk after it. Undefined when the sun does not reach the
 * event's altitude that day (polar night, midnight sun, white nights for dawn and dusk).
 *
 * @example
 * // Sunrise in New York on the day of the change to daylight saving time, 2025-03-09:
 * solarEventNear('sunrise', 40.71, -74.01, Date.parse('2025-03-09T16:00:00Z')); // ≈ 11:16 UTC (07:16 EDT)
 */
export function solarEventNear(event: SolarEvent, latitude: number, longitude: number, near: number): number | undefined {
  const meanNoon = (720 - 4 * longitude) * MINUTE_MS;
  const day = Math.round((near - meanNoon) / DAY_MS) * DAY_MS;
  let transit = day + meanNoon;
  for (let i = 0; i < REFINEMENTS; i++) transit = day + minutesOfHourAngle(longitude, 0, sunAt(transit).equationOfTime) * MINUTE_MS;
  if (event === 'solarNoon') return transit;
  const side = event === 'sunrise' || event === 'dawn' ? -1 : 1;
  // Start from mid-morning (mid-afternoon); on the last days before a midnight sun or a white night
  // the sun still dips below the altitude around midnight only, with that hour's declination, so
  // then start from there.
  for (const hoursAway of [6, 12]) {
    const at = refineEvent(ZENITH[event], latitude, longitude, day, side, transit + side * hoursAway * 3_600_000);
    if (at !== undefined) return at;
  }
  return undefined;
}

/** The event found by computing it again with the sun's position at the previous estimate, from `start`. */
function refineEvent(zenith: number, latitude: number, longitude: number, day: number, side: number, start: number): number | undefined {
  let at = start;
  for (let i = 0; i < REFINEMENTS; i++) {
    const sun = sunAt(at);
    const angle = hourAngle(zenith, latitude, sun.declination);
    if (angle === undefined) return undefined;
    at = day + minutesOfHourAngle(longitude, side * angle, sun.equationOfTime) * MINUTE_MS;
  }
  return at;
}

/**
 * The event of one local date (a wall time of its 00:00, see timezone.ts) in `timeZone`: the one of
 * the solar day whose transit is nearest that date's 12:00. So each date has at most one, and they
 * follow each other about a day apart; a sunset just after midnight belongs to the date before
 * (Reykjavík in June), as in NOAA's and the almanacs' tables.
 */
export function solarEventOnDate(spec: Omit<SolarSpec, 'offsetMinutes'>, dateWall: number, timeZone: string): number | undefined {
  const localNoon = instantOfWall(dateWall + DAY_MS / 2, timeZone);
  return solarEventNear(spec.event, spec.latitude, spec.longitude, localNoon);
}

/**
 * Runs once a day at a solar event, plus `offsetMinutes`, for each local date in `timeZone`; a date
 * without the event is skipped. Runs fall on whole seconds. The search for the next run looks at most
 * `lookaheadMs` past its start (and never past `endAt`), so a place where the event is long absent
 * costs one computation per day of that span, no more.
 */
export class SolarRunTimes implements RunTimes {
  constructor(
    private readonly spec: SolarSpec,
    private readonly timeZone: string,
    private readonly lookaheadMs: number,
    private readonly endAt = Number.POSITIVE_INFINITY,
  ) {}

  next(afterMs: number): number | undefined {
    if (!Number.isFinite(afterMs)) throw new RangeError(`afterMs must be a finite number of ms, got ${afterMs}`);
    const limit = Math.min(afterMs + this.lookaheadMs, this.endAt);
    const offset = this.spec.offsetMinutes * MINUTE_MS;
    const dateOf = (instant: number) => Math.floor(wallTimeAt(instant - offset, this.timeZone) / DAY_MS) * DAY_MS;
    const lastDate = dateOf(limit) + SEARCH_BACK_DAYS * DAY_MS;
    for (let date = dateOf(afterMs) - SEARCH_BACK_DAYS * DAY_MS; date <= lastDate; date += DAY_MS) {
      const event = solarEventOnDate(this.spec, date, this.timeZone);
      if (event === undefined) continue;
      const run = Math.round((event + offset) / 1_000) * 1_000;
      if (run > limit) return undefined;
      if (run > afterMs) return run;
    }
    return undefined;
  }
}
