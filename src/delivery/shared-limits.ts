import type { Clock } from '../clock.js';
import type { Verdict } from './attempt.js';
import type { DomainState } from './domain-state.js';
import type { LimitBackend, Permit } from './limit-backend.js';
import { RedisLimits, type DomainView, type PermitAsk, type PermitGrant, type PermitHold, type PermitScopes } from './limiter/redis-limits.js';

/** A permit's lease in Redis: a node killed mid-delivery gives its places back within this long. */
export const PERMIT_LEASE_MS = 6_000;
/** Permits in use are renewed this often (a third of the lease: two renewals may fail in a row). */
const RENEW_EVERY_MS = PERMIT_LEASE_MS / 3;
/** The cluster's view of the domains this node knows is read this often, for stats. */
const VIEW_EVERY_MS = 1_000;
/** Most domains whose cluster view is read at once (the busiest are shown first anyway). */
const MAX_VIEWED = 200;
/** A domain stats asked about is read for this long after the last time they asked. */
const ASKED_FOR_MS = 60_000;

/**
 * A domain refused for concurrency asks again when a place is freed: its own deliveries' ends wake
 * it, and Redis publishes other nodes' (RedisLimits.onFreed). In case a publication is missed (a
 * reconnect), it also asks again after this long.
 */
const RETRY_FULL_MS = 100;
/** Redis did not answer: the domain asks again after this long. */
const RETRY_UNREACHABLE_MS = 1_000;

/**
 * Redis for a cluster's limits, its keys named after the cluster's PostgreSQL schema (two clusters
 * on two schemas may share one Redis). Warns when Redis may evict keys: an evicted slot is a limit
 * forgotten. @throws Error naming the URL (password hidden) when Redis cannot be reached.
 */
export async function openRedisLimits(url: string, prefix: string, warn: (what: string, error: unknown) => void): Promise<RedisLimits> {
  const redis = await RedisLimits.open({ url, prefix, onConnectionError: (error) => warn('Redis connection lost', error) });
  const policy = await redis.maxmemoryPolicy();
  if (policy !== undefined && policy !== 'noeviction') {
    warn('Redis may evict keys', new Error(`maxmemory-policy is ${policy}: set it to noeviction, or an evicted slot lets a limit be exceeded`));
  }
  return redis;
}

export interface SharedLimitsOptions {
  limits: RedisLimits;
  /** This node's id: the owner part of its permit ids. */
  node: string;
  clock: Clock;
  /** Redis became unreachable (false) or reachable again (true). */
  onAvailability?(available: boolean, error?: unknown): void;
  /** Permits in use that Redis no longer held at a renewal (flushed, or the lease ran out). */
  onLost?(count: number): void;
  /** The domains this node works on, whose cluster-wide state stats show (others are read once asked for). */
  watched?(): string[];
  /** A domain's configured concurrency (AIMD's state in Redis is read against it). */
  concurrencyOf?(domain: string): number;
}

/**
 * This node's side of the limits shared by a cluster through Redis (see RedisLimits): asks for
 * permits, keeps the ones in use renewed, hands them back in batches, and tells the dispatcher when
 * Redis cannot be reached (then nothing is granted: a limit is never exceeded, deliveries wait).
 * Redis time decides; `offsetMs` turns Redis times (a pause's end, the next rate cell) into this
 * node's clock.
 */
export class SharedLimits {
  /** Redis time minus this node's clock, from the last answer. */
  offsetMs = 0;
  available = true;
  private readonly inUse = new Map<string, { scopes: PermitScopes; ids: Set<string> }>();
  private releases = new Map<string, { scopes: PermitScopes; ids: string[] }>();
  private releaseScheduled = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private viewTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The cluster's state of watched domains as last read, and every node's deliveries in flight. */
  private views = new Map<string, DomainView>();
  /** Domains stats asked about that this node does not work on, with when they last asked. */
  private readonly asked = new Map<string, number>();
  clusterInFlight: number | undefined;

  constructor(private readonly options: SharedLimitsOptions) {
    this.renewTimer = setInterval(() => void this.renew(), RENEW_EVERY_MS);
    this.renewTimer.unref();
    this.viewTimer = setInterval(() => void this.refreshViews(), VIEW_EVERY_MS);
    this.viewTimer.unref();
  }

  /** The domains whose cluster state was last read: this node's, those asked about, the cluster's recent ones. */
  viewedDomains(): string[] {
    return [...this.views.keys()];
  }

