import type { ClusterView } from './stats.js';
import type { Clock } from '../clock.js';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { SourceRegistry } from '../routing/source-registry.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { ActivityView, DomainActivity, QueueCounters, TelemetryTotals } from './activity.js';
import type { EventBus } from './events.js';
import type { SluiceEvents } from './events.js';
import { EventLog, type LogEventType } from './event-log.js';
import { SluiceMetrics } from './metrics.js';
import { RunActivity } from './run-events.js';
import { StatsStreamHub } from './stream.js';
import { emptyTotals, LatencyWindow, RateWindow } from './windows.js';

/** Activity of one tenant towards one domain: what /v1/stats merges per domain. */
export class PairActivity {
  readonly attempts = new RateWindow();
  readonly latency = new LatencyWindow();
  lastAt = 0;

  constructor(
    readonly domain: string,
    readonly tenant: string,
  ) {}
}

/** Forget a (domain, tenant) pair after this long without a delivery. */
const PAIR_IDLE_MS = 2 * 60_000;
const SWEEP_EVERY_MS = 30_000;

/** What telemetry is handed by the composition root; the dispatcher is read lazily (it comes later). */
export interface TelemetryDeps {
  readonly clock: Clock;
  readonly events: EventBus;
  readonly queues: QueueRegistry;
  readonly sources: SourceRegistry;
  readonly dispatcher: Dispatcher | undefined;
  /** On a cluster: the nodes as last read (undefined on one node). */
  clusterView(): ClusterView | undefined;
}

/**
 * Listens to the EventBus and keeps what monitoring needs: per (domain, tenant) rate and latency
 * windows, per-queue counters, backpressure counts, the recent event log, Prometheus metrics,
 * workflow runs (run-events.ts) and the live stats streams. Built before the dispatcher exists, so everything that reads the
 * dispatcher does so lazily. Each listener is a few Map lookups: it runs on the delivery path.
 */
