/** Options of {@link AdaptiveConcurrency}. */
export interface AdaptiveConcurrencyOptions {
  /**
   * Length of one window in ms (default 1000). Growth: +1 per window in which successes keep
   * coming. Decrease: at most one halving per window.
   */
  increaseEveryMs?: number;
}

/**
 * Adaptive concurrency of one domain (AIMD: additive increase, multiplicative decrease).
 *
 * A throttle signal (429, 503, a timeout) halves the effective limit, down to 1. Every request of
 * one wave tends to get the same answer, so a burst of throttles within one window halves once,
 * not once per response: ten 429s must not take a limit of 64 down to 1. After a window without
 * throttles, each success that arrives once a full window has passed since the last change adds
 * one, up to the configured limit. A domain that goes quiet does not grow while nobody is asking.
 *
 * @example
 * const aimd = new AdaptiveConcurrency(16);
 * aimd.onThrottle(now);   // effective 8
 * aimd.onSuccess(now + 1_000); // effective 9
 */
export class AdaptiveConcurrency {
  private configured: number;
  private current: number;
  private readonly windowMs: number;
  /** When the limit last went down; a throttle within one window of it is the same wave. */
  private lastDecreaseAt: number | undefined;
  /** Start of the current growth window: the last change or the last throttle signal. */
  private growthWindowStart: number | undefined;

  constructor(configured: number, options: AdaptiveConcurrencyOptions = {}) {
    this.configured = checkLimit(configured);
    this.current = this.configured;
    const windowMs = options.increaseEveryMs ?? 1000;
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new Error(`increaseEveryMs must be a finite number greater than 0, got ${windowMs}`);
    }
    this.windowMs = windowMs;
  }

  /** The limit to apply now: 1..configured. */
  get effective(): number {
    return this.current;
  }

  /** The configured limit, the ceiling of `effective`. */
  get configuredLimit(): number {
    return this.configured;
  }

  /** The domain pushed back (429/503/timeout): halve, at most once per window. */
  onThrottle(now: number): void {
    // Any throttle means the domain is not healthy yet: growth waits a full window from here.
    this.growthWindowStart = now;
    if (this.lastDecreaseAt !== undefined && now - this.lastDecreaseAt < this.windowMs) return;
    this.lastDecreaseAt = now;
    this.current = Math.max(1, Math.floor(this.current / 2));
  }

  /** A request succeeded: grow by one if a full window has passed since the last change. */
  onSuccess(now: number): void {
    if (this.current >= this.configured) {
      this.growthWindowStart = undefined;
      return;
    }
    if (this.growthWindowStart === undefined) {
      this.growthWindowStart = now;
      return;
    }
    if (now - this.growthWindowStart < this.windowMs) return;
    this.current += 1;
    this.growthWindowStart = now;
  }

  /**
   * Change the configured limit live. A lower limit clamps `effective` at once. A higher one is
   * taken at once by a domain running at its full limit; a throttled domain keeps growing back
   * one step per window, now towards the new ceiling.
   */
  setConfigured(n: number): void {
    const wasAtLimit = this.current >= this.configured;
    this.configured = checkLimit(n);
    if (wasAtLimit || this.current > this.configured) this.current = this.configured;
  }
}

function checkLimit(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`configured concurrency must be an integer of at least 1, got ${n}`);
  return n;
}
