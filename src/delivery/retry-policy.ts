import { z } from 'zod';

/** How a push delivery is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included; the message is dead after the last one fails. */
  maxAttempts: number;
  /** Ceiling of the first backoff (full jitter draws below it). */
  initialMs: number;
  /** No backoff ceiling grows beyond this. */
  maxMs: number;
  /** Each attempt multiplies the ceiling by this. */
  multiplier: number;
  /** HTTP statuses that are retried; replaces the default list (408, 425, 429, 5xx) when given. */
  retryOn?: number[];
}

/** The defaults: 12 attempts, backoff from 1 s doubling up to 1 h. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 12,
  initialMs: 1_000,
  maxMs: 3_600_000,
  multiplier: 2,
});

const DAY_MS = 24 * 3_600_000;
/** Longer backoffs are more likely a typo than a plan; a week still covers a long weekend outage. */
const MAX_BACKOFF_MS = 7 * DAY_MS;

const backoffSchema = z
  .object({
    initialMs: z.number().int().min(1).max(MAX_BACKOFF_MS).optional(),
    maxMs: z.number().int().min(1).max(MAX_BACKOFF_MS).optional(),
    multiplier: z.number().min(1).max(100).optional(),
  })
  .strict();

/** The user-facing shape, before defaults. */
type RetryPolicyInput = {
  maxAttempts?: number | undefined;
  backoff?: z.infer<typeof backoffSchema> | undefined;
  retryOn?: number[] | undefined;
};

function withDefaults(input: RetryPolicyInput): RetryPolicy {
  const policy: RetryPolicy = {
    maxAttempts: input.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    initialMs: input.backoff?.initialMs ?? DEFAULT_RETRY_POLICY.initialMs,
    maxMs: input.backoff?.maxMs ?? DEFAULT_RETRY_POLICY.maxMs,
    multiplier: input.backoff?.multiplier ?? DEFAULT_RETRY_POLICY.multiplier,
  };
  if (input.retryOn !== undefined) policy.retryOn = [...new Set(input.retryOn)];
  return policy;
}

/**
 * A retry policy as users write it (queue config, `POST /v1/messages` `retry`), validated and
 * turned into a {@link RetryPolicy} with the defaults filled in. Unknown keys are rejected.
 *
 * @example
 * retryPolicySchema.parse({ maxAttempts: 5, backoff: { initialMs: 500 } });
 * // → { maxAttempts: 5, initialMs: 500, maxMs: 3600000, multiplier: 2 }
 */
export const retryPolicySchema = z
  .object({
    /** Attempts in all, the first included (1 = never retry). */
    maxAttempts: z.number().int().min(1).max(100).optional(),
    backoff: backoffSchema.optional(),
    /** Statuses to retry, replacing 408, 425, 429 and 5xx. Network errors and timeouts always retry. */
    retryOn: z.array(z.number().int().min(100).max(599)).max(500).optional(),
  })
  .strict()
  .refine((input) => withDefaults(input).maxMs >= withDefaults(input).initialMs, {
    message: `must be at least backoff.initialMs (maxMs defaults to ${DEFAULT_RETRY_POLICY.maxMs})`,
    path: ['backoff', 'maxMs'],
  })
  .transform(withDefaults);

/**
 * A retry policy as stored, in the shape retryPolicySchema reads. Configs (queues, templates,
 * workflow steps) are stored as parsed, and a parsed policy is flat ({ maxAttempts, initialMs, … })
 * where users write { backoff: { … } }: put it back the way the schema reads it, so a stored row
 * parses to exactly what was stored. Anything else in it is kept, so that the schema names it rather
 * than it vanishing.
 */
export function storedRetryInput(retry: unknown): unknown {
  if (typeof retry !== 'object' || retry === null || !('initialMs' in retry)) return retry;
  const { initialMs, maxMs, multiplier, ...rest } = retry as Record<string, unknown>;
  return { ...rest, backoff: { initialMs, maxMs, multiplier } };
}