  /**
   * The cluster's state of a domain as last read (undefined: not read yet, or Redis unreachable).
   * Asking about a domain this node does not work on has it read from the next refresh on.
   */
  view(domain: string): DomainView | undefined {
    if (this.asked.size < MAX_VIEWED || this.asked.has(domain)) this.asked.set(domain, this.options.clock.now());
    return this.views.get(domain);
  }

  /** Read the cluster's state of the watched and asked-about domains, and the cluster's deliveries in flight. */
  async refreshViews(): Promise<void> {
    if (this.stopped) return;
    const now = this.options.clock.now();
    for (const [domain, at] of this.asked) if (now - at > ASKED_FOR_MS) this.asked.delete(domain);
    try {
      const active = await this.options.limits.activeDomains(MAX_VIEWED);
      const keys = [...new Set([...(this.options.watched?.() ?? []), ...this.asked.keys(), ...active])].slice(0, MAX_VIEWED);
      const domains = keys.map((key) => ({ key, concurrency: this.options.concurrencyOf?.(key) ?? 1 }));
      const [views, inFlight] = await Promise.all([this.options.limits.view(domains), this.options.limits.slotsHeld('global')]);
      this.views = new Map(keys.map((key, i) => [key, views[i]!]));
      this.clusterInFlight = inFlight;
    } catch {
      this.views = new Map();
      this.clusterInFlight = undefined;
    }
  }

  get limits(): RedisLimits {
    return this.options.limits;
  }

  /** Up to `ask.n` permits; undefined when Redis cannot answer (treat as "nothing granted"). */
  async acquire(ask: PermitAsk): Promise<PermitGrant | undefined> {
    if (this.stopped) return undefined;
    const sent = this.options.clock.now();
    try {
      const grant = await this.options.limits.acquire(this.options.node, ask, PERMIT_LEASE_MS);
      this.offsetMs = grant.now - (sent + this.options.clock.now()) / 2;
      this.reachable(true);
      return grant;
    } catch (error) {
      this.reachable(false, error);
      return undefined;
    }
  }

  /** Hear of places freed at domains where tenants wait, from any node. */
  onFreed(listener: (domain: string) => void): void {
    this.options.limits.onFreed(listener).catch(() => {
      // Without the subscription, refused domains still ask again every RETRY_FULL_MS.
    });
  }

  /** This node's clock. */
  now(): number {
    return this.options.clock.now();
  }

  /** A Redis time as this node's clock. */
  local(redisTime: number): number {
    return redisTime - this.offsetMs;
  }

  /** The permit now carries a delivery: keep it renewed until `end`. */
  begin(permit: Permit): void {
    const key = scopesKey(permit.scopes);
    let group = this.inUse.get(key);
    if (!group) {
      group = { scopes: permit.scopes, ids: new Set() };
      this.inUse.set(key, group);
    }
    group.ids.add(permit.id);
  }

  /** The delivery ended: the permit goes back (with others of this turn, in one call per scope set). */
  end(permit: Permit): void {
    const key = scopesKey(permit.scopes);
    const group = this.inUse.get(key);
    group?.ids.delete(permit.id);
    if (group && group.ids.size === 0) this.inUse.delete(key);
    this.giveBack(permit.scopes, [permit.id]);
  }

  /** Permits granted and not used: back at once, so that another node may have them. */
  giveBack(scopes: PermitScopes, ids: readonly string[]): void {
    if (ids.length === 0) return;
    const key = scopesKey(scopes);
    const pending = this.releases.get(key);
    if (pending) pending.ids.push(...ids);
    else this.releases.set(key, { scopes, ids: [...ids] });
    if (this.releaseScheduled) return;
    this.releaseScheduled = true;
    setImmediate(() => void this.flushReleases());
  }

  /** Hand back everything still held (a clean stop); the renewals end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearInterval(this.viewTimer);
    for (const group of this.inUse.values()) this.giveBack(group.scopes, [...group.ids]);
    this.inUse.clear();
    await this.flushReleases();
  }

  /** Permits of this node in use now, all scopes together. */
  inUseCount(): number {
    let count = 0;
    for (const group of this.inUse.values()) count += group.ids.size;
    return count;
  }

