import { AdaptiveConcurrency } from './limiter/aimd.js';
import { Gcra } from './limiter/gcra.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { Lane } from './lane.js';
import type { ResolvedLimit } from './limits.js';

/** Why a domain cannot send right now. */
export type Hold =
  | { reason: 'retry-after' | 'rate' | 'circuit'; until: number }
  | { reason: 'concurrency' }
  | undefined;

/**
 * Everything the Traffic Guard knows about one destination: its limits (configured and adaptive),
 * its rate state, its circuit, what is in flight, and its lanes grouped by tenant for round-robin.
 */
export class DomainState {
  limit: ResolvedLimit;
  gcra: Gcra | undefined;
  readonly aimd: AdaptiveConcurrency;
  readonly circuit: CircuitBreaker;
  inFlight = 0;
  /** Retry-After: nothing goes to this domain before this time. */
  pausedUntil = 0;
  /** When the domain first answered 429/503 in the current throttled spell. */
  throttledSince: number | undefined;
  private readonly tenants = new Map<string, Lane[]>();
  private tenantOrder: string[] = [];
  private tenantCursor = 0;
  private readonly laneCursor = new Map<string, number>();

  /**
   * @param localRate false when the rate is shared by a cluster (Redis grants each cell): this
   *   node then keeps no GCRA of its own for the domain.
   */
  constructor(
    readonly key: string,
    limit: ResolvedLimit,
    circuit: { failureThreshold: number; coolDownMs: number },
    private readonly localRate = true,
  ) {
    this.limit = limit;
    this.gcra = limit.ratePerSecond === undefined || !localRate ? undefined : new Gcra(limit.ratePerSecond, limit.burst);
    this.aimd = new AdaptiveConcurrency(limit.concurrency);
    this.circuit = new CircuitBreaker(circuit);
  }

  /** Apply a changed limit live, keeping the rate history where possible. */
  reconfigure(limit: ResolvedLimit): void {
    this.limit = limit;
    this.aimd.setConfigured(limit.concurrency);
    if (limit.ratePerSecond === undefined || !this.localRate) this.gcra = undefined;
    else if (this.gcra) this.gcra.reconfigure(limit.ratePerSecond, limit.burst);
    else this.gcra = new Gcra(limit.ratePerSecond, limit.burst);
  }

  /** The first reason this domain may not start another request now, or undefined. */
  hold(now: number): Hold {
    if (this.pausedUntil > now) return { reason: 'retry-after', until: this.pausedUntil };
    const circuit = this.circuit.state(now);
    if (circuit === 'open') return { reason: 'circuit', until: this.circuit.openUntil() ?? now + 1_000 };
    if (this.inFlight >= this.aimd.effective) return { reason: 'concurrency' };
    const wait = this.gcra?.waitTime(now) ?? 0;
    if (wait > 0) return { reason: 'rate', until: now + wait };
    return undefined;
  }

  /**
   * Ready messages per tenant across its lanes (what this domain would send now with no limit),
   * for asking a cluster's limits for permits.
   */
  readyByTenant(now: number): Map<string, number> {
    const ready = new Map<string, number>();
    for (const [tenant, lanes] of this.tenants) {
      let count = 0;
      for (const lane of lanes) if (lane.hasReady(now)) count += lane.strict ? 1 : lane.buffer.length;
      if (count > 0) ready.set(tenant, count);
    }
    return ready;
  }

  addLane(lane: Lane): void {
    let lanes = this.tenants.get(lane.tenant);
    if (!lanes) {
      lanes = [];
      this.tenants.set(lane.tenant, lanes);
      this.tenantOrder.push(lane.tenant);
    }
    if (!lanes.includes(lane)) lanes.push(lane);
  }

  removeLane(lane: Lane): void {
    const lanes = this.tenants.get(lane.tenant);
    if (!lanes) return;
    const index = lanes.indexOf(lane);
    if (index >= 0) lanes.splice(index, 1);
    if (lanes.length > 0) return;
    this.tenants.delete(lane.tenant);
    this.laneCursor.delete(lane.tenant);
    this.tenantOrder = this.tenantOrder.filter((tenant) => tenant !== lane.tenant);
  }

  laneCount(): number {
    let count = 0;
    for (const lanes of this.tenants.values()) count += lanes.length;
    return count;
  }

  lanes(): Lane[] {
    return [...this.tenants.values()].flat();
  }

  /**
   * The next lane to serve, round-robin over tenants (skipping those at their own limit); within a
   * tenant, the lane whose next message is the most urgent, round-robin among lanes of equal
   * priority: two tenants on one domain get equal turns however many queues or messages each has,
   * and however urgent each marks them.
   */
  pickLane(now: number, tenantHasRoom: (tenant: string) => boolean): Lane | undefined {
    const count = this.tenantOrder.length;
    for (let step = 0; step < count; step += 1) {
      const index = (this.tenantCursor + step) % count;
      const tenant = this.tenantOrder[index]!;
      if (!tenantHasRoom(tenant)) continue;
      const lane = this.pickTenantLane(tenant, now);
      if (!lane) continue;
      this.tenantCursor = (index + 1) % count;
      return lane;
    }
    return undefined;
  }

  private pickTenantLane(tenant: string, now: number): Lane | undefined {
    const lanes = this.tenants.get(tenant)!;
    const start = this.laneCursor.get(tenant) ?? 0;
    let best: { lane: Lane; index: number; priority: number } | undefined;
    for (let step = 0; step < lanes.length; step += 1) {
      const index = (start + step) % lanes.length;
      const lane = lanes[index]!;
      if (!lane.hasReady(now)) continue;
      const priority = lane.headPriority();
      if (!best || priority > best.priority) best = { lane, index, priority };
    }
    if (!best) return undefined;
    // A lane whose more urgent messages are being claimed goes first: wait for it (its claim wakes the domain).
    for (const lane of lanes) if (lane.mayBringMoreUrgent(best.priority, now)) return undefined;
    this.laneCursor.set(tenant, (best.index + 1) % lanes.length);
    return best.lane;
  }
}