export class Telemetry implements ActivityView {
  readonly totals: TelemetryTotals = { received: 0, delivered: 0, failed: 0, retried: 0, dead: 0 };
  readonly log = new EventLog();
  readonly metrics: SluiceMetrics;
  readonly streams: StatsStreamHub;
  private readonly pairs = new Map<string, PairActivity>();
  /** Domain → its pairs, so merging a domain does not scan every pair. */
  private readonly pairsByDomain = new Map<string, Map<string, PairActivity>>();
  private readonly queueCounters = new Map<string, QueueCounters>();
  private readonly backpressure = new Map<string, Record<string, number>>();
  private readonly runs: RunActivity;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly app: TelemetryDeps) {
    this.metrics = new SluiceMetrics(app, this);
    const telemetry = this;
    this.streams = new StatsStreamHub({
      clock: app.clock,
      queues: app.queues,
      get dispatcher() {
        return app.dispatcher;
      },
      clusterView: () => app.clusterView(),
      telemetry,
    });
    this.runs = new RunActivity({ clock: app.clock, metrics: this.metrics, streams: this.streams });
    this.subscribe();
    this.sweeper = setInterval(() => this.sweep(app.clock.now()), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  private subscribe(): void {
    const events = this.app.events;
    this.unsubscribe.push(
      events.on('received', (event) => this.onReceived(event)),
      events.on('delivered', (event) => this.onFinished(event, true, false)),
      events.on('failed', (event) => this.onFinished(event, false, event.willRetry)),
      events.on('dead', (event) => this.onDead(event)),
      events.on('backpressure', (event) => this.onBackpressure(event)),
      events.on('throttled', (event) => this.record('throttled', event, event.domain)),
      events.on('circuit-open', (event) => this.record('circuit-open', event, event.domain)),
      events.on('circuit-closed', (event) => this.record('circuit-closed', event, event.domain)),
      events.on('shared-limits', (event) => this.record('shared-limits', event, undefined)),
      events.on('run', (event) => this.runs.record(event)),
    );
  }

  private onReceived(event: SluiceEvents['received']): void {
    this.totals.received += event.count;
    this.queue(event.queue).received += event.count;
    this.metrics.recordIngest(event.latencyMs);
  }

  private onFinished(event: SluiceEvents['delivered'] | SluiceEvents['failed'], ok: boolean, willRetry: boolean): void {
    const now = this.app.clock.now();
    const pair = this.pair(event.domain, event.tenant);
    pair.attempts.add(now);
    pair.latency.record(now, event.latencyMs, ok);
    pair.lastAt = now;
    const counters = this.queue(event.queue, event.tenant);
    if (ok) {
      this.totals.delivered += 1;
      counters.delivered += 1;
    } else {
      this.totals.failed += 1;
      counters.failed += 1;
    }
    if (willRetry) {
      this.totals.retried += 1;
      counters.retried += 1;
    }
    this.metrics.recordDelivery(event.domain, ok ? 'delivered' : 'failed', event.latencyMs);
  }

  private onDead(event: SluiceEvents['dead']): void {
    this.totals.dead += 1;
    const counters = this.queue(event.queue);
    counters.dead += 1;
    this.record('dead', event, undefined, counters.tenant);
  }

  private onBackpressure(event: SluiceEvents['backpressure']): void {
    let counts = this.backpressure.get(event.domain);
    if (!counts) {
      counts = {};
      this.backpressure.set(event.domain, counts);
    }
    counts[event.reason] = (counts[event.reason] ?? 0) + 1;
    this.metrics.recordBackpressure(event.reason);
    this.record('backpressure', event, event.domain, event.tenant);
  }

  private record(type: LogEventType, data: object, domain: string | undefined, tenant?: string): void {
    const entry = this.log.add(this.app.clock.now(), type, data, domain, tenant);
    this.streams.publish(entry);
  }

  // ── reads for stats and metrics ─────────────────────────────

  /** Recent activity of a domain, over all tenants or one. */
  domainActivity(domain: string, now: number, tenant?: string): DomainActivity {
    const activity: DomainActivity = { attempts: 0, latency: emptyTotals() };
    for (const pair of this.pairsByDomain.get(domain)?.values() ?? []) {
      if (tenant !== undefined && pair.tenant !== tenant) continue;
      activity.attempts += pair.attempts.total(now);
      pair.latency.addTo(activity.latency, now);
    }
    return activity;
  }

  /** Domains with deliveries in the last couple of minutes (optionally: by this tenant). */
  activeDomains(tenant?: string): string[] {
    if (tenant === undefined) return [...this.pairsByDomain.keys()];
    const found: string[] = [];
    for (const pair of this.pairs.values()) if (pair.tenant === tenant) found.push(pair.domain);
    return found;
  }

  /** Backpressure events seen per reason for a domain, since start. */
  backpressureOf(domain: string): Record<string, number> {
    return this.backpressure.get(domain) ?? {};
  }

  queueCountersOf(name: string): QueueCounters | undefined {
    return this.queueCounters.get(name);
  }

  allQueueCounters(): IterableIterator<[string, QueueCounters]> {
    return this.queueCounters.entries();
  }

  /** Stop timers and close live streams. */
  stop(): void {
    clearInterval(this.sweeper);
    for (const off of this.unsubscribe.splice(0)) off();
    this.streams.close();
  }

  // ── bookkeeping ─────────────────────────────────────────────

  private pair(domain: string, tenant: string): PairActivity {
    const key = `${domain}\u0000${tenant}`;
    let pair = this.pairs.get(key);
    if (pair) return pair;
    pair = new PairActivity(domain, tenant);
    this.pairs.set(key, pair);
    let byTenant = this.pairsByDomain.get(domain);
    if (!byTenant) {
      byTenant = new Map();
      this.pairsByDomain.set(domain, byTenant);
    }
    byTenant.set(tenant, pair);
    return pair;
  }

  private queue(name: string, tenant?: string): QueueCounters {
    let counters = this.queueCounters.get(name);
    if (!counters) {
      counters = { tenant: tenant ?? this.app.queues.get(name)?.tenant, received: 0, delivered: 0, failed: 0, retried: 0, dead: 0 };
      this.queueCounters.set(name, counters);
    }
    return counters;
  }

  /** Forget pairs idle for minutes, and counters of deleted queues: memory stays bounded by recent traffic. */
  private sweep(now: number): void {
    for (const [key, pair] of this.pairs) {
      if (now - pair.lastAt < PAIR_IDLE_MS) continue;
      this.pairs.delete(key);
      const byTenant = this.pairsByDomain.get(pair.domain);
      byTenant?.delete(pair.tenant);
      if (byTenant?.size === 0) this.pairsByDomain.delete(pair.domain);
    }
    const known = new Set((this.app.dispatcher?.domainStates() ?? []).map((domain) => domain.key));
    for (const domain of this.backpressure.keys()) {
      if (!known.has(domain) && !this.pairsByDomain.has(domain)) this.backpressure.delete(domain);
    }
    for (const name of this.queueCounters.keys()) if (!this.app.queues.get(name)) this.queueCounters.delete(name);
  }
}