  private async flushReleases(): Promise<void> {
    this.releaseScheduled = false;
    const batch = [...this.releases.values()];
    this.releases = new Map();
    // A release that fails is left to expire: its lease is short, and a limit is never exceeded by
    // a place held too long, only by one given twice.
    await Promise.all(batch.map(({ scopes, ids }) => this.options.limits.releasePermits(scopes, ids).catch(() => 0)));
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.inUse.size === 0) return;
    const groups = [...this.inUse.values()].filter((group) => group.ids.size > 0);
    try {
      const answers = await Promise.all(groups.map((group) => this.options.limits.renewPermits(group.scopes, this.options.node, [...group.ids], PERMIT_LEASE_MS)));
      this.reachable(true);
      let lost = 0;
      answers.forEach((answer, i) => {
        // Their places may be another's now: not renewed again, nor reported twice.
        for (const id of answer.lost) groups[i]!.ids.delete(id);
        lost += answer.lost.length;
      });
      if (lost > 0) this.options.onLost?.(lost);
    } catch (error) {
      this.reachable(false, error);
    }
  }

  private reachable(available: boolean, error?: unknown): void {
    if (this.available === available) return;
    this.available = available;
    this.options.onAvailability?.(available, error);
  }
}

function scopesKey(scopes: PermitScopes): string {
  return `${scopes.domain}\u0000${scopes.tenant ?? ''}\u0000${scopes.global ? 1 : 0}`;
}

/**
 * What the shared backend keeps of one domain: permits granted and not yet used, by tenant; tenants
 * whose ask is under way; tenants that may not ask before a time (the next rate cell, the end of a
 * pause), by this node's clock; and what the last answer said of the domain's shared state.
 */
interface PermitState {
  permits: Map<string, string[]>;
  asking: Set<string>;
  askAfter: Map<string, number>;
  shared: { effective: number; failures: number; probe: boolean } | undefined;
}

/** What the shared limit backend needs of the dispatcher. */
export interface LimitHost {
  stopped(): boolean;
  /** Serve the domain now (permits arrived). */
  drain(domain: DomainState, now: number): void;
  wakeAt(domain: DomainState, at: number): void;
  backpressure(domain: DomainState, reason: PermitHold, now: number, tenant?: string): void;
  tenantLimit(tenant: string): number | undefined;
  tenantHasRoom(tenant: string): boolean;
  globalConcurrency(): number;
  /** How many deliveries to ask for at once for this domain. */
  askSize(domain: DomainState): number;
  warn(message: string, fields: Record<string, unknown>): void;
}

/**
 * The dispatcher's limits when a cluster shares them through Redis: one permit per delivery. A
 * pass over a domain uses the permits granted to each tenant; a tenant with ready messages and none
 * left asks for as many as it could send, and the answer drains the domain again at once: a granted
 * rate cell is used in the turn it was granted, or given back with the rest.
 */
export class SharedLimitBackend implements LimitBackend {
  readonly localRate = false;
  /** Domains refused for concurrency, by key: a place freed there (on any node) wakes them. */
  private readonly waiting = new Map<string, DomainState>();
  /** What this backend keeps of each domain (only in shared mode: nothing is added to one node's domains). */
  private readonly states = new WeakMap<DomainState, PermitState>();

  constructor(
    private readonly shared: SharedLimits,
    private readonly host: LimitHost,
  ) {
    shared.onFreed((key) => {
      const domain = this.waiting.get(key);
      if (!domain || this.host.stopped()) return;
      this.waiting.delete(key);
      this.host.drain(domain, this.shared.now());
    });
  }

  has(domain: DomainState, tenant: string): boolean {
    return (this.states.get(domain)?.permits.get(tenant)?.length ?? 0) > 0;
  }

  take(domain: DomainState, tenant: string): Permit {
    const permit = { scopes: this.scopes(domain, tenant), id: this.stateOf(domain).permits.get(tenant)!.pop()! };
    this.shared.begin(permit);
    return permit;
  }

  replenish(domain: DomainState, now: number): void {
    const state = this.stateOf(domain);
    for (const [tenant, ready] of domain.readyByTenant(now)) {
      if (state.asking.has(tenant) || this.has(domain, tenant) || !this.host.tenantHasRoom(tenant)) continue;
      if ((state.askAfter.get(tenant) ?? 0) > now) continue; // its wake-up is set for that time
      this.ask(domain, tenant, Math.min(ready, this.host.askSize(domain)));
    }
  }

  end(domain: DomainState, permit: Permit | undefined, verdict: Verdict | undefined, now: number): void {
    if (permit) this.shared.end(permit);
    if (verdict) this.report(domain, verdict, now);
  }

