/** `closed`: requests flow. `open`: none go until the cool-down ends. `half-open`: one probe decides. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures (connection errors, 5xx) that open the circuit. Default 20. */
  failureThreshold?: number;
  /** How long an open circuit refuses everything before a probe may go. Default 30 000 ms. */
  coolDownMs?: number;
}

/**
 * Circuit breaker of one domain. After `failureThreshold` consecutive failures the circuit opens:
 * nothing goes to the domain for `coolDownMs`, so a dead backend is not hammered by every queued
 * message in turn. Then it is half-open: exactly one probe may go. The probe's success closes the
 * circuit; its failure opens it for another cool-down.
 *
 * Any success closes the circuit, including a late one from a request that started before it
 * opened: the domain answered, which is the evidence a probe would have brought. A late failure
 * while open changes nothing (the cool-down is not extended by answers to requests sent earlier).
 *
 * @example
 * const circuit = new CircuitBreaker({ failureThreshold: 5, coolDownMs: 10_000 });
 * if (circuit.tryPass(now)) send().then(() => circuit.onSuccess(clock.now()), () => circuit.onFailure(clock.now()));
 */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly coolDownMs: number;
  private consecutiveFailures = 0;
  /** Set while open or half-open: the end of the cool-down. */
  private coolDownEnd: number | undefined;
  /** Half-open: the one probe has been let through and has not reported yet. */
  private probeInFlight = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 20;
    this.coolDownMs = options.coolDownMs ?? 30_000;
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) {
      throw new Error(`failureThreshold must be an integer of at least 1, got ${this.failureThreshold}`);
    }
    if (!Number.isFinite(this.coolDownMs) || this.coolDownMs < 0) {
      throw new Error(`coolDownMs must be a finite number of at least 0, got ${this.coolDownMs}`);
    }
  }

  /** The state at `now`: an open circuit turns half-open once its cool-down has passed. */
  state(now: number): CircuitState {
    if (this.coolDownEnd === undefined) return 'closed';
    return now < this.coolDownEnd ? 'open' : 'half-open';
  }

  /** May a request start now? Closed: yes. Open: no. Half-open: only the first, until it reports. */
  tryPass(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open' || this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** The domain answered well: close and forget past failures. */
  onSuccess(_now: number): void {
    this.consecutiveFailures = 0;
    this.coolDownEnd = undefined;
    this.probeInFlight = false;
  }

  /** A connection failure or 5xx: count it; at the threshold, or from a probe, open for a cool-down. */
  onFailure(now: number): void {
    const state = this.state(now);
    if (state === 'open') return;
    if (state === 'half-open') return this.open(now);
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures >= this.failureThreshold) this.open(now);
  }

  /** When the current cool-down ends (in the past once half-open); undefined while closed. */
  openUntil(): number | undefined {
    return this.coolDownEnd;
  }

  /** Consecutive failures counted while closed. */
  failures(): number {
    return this.consecutiveFailures;
  }

  private open(now: number): void {
    this.coolDownEnd = now + this.coolDownMs;
    this.probeInFlight = false;
  }
}
