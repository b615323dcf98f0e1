/**
 * Generic Cell Rate Algorithm: an exact rate limiter with O(1) state.
 *
 * GCRA keeps one number, the "theoretical arrival time" (TAT): when the next request would be due
 * if requests went exactly at the steady rate. A request may go at `now` when it is no earlier
 * than `TAT - tolerance`, with `tolerance = (burst - 1) * interval` and `interval = 1000 / rate`.
 * Admitted requests then satisfy, for every closed window of length W ms,
 * `count <= burst + floor(W * rate / 1000)`: never more than `burst` beyond the steady rate.
 *
 * Why an anchor and a counter instead of a TAT that grows by `interval` on every request: adding a
 * fractional interval (1000/3 ms) to an epoch-sized number millions of times accumulates rounding,
 * and a TAT that lands a hair after a whole millisecond costs a caller that polls every
 * millisecond one extra millisecond per request. Here TAT is `anchor + count * 1000 / rate`,
 * computed with one correctly rounded division, so it is exact whenever the true value is a whole
 * number and never drifts, however long a backlog lasts. The anchor moves only when the limiter
 * has been idle (TAT already passed), which is where GCRA forgets history anyway.
 *
 * @example
 * const gcra = new Gcra(10, 5); // 10 per second, up to 5 at once after idle time
 * const wait = gcra.tryTake(clock.now());
 * if (wait > 0) setTimeout(retry, wait);
 */
export class Gcra {
  private rate = 1;
  private burst = 1;
  /** Time (ms) from which `count` requests have been accounted at the steady rate. */
  private anchor = Number.NEGATIVE_INFINITY;
  /** Requests accounted since `anchor` (fractional only right after `reconfigure`). */
  private count = 0;
  /** The latest `now` seen: the time base for `reconfigure` when the caller gives none. */
  private lastNow = Number.NEGATIVE_INFINITY;

  /**
   * @param ratePerSecond steady rate; may be fractional (0.5 = one every 2 s)
   * @param burst how many may go at once after idle time, >= 1; 1 = strictly spaced 1/rate apart
   */
  constructor(ratePerSecond: number, burst: number) {
    this.setLimits(ratePerSecond, burst);
  }

  /** Steady rate in requests per second. */
  get ratePerSecond(): number {
    return this.rate;
  }

  /** How many requests may go at once after idle time. */
  get burstSize(): number {
    return this.burst;
  }

  /**
   * If a request may go at `now`, record it and return 0; otherwise record nothing and return the
   * whole milliseconds to wait (> 0) before it may go.
   */
  tryTake(now: number): number {
    const wait = this.waitTime(now);
    if (wait > 0) return wait;
    if (now >= this.theoreticalArrival()) {
      // Idle long enough that all history is forgiven: restart the count from here.
      this.anchor = now;
      this.count = 0;
    }
    this.count += 1;
    return 0;
  }

  /**
   * Whole milliseconds until `tryTake` would succeed (0 = now), without recording anything. From
   * a whole-millisecond `now` this is the first whole millisecond at which a request conforms.
   */
  waitTime(now: number): number {
    this.noteTime(now);
    const earliest = this.earliestConforming();
    if (now >= earliest) return 0;
    return Math.ceil(earliest - now);
  }

  /**
   * Change rate and burst live. What carries over is how many requests the recent past owes the
   * steady rate ("the bucket is this full"), not a span of milliseconds: after 10 requests went in
   * a burst, a change from 1/s to 100/s lets the next go 10 ms after them, and a change from
   * 100/s to 1/s makes it wait a second. A smaller burst than what is owed counts as a full bucket,
   * so the new limits hold for every window that starts after the change.
   *
   * @param now the current time; defaults to the latest time passed to `tryTake`/`waitTime`
   */
  reconfigure(ratePerSecond: number, burst: number, now: number = this.lastNow): void {
    this.noteTime(now);
    const owedCells = Number.isFinite(now) ? Math.max(0, this.theoreticalArrival() - now) * this.rate / 1000 : 0;
    this.setLimits(ratePerSecond, burst);
    if (owedCells === 0) {
      this.anchor = Number.NEGATIVE_INFINITY;
      this.count = 0;
      return;
    }
    this.anchor = now;
    this.count = Math.min(owedCells, burst);
  }

  private setLimits(ratePerSecond: number, burst: number): void {
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new Error(`ratePerSecond must be a finite number greater than 0, got ${ratePerSecond}`);
    }
    if (!Number.isInteger(burst) || burst < 1) throw new Error(`burst must be an integer of at least 1, got ${burst}`);
    this.rate = ratePerSecond;
    this.burst = burst;
  }

  private noteTime(now: number): void {
    if (Number.isNaN(now)) throw new Error('now must be a number of milliseconds, got NaN');
    if (now > this.lastNow) this.lastNow = now;
  }

  /** TAT: when the next request would be due at exactly the steady rate. */
  private theoreticalArrival(): number {
    return this.anchor + (this.count * 1000) / this.rate;
  }

  /** TAT minus the burst tolerance, as one division so whole-millisecond values stay exact. */
  private earliestConforming(): number {
    return this.anchor + ((this.count - this.burst + 1) * 1000) / this.rate;
  }
}