/**
 * The delay before the next attempt, with full jitter: uniform over whole milliseconds in
 * `[0, min(maxMs, initialMs * multiplier^(attempt-1))]`. Jitter spreads the retries of messages
 * that failed together, so a recovering backend does not get them back as one wave.
 *
 * @param attempt the 1-based attempt that just failed
 * @param random a source in [0, 1); tests pass a fixed one
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`attempt must be an integer of at least 1, got ${attempt}`);
  const ceiling = Math.floor(backoffCeiling(policy, attempt));
  const draw = Math.min(Math.max(random(), 0), 1);
  return Math.min(ceiling, Math.floor(draw * (ceiling + 1)));
}

/** `min(maxMs, initialMs * multiplier^(attempt-1))`, safe from overflow for any attempt. */
function backoffCeiling(policy: RetryPolicy, attempt: number): number {
  const grown = policy.initialMs * policy.multiplier ** (attempt - 1);
  // A huge attempt makes `grown` Infinity, which min() turns into maxMs; NaN cannot arise because
  // initialMs >= 1 and multiplier >= 1 are finite.
  return Math.max(0, Math.min(policy.maxMs, grown));
}

/** What one attempt's answer means for the message. */
export type Outcome = 'success' | 'retry' | 'dead';

/** The statuses worth retrying when the policy names none: the server may answer better later. */
function isRetryableByDefault(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * 2xx → success. No status (network error, timeout), 408, 425, 429 or 5xx → retry. Any other
 * status (4xx, and 3xx since redirects are not followed) → dead at once: sending the same request
 * again would get the same answer. A policy's `retryOn` replaces the default retryable statuses.
 */
export function classifyOutcome(status: number | undefined, policy: RetryPolicy): Outcome {
  if (status === undefined) return 'retry';
  if (status >= 200 && status <= 299) return 'success';
  const retryable = policy.retryOn ? policy.retryOn.includes(status) : isRetryableByDefault(status);
  return retryable ? 'retry' : 'dead';
}

/** A server asking for more than a day is treated as asking for a day. */
const MAX_RETRY_AFTER_MS = DAY_MS;
const DELTA_SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * A `Retry-After` value as absolute epoch ms, or undefined when absent or unreadable. Takes
 * delta-seconds (`120`; a fraction such as `1.5`, which some rate limiters send, is honoured) or
 * an HTTP-date in any of the three forms RFC 9110 requires recipients to read. The result is at
 * least `now` (a past date means "now") and at most 24 h after it.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (DELTA_SECONDS.test(text)) return clampRetryAt(now + Math.ceil(Number(text) * 1000), now);
  const date = parseHttpDate(text, now);
  return date === undefined ? undefined : clampRetryAt(date, now);
}

function clampRetryAt(at: number, now: number): number {
  return Math.min(Math.max(at, now), now + MAX_RETRY_AFTER_MS);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = /^[A-Z][a-z]{2}, (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** Obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC_850 = /^[A-Z][a-z]+, (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** Obsolete asctime: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * The three HTTP-date forms, by hand: `Date.parse` also accepts "1", "tomorrow-ish" strings and
 * local times, which would turn garbage into a date.
 */
function parseHttpDate(text: string, now: number): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match) return utc(match[3], match[2], match[1], match[4], match[5], match[6]);
  match = RFC_850.exec(text);
  if (match) return utc(fullYearOf(match[3], now), match[2], match[1], match[4], match[5], match[6]);
  match = ASCTIME.exec(text);
  if (match) return utc(match[6], match[1], match[2], match[3], match[4], match[5]);
  return undefined;
}

/** RFC 9110: a two-digit year more than 50 years in the future means the past century. */
function fullYearOf(twoDigits: string | undefined, now: number): string {
  const year = 2000 + Number(twoDigits);
  return String(year > new Date(now).getUTCFullYear() + 50 ? year - 100 : year);
}

type Part = string | undefined;

/** Epoch ms of a calendar date and time in UTC, or undefined for one that does not exist (31 Feb). */
function utc(year: Part, monthName: Part, day: Part, hour: Part, minute: Part, second: Part): number | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  const fields = [year, day, hour, minute, second].map((part) => Number(part?.trim()));
  const [y, d, h, min, s] = fields as [number, number, number, number, number];
  if (month < 0 || h > 23 || min > 59 || s > 60) return undefined;
  const at = Date.UTC(y, month, d, h, min, Math.min(s, 59));
  const check = new Date(at);
  if (check.getUTCMonth() !== month || check.getUTCDate() !== d) return undefined;
  return at;
}
