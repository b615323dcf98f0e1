import type { ClusterNode } from '../store/cluster.js';
import type { DomainView } from '../delivery/limiter/redis-limits.js';
import type { DomainState } from '../delivery/domain-state.js';
import type { Principal } from '../http/auth.js';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { MessageState, QueueCounts } from '../store/types.js';
import type { ActivityView } from './activity.js';
import { logEntryView, type LogEntry } from './event-log.js';
import { percentilesOf, RATE_WINDOW_SECONDS, type Percentiles } from './windows.js';

/** What a stats snapshot reads. */
export interface StatsDeps {
  readonly queues: QueueRegistry;
  readonly dispatcher: Dispatcher | undefined;
  readonly telemetry: ActivityView;
  /** On a cluster: the nodes as last read from the heartbeat table (undefined on one node). */
  clusterView(): ClusterView | undefined;
  /** With limits shared in Redis: a domain across the cluster, as last read (undefined otherwise). */
  sharedDomainView?(domain: string): DomainView | undefined;
  /** With limits shared in Redis: the domains of the whole cluster whose state was read. */
  sharedDomains?(): string[];
}

/** The nodes sharing the database, as /v1/stats shows them to the admin. */
export interface ClusterView {
  /** This node's id. */
  node: string;
  /** This node runs the cluster's timed work. */
  leader: boolean;
  nodes: ClusterNode[];
  /** With limits shared in Redis: deliveries in flight on every node together. */
  inFlight?: number;
}

/** Most domains listed in one snapshot; the busiest come first, the rest are only counted. */
export const MAX_DOMAINS_IN_STATS = 200;

/** One destination as /v1/stats shows it. */
export interface DomainStats {
  domain: string;
  /** ok · throttled (AIMD below the limit) · paused (Retry-After) · circuit-open · half-open. */
  status: 'ok' | 'throttled' | 'paused' | 'circuit-open' | 'half-open';
  inFlight: number;
  /** Messages claimed from the store and waiting in memory for this domain. */
  buffered: number;
  /** Push messages stored for this domain, ready now / due later (all tenants: admin only). */
  ready: number | null;
  scheduled: number | null;
  limit: { concurrency: number; ratePerSecond: number | null; burst: number };
  effectiveConcurrency: number;
  /** Attempts per second over the last 10 complete seconds. */
  observedRatePerSecond: number;
  throttledSince: string | null;
  pausedUntil: string | null;
  circuit: string;
  /** Over the last minute. */
  delivered: number;
  failed: number;
  latencyMs: Percentiles | null;
  /** Backpressure events since start, by reason (admin only: they reflect every tenant). */
  backpressure?: Record<string, number>;
  /** With limits shared in Redis: the domain across every node; the fields above are this node's. */
  cluster?: { inFlight: number; effectiveConcurrency: number; pausedUntil: string | null; circuit: string };
}

/** One queue as /v1/stats shows it. */
export interface QueueStats {
  name: string;
  tenant: string;
  mode: string;
  paused: boolean;
  depth: Record<MessageState, number> | null;
  oldestReadyAgeMs: number | null;
  /** Since this node started. */
  received: number;
  delivered: number;
  failed: number;
  retried: number;
  dead: number;
}

export interface TenantStats {
  tenant: string;
  inFlight: number;
  concurrency: number | null;
  queues: number;
  ready: number;
  dead: number;
}

/** The whole answer of GET /v1/stats (and each `snapshot` of the stream). */
export interface StatsSnapshot {
  at: string;
  scope: 'admin' | 'tenant';
  totals: { received: number; delivered: number; failed: number; retried: number; dead: number; inFlight: number; ready: number; buffered: number };
  domains: DomainStats[];
  /** Domains left out beyond MAX_DOMAINS_IN_STATS. */
  domainsOmitted: number;
  queues: QueueStats[];
  tenants: TenantStats[];
  recentEvents?: Record<string, unknown>[];
  /** On a cluster, for the admin: every node and whether it is alive. */
  cluster?: ClusterView;
}

/**
 * Build a stats snapshot as `principal` may see it. The admin sees everything. A tenant sees its
 * own queues and tenant, and the domains its messages go to — with the domain's shared state
 * (limits, throttling, circuit) but only its own numbers (in flight, buffered, rate, latency).
 */
