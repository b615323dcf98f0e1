import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { CircuitBreaker } from '../../src/delivery/circuit-breaker.js';

function failTimes(circuit: CircuitBreaker, n: number, now: number): void {
  for (let i = 0; i < n; i += 1) circuit.onFailure(now);
}

describe('CircuitBreaker', () => {
  it('defaults to 20 failures and 30 s', () => {
    const circuit = new CircuitBreaker();
    expect(circuit.failureThreshold).toBe(20);
    expect(circuit.coolDownMs).toBe(30_000);
    failTimes(circuit, 19, 0);
    expect(circuit.state(0)).toBe('closed');
    circuit.onFailure(0);
    expect(circuit.state(0)).toBe('open');
    expect(circuit.openUntil()).toBe(30_000);
  });

  it('counts only consecutive failures: a success resets the count', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 1_000 });
    failTimes(circuit, 2, 0);
    circuit.onSuccess(0);
    failTimes(circuit, 2, 0);
    expect(circuit.failures()).toBe(2);
    expect(circuit.state(0)).toBe('closed');
    expect(circuit.tryPass(0)).toBe(true);
    circuit.onFailure(0);
    expect(circuit.state(0)).toBe('open');
  });

  it('refuses everything while open and turns half-open when the cool-down has passed', () => {
    const clock = new ManualClock(1_000);
    const circuit = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 5_000 });
    failTimes(circuit, 2, clock.now());
    expect(circuit.openUntil()).toBe(6_000);
    clock.set(5_999);
    expect(circuit.state(clock.now())).toBe('open');
    expect(circuit.tryPass(clock.now())).toBe(false);
    clock.set(6_000);
    expect(circuit.state(clock.now())).toBe('half-open');
  });

  it('admits exactly one probe in half-open until it reports', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 100 });
    circuit.onFailure(0);
    expect(circuit.tryPass(100)).toBe(true);
    expect(circuit.tryPass(100)).toBe(false);
    expect(circuit.tryPass(5_000)).toBe(false);
    expect(circuit.state(5_000)).toBe('half-open');
  });

  it('a successful probe closes the circuit and forgets the failures', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 100 });
    failTimes(circuit, 2, 0);
    expect(circuit.tryPass(100)).toBe(true);
    circuit.onSuccess(150);
    expect(circuit.state(150)).toBe('closed');
    expect(circuit.openUntil()).toBeUndefined();
    expect(circuit.tryPass(150)).toBe(true);
    expect(circuit.tryPass(150)).toBe(true);
    circuit.onFailure(160);
    expect(circuit.state(160)).toBe('closed');
  });

  it('a failed probe opens the circuit for another full cool-down, then one probe again', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 20, coolDownMs: 30_000 });
    failTimes(circuit, 20, 0);
    expect(circuit.tryPass(30_000)).toBe(true);
    circuit.onFailure(30_500);
    expect(circuit.state(30_500)).toBe('open');
    expect(circuit.openUntil()).toBe(60_500);
    expect(circuit.tryPass(60_499)).toBe(false);
    expect(circuit.tryPass(60_500)).toBe(true);
    expect(circuit.tryPass(60_500)).toBe(false);
  });

  it('late failures of requests sent before it opened do not extend the cool-down', () => {
    const circuit = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 1_000 });
    failTimes(circuit, 2, 0);
    failTimes(circuit, 5, 500);
    expect(circuit.openUntil()).toBe(1_000);
    expect(circuit.state(1_000)).toBe('half-open');
  });

  it('rejects options that make no sense', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow('failureThreshold must be an integer of at least 1, got 0');
    expect(() => new CircuitBreaker({ coolDownMs: -1 })).toThrow(/coolDownMs/);
    expect(() => new CircuitBreaker({ coolDownMs: Number.NaN })).toThrow(/coolDownMs/);
  });
});
