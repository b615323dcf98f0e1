import type { Clock } from '../clock.js';
import type { DomainView, PermitAsk, PermitGrant, PermitScopes, RedisLimits } from './limiter/redis-limits.js';

/** A permit's lease in Redis: a node killed mid-delivery gives its places back within this long. */
export const PERMIT_LEASE_MS = 6_000;
/** Permits in use are renewed this often (a third of the lease: two renewals may fail in a row). */
const RENEW_EVERY_MS = PERMIT_LEASE_MS / 3;
/** The cluster's view of the domains this node knows is read this often, for stats. */
const VIEW_EVERY_MS = 1_000;
/** Most domains whose cluster view is read at once (the busiest are shown first anyway). */
const MAX_VIEWED = 200;

/** One permit in use: the scopes it holds a place in, and its id. */
export interface Permit {
  scopes: PermitScopes;
  id: string;
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
  /** The domains whose cluster-wide state stats should show, with their configured concurrency. */
  watched?(): { key: string; concurrency: number }[];
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
  clusterInFlight: number | undefined;

  constructor(private readonly options: SharedLimitsOptions) {
    this.renewTimer = setInterval(() => void this.renew(), RENEW_EVERY_MS);
    this.renewTimer.unref();
    this.viewTimer = setInterval(() => void this.refreshViews(), VIEW_EVERY_MS);
    this.viewTimer.unref();
  }

  /** The cluster's state of a domain as last read (undefined: not read yet, or Redis unreachable). */
  view(domain: string): DomainView | undefined {
    return this.views.get(domain);
  }

  /** Read the cluster's state of the watched domains and the cluster's deliveries in flight. */
  async refreshViews(): Promise<void> {
    if (this.stopped) return;
    const watched = (this.options.watched?.() ?? []).slice(0, MAX_VIEWED);
    try {
      const [views, inFlight] = await Promise.all([this.options.limits.view(watched), this.options.limits.slotsHeld('global')]);
      this.views = new Map(watched.map((domain, i) => [domain.key, views[i]!]));
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
    const groups = [...this.inUse.values()];
    try {
      const answers = await Promise.all(groups.map((group) => this.options.limits.renewPermits(group.scopes, this.options.node, [...group.ids], PERMIT_LEASE_MS)));
      this.reachable(true);
      const lost = answers.reduce((sum, answer) => sum + answer.lost.length, 0);
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