export function buildStats(app: StatsDeps, principal: Principal, counts: Map<string, QueueCounts>, now: number): StatsSnapshot {
  const tenant = principal.kind === 'tenant' ? principal.tenant : undefined;
  const queues = queueStats(app, counts, now, tenant);
  const tenants = tenantStats(app, queues, tenant);
  const { shown, omitted } = domainStats(app, now, tenant);
  const snapshot: StatsSnapshot = {
    at: new Date(now).toISOString(),
    scope: principal.kind,
    totals: totalsOf(app, queues, shown, tenants, tenant),
    domains: shown,
    domainsOmitted: omitted,
    queues,
    tenants,
  };
  const cluster = principal.kind === 'admin' ? app.clusterView() : undefined;
  if (cluster) snapshot.cluster = cluster;
  return snapshot;
}

/** May `principal` see this logged event? Tenants see their own events and those of domains they use. */
export function canSeeEntry(app: StatsDeps, principal: Principal, entry: LogEntry, domainsInUse?: Set<string>): boolean {
  if (principal.kind === 'admin') return true;
  if (entry.tenant !== undefined) return entry.tenant === principal.tenant;
  if (entry.domain === undefined) return false;
  return (domainsInUse ?? domainsOfTenant(app, principal.tenant)).has(entry.domain);
}

/** The last `limit` events `principal` may see, as JSON. */
export function recentEvents(app: StatsDeps, principal: Principal, limit: number): Record<string, unknown>[] {
  const inUse = principal.kind === 'tenant' ? domainsOfTenant(app, principal.tenant) : undefined;
  return app.telemetry.log.recent(limit, (entry) => canSeeEntry(app, principal, entry, inUse)).map(logEntryView);
}

/** Domains a tenant has lanes on now, or delivered to in the last minutes. */
export function domainsOfTenant(app: StatsDeps, tenant: string): Set<string> {
  const found = new Set(app.telemetry.activeDomains(tenant));
  for (const state of app.dispatcher?.domainStates() ?? []) {
    if (state.lanes().some((lane) => lane.tenant === tenant)) found.add(state.key);
  }
  return found;
}

// ── domains ───────────────────────────────────────────────────

function domainStats(app: StatsDeps, now: number, tenant: string | undefined): { shown: DomainStats[]; omitted: number } {
  const states = new Map((app.dispatcher?.domainStates() ?? []).map((state) => [state.key, state]));
  const keys = new Set(
    tenant === undefined
      ? [...states.keys(), ...app.telemetry.activeDomains(), ...app.queues.latestBacklog().keys(), ...(app.sharedDomains?.() ?? [])]
      : domainsOfTenant(app, tenant),
  );
  const all = [...keys].map((key) => oneDomain(app, key, states.get(key), now, tenant));
  all.sort((a, b) => b.inFlight + b.buffered - (a.inFlight + a.buffered) || b.observedRatePerSecond - a.observedRatePerSecond || a.domain.localeCompare(b.domain));
  return { shown: all.slice(0, MAX_DOMAINS_IN_STATS), omitted: Math.max(0, all.length - MAX_DOMAINS_IN_STATS) };
}

function oneDomain(app: StatsDeps, key: string, state: DomainState | undefined, now: number, tenant: string | undefined): DomainStats {
  const activity = app.telemetry.domainActivity(key, now, tenant);
  const limit = state?.limit ?? app.dispatcher?.limits.resolve(key) ?? { concurrency: 0, burst: 0 };
  const lanes = (state?.lanes() ?? []).filter((lane) => tenant === undefined || lane.tenant === tenant);
  const circuit = state ? String(state.circuit.state(now)) : 'closed';
  const pausedUntil = state && state.pausedUntil > now ? state.pausedUntil : undefined;
  const view: DomainStats = {
    domain: key,
    status: statusOf(circuit, pausedUntil, state),
    inFlight: tenant === undefined ? (state?.inFlight ?? 0) : lanes.reduce((sum, lane) => sum + lane.inFlight, 0),
    buffered: lanes.reduce((sum, lane) => sum + lane.claimed + (lane.held ? 1 : 0), 0),
    ready: tenant === undefined ? (app.queues.latestBacklog().get(key)?.ready ?? 0) : null,
    scheduled: tenant === undefined ? (app.queues.latestBacklog().get(key)?.scheduled ?? 0) : null,
    limit: { concurrency: limit.concurrency, ratePerSecond: limit.ratePerSecond ?? null, burst: limit.burst },
    effectiveConcurrency: state?.aimd.effective ?? limit.concurrency,
    observedRatePerSecond: Math.round((activity.attempts / RATE_WINDOW_SECONDS) * 100) / 100,
    throttledSince: state?.throttledSince === undefined ? null : new Date(state.throttledSince).toISOString(),
    pausedUntil: pausedUntil === undefined ? null : new Date(pausedUntil).toISOString(),
    circuit,
    delivered: activity.latency.ok,
    failed: activity.latency.failed,
    latencyMs: percentilesOf(activity.latency),
  };
  if (tenant === undefined) view.backpressure = app.telemetry.backpressureOf(key);
  const shared = tenant === undefined ? app.sharedDomainView?.(key) : undefined;
  if (shared) {
    view.cluster = {
      inFlight: shared.inFlight,
      effectiveConcurrency: shared.effective,
      pausedUntil: shared.pausedUntil > 0 ? new Date(shared.pausedUntil).toISOString() : null,
      circuit: shared.circuit,
    };
  }
  return view;
}

