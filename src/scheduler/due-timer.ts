import type { Clock } from '../clock.js';

/** Longest single sleep: wakes at least this often to re-read the store (clock jumps, other nodes). */
const MAX_SLEEP_MS = 30_000;

/**
 * The one timer. It sleeps until the earliest moment anything becomes due — a scheduled message,
 * a delayed retry, a lease that expires — runs `onDue`, asks `nextAt` for the next moment, and
 * sleeps again. Whoever creates an earlier due time calls `hint(at)`; there is never one timer per
 * message, and nothing polls in a loop.
 */
export class DueTimer {
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private running = false;
  private rerun = false;
  private hintedWhileRunning = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (now: number) => Promise<void>,
    private readonly nextAt: () => Promise<number | undefined>,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Start: run once now (what is already due goes at once), then follow the store. */
  start(): void {
    this.stopped = false;
    this.arm(this.clock.now());
  }

  /** Something becomes due at `at`: make sure we wake by then. */
  hint(at: number): void {
    if (this.stopped) return;
    if (this.running) {
      // Never a second run beside this one: note the time, and the run in progress arms for it.
      if (at <= this.clock.now()) this.rerun = true;
      else this.hintedWhileRunning = Math.min(this.hintedWhileRunning, at);
      return;
    }
    if (at < this.armedAt) this.arm(at);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private arm(at: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.min(Math.max(0, at - this.clock.now()), MAX_SLEEP_MS);
    this.armedAt = this.clock.now() + delay;
    this.timer = setTimeout(() => void this.fire(), delay);
  }

  private async fire(wokeEarly = false): Promise<void> {
    // Node times a timer from the event loop's cached clock, so it can fire a few ms before the
    // wall clock reaches the time it was armed for: sleep the rest once instead of running early.
    const early = this.armedAt - this.clock.now();
    if (early > 0 && !wokeEarly) {
      this.timer = setTimeout(() => void this.fire(true), early);
      return;
    }
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.running = true;
    this.hintedWhileRunning = Number.POSITIVE_INFINITY;
    let next: number | undefined;
    try {
      do {
        this.rerun = false;
        await this.onDue(this.clock.now());
      } while (this.rerun && !this.stopped);
      next = await this.nextAt();
    } catch (error) {
      this.onError(error);
      next = this.clock.now() + 1_000;
    } finally {
      this.running = false;
    }
    const at = Math.min(next ?? Number.POSITIVE_INFINITY, this.hintedWhileRunning);
    this.arm(Number.isFinite(at) ? at : this.clock.now() + MAX_SLEEP_MS);
  }
}