  private stateOf(domain: DomainState): PermitState {
    let state = this.states.get(domain);
    if (!state) {
      state = { permits: new Map(), asking: new Set(), askAfter: new Map(), shared: undefined };
      this.states.set(domain, state);
    }
    return state;
  }

  private ask(domain: DomainState, tenant: string, n: number): void {
    this.stateOf(domain).asking.add(tenant);
    const { limit } = domain;
    const tenantLimit = this.host.tenantLimit(tenant);
    const ask: PermitAsk = {
      domain: domain.key,
      tenant,
      n,
      concurrency: limit.concurrency,
      ...(limit.ratePerSecond === undefined ? {} : { rate: { perSecond: limit.ratePerSecond, burst: limit.burst } }),
      ...(tenantLimit === undefined ? {} : { tenantConcurrency: tenantLimit }),
      globalConcurrency: this.host.globalConcurrency(),
    };
    void this.shared.acquire(ask).then((grant) => this.granted(domain, tenant, grant));
  }

  private granted(domain: DomainState, tenant: string, grant: PermitGrant | undefined): void {
    const state = this.stateOf(domain);
    state.asking.delete(tenant);
    const now = this.shared.now();
    const scopes = this.scopes(domain, tenant);
    if (this.host.stopped()) return grant && this.shared.giveBack(scopes, grant.ids);
    if (!grant) return this.host.wakeAt(domain, now + RETRY_UNREACHABLE_MS);
    state.shared = { effective: grant.effective, failures: grant.failures, probe: grant.probe };
    // Nothing more can be had before `at` (a rate's next cell, a pause's end): ask then, not sooner.
    const at = grant.retryAt === undefined ? undefined : Math.max(now, this.shared.local(grant.retryAt));
    if (at === undefined) state.askAfter.delete(tenant);
    else state.askAfter.set(tenant, at);
    if (grant.ids.length === 0) {
      if (at === undefined) this.waiting.set(domain.key, domain);
      this.host.wakeAt(domain, at ?? now + RETRY_FULL_MS);
      return this.host.backpressure(domain, grant.hold ?? 'concurrency', now, grant.hold === 'tenant' ? tenant : undefined);
    }
    if (at !== undefined) this.host.wakeAt(domain, at);
    this.waiting.delete(domain.key);
    state.permits.set(tenant, grant.ids);
    this.host.drain(domain, now);
    const unused = state.permits.get(tenant) ?? [];
    state.permits.delete(tenant);
    this.shared.giveBack(scopes, unused);
  }

  /** The scopes a permit for this domain and tenant holds a place in. */
  private scopes(domain: DomainState, tenant: string): PermitScopes {
    return { domain: domain.key, tenant: this.host.tenantLimit(tenant) === undefined ? undefined : tenant, global: true };
  }

  /**
   * What an outcome tells the other nodes: the shared pause, AIMD and circuit, on top of what this
   * node keeps for itself. A success costs a call only while the domain is recovering (AIMD under
   * its limit, failures counted, or this was the circuit's probe).
   */
  private report(domain: DomainState, verdict: Verdict, now: number): void {
    const limits = this.shared.limits;
    const key = domain.key;
    const failed = (error: unknown) => this.host.warn('updating shared limits failed', { domain: key, error: String(error) });
    const state = this.states.get(domain)?.shared;
    if (verdict.circuitFailure) {
      void limits.circuitFailure(key).then((failure) => {
        if (failure.state === 'open' && failure.openUntil !== undefined) this.host.wakeAt(domain, this.shared.local(failure.openUntil));
      }, failed);
    } else if (state && (state.failures > 0 || state.probe)) {
      state.failures = 0;
      state.probe = false;
      void limits.circuitSuccess(key).catch(failed);
    }
    if (verdict.kind === 'delivered') {
      if (state && state.effective < domain.limit.concurrency) {
        void limits.aimdSuccess(key, domain.limit.concurrency).then((effective) => (state.effective = effective), failed);
      }
      return;
    }
    if (verdict.kind === 'retry' && verdict.throttle) {
      void limits.aimdThrottle(key, domain.limit.concurrency).then((effective) => {
        if (state) state.effective = effective;
      }, failed);
      if (verdict.pauseUntil !== undefined && verdict.pauseUntil > now) void limits.pauseFor(key, verdict.pauseUntil - now).catch(failed);
    }
  }
}