function statusOf(circuit: string, pausedUntil: number | undefined, state: DomainState | undefined): DomainStats['status'] {
  if (circuit === 'open') return 'circuit-open';
  if (circuit === 'half-open' || circuit === 'half_open') return 'half-open';
  if (pausedUntil !== undefined) return 'paused';
  if (state && (state.throttledSince !== undefined || state.aimd.effective < state.limit.concurrency)) return 'throttled';
  return 'ok';
}

// ── queues, tenants, totals ───────────────────────────────────

function queueStats(app: StatsDeps, counts: Map<string, QueueCounts>, now: number, tenant: string | undefined): QueueStats[] {
  const visible = app.queues.all().filter((queue) => tenant === undefined || queue.tenant === tenant);
  return visible
    .map((queue) => {
      const found = counts.get(queue.name);
      const counters = app.telemetry.queueCountersOf(queue.name);
      return {
        name: queue.name,
        tenant: queue.tenant,
        mode: queue.config.mode,
        paused: queue.config.paused === true,
        depth: found?.states ?? null,
        oldestReadyAgeMs: found?.oldestReadyAt === undefined ? null : Math.max(0, now - found.oldestReadyAt),
        received: counters?.received ?? 0,
        delivered: counters?.delivered ?? 0,
        failed: counters?.failed ?? 0,
        retried: counters?.retried ?? 0,
        dead: counters?.dead ?? 0,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function tenantStats(app: StatsDeps, queues: QueueStats[], tenant: string | undefined): TenantStats[] {
  const byName = new Map<string, TenantStats>();
  const entry = (name: string) => {
    let found = byName.get(name);
    if (!found) byName.set(name, (found = { tenant: name, inFlight: 0, concurrency: null, queues: 0, ready: 0, dead: 0 }));
    return found;
  };
  for (const state of app.dispatcher?.tenantStates() ?? []) {
    if (tenant !== undefined && state.tenant !== tenant) continue;
    Object.assign(entry(state.tenant), { inFlight: state.inFlight, concurrency: state.concurrency });
  }
  for (const queue of queues) {
    const found = entry(queue.tenant);
    found.queues += 1;
    found.ready += queue.depth?.ready ?? 0;
    found.dead += queue.depth?.dead ?? 0;
  }
  if (tenant !== undefined) entry(tenant);
  return [...byName.values()].sort((a, b) => a.tenant.localeCompare(b.tenant));
}

function totalsOf(app: StatsDeps, queues: QueueStats[], domains: DomainStats[], tenants: TenantStats[], tenant: string | undefined): StatsSnapshot['totals'] {
  const sum = (pick: (queue: QueueStats) => number) => queues.reduce((total, queue) => total + pick(queue), 0);
  const ready = sum((queue) => queue.depth?.ready ?? 0);
  const buffered = domains.reduce((total, domain) => total + domain.buffered, 0);
  if (tenant === undefined) {
    const { received, delivered, failed, retried, dead } = app.telemetry.totals;
    return { received, delivered, failed, retried, dead, inFlight: app.dispatcher?.globalInFlightCount ?? 0, ready, buffered };
  }
  return {
    received: sum((queue) => queue.received),
    delivered: sum((queue) => queue.delivered),
    failed: sum((queue) => queue.failed),
    retried: sum((queue) => queue.retried),
    dead: sum((queue) => queue.dead),
    inFlight: tenants.find((entry) => entry.tenant === tenant)?.inFlight ?? 0,
    ready,
    buffered,
  };
}
