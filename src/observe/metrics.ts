import type { ClusterView } from './stats.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DomainState } from '../delivery/domain-state.js';
import type { Clock } from '../clock.js';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { SourceRegistry } from '../routing/source-registry.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { QueueCounts } from '../store/types.js';
import type { ActivityView } from './activity.js';

/** What the metrics read besides activity: live domain states and queue depths. */
export interface MetricsDeps {
  readonly clock: Clock;
  readonly queues: QueueRegistry;
  readonly sources: SourceRegistry;
  readonly dispatcher: Dispatcher | undefined;
  /** On a cluster: the nodes as last read from the heartbeat table (undefined on one node). */
  clusterView(): ClusterView | undefined;
}

/** Most distinct domain label values; later domains are counted under `other`. */
export const MAX_DOMAIN_LABELS = 50;
export const OTHER_DOMAIN = 'other';

const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const INGEST_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * Most distinct (tenant, workflow) pairs with series of their own; later ones are counted under
 * OTHER_WORKFLOW. Workflow names are per tenant, so the pair is the key.
 */
export const MAX_WORKFLOW_LABELS = 100;
/** Starts with `_`, which no validated tenant or workflow name does: it cannot be taken for one. */
export const OTHER_WORKFLOW = '_other';

/** How often the event-loop lag metrics take a sample. */
const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Label values for counters, first come first served. A counter must only grow, so a key keeps
 * its label once given one: the first `max` keys get their own series, later ones share `other`.
 * (Re-ranking by traffic would move counts between series and read as resets.) Gauges are ranked
 * afresh at each scrape instead, since they may go up and down.
 */
export class FirstComeLabels {
  private readonly assigned = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly other: string,
  ) {}

  /** `key` itself while it is one of the first `max`, else the shared `other`. */
  labelFor(key: string): string {
    if (this.assigned.has(key)) return key;
    if (this.assigned.size >= this.max) return this.other;
    this.assigned.add(key);
    return key;
  }
}

/** Domain label values: the first MAX_DOMAIN_LABELS domains that receive deliveries, then `other`. */
export class DomainLabels extends FirstComeLabels {
  constructor(max = MAX_DOMAIN_LABELS) {
    super(max, OTHER_DOMAIN);
  }
}

/** How a run ended, or that it started: the `outcome` label of sluice_workflow_runs_total. */
export type RunOutcome = 'started' | 'succeeded' | 'failed' | 'cancelled';

/**
 * Prometheus metrics on their own Registry (never the global one, so two nodes in one process,
 * as in tests, do not collide). Counters are plain numbers bumped on the delivery path and handed
 * to prom-client only when scraped; gauges are read from the dispatcher and queues at scrape time.
 */
export class SluiceMetrics {
  readonly registry = new Registry();
  private readonly labels = new DomainLabels();
  /** `${domainLabel}\0${outcome}` → count. */
  private readonly deliveries = new Map<string, number>();
  private readonly backpressure = new Map<string, number>();
  private readonly workflowLabels = new FirstComeLabels(MAX_WORKFLOW_LABELS, `${OTHER_WORKFLOW}\u0000${OTHER_WORKFLOW}`);
  /** `${tenant}\0${workflow}\0${outcome}` → runs. */
  private readonly runs = new Map<string, number>();
  /** `${tenant}\0${workflow}\0${state}` → steps. */
  private readonly steps = new Map<string, number>();
  private readonly deliveryLatency: Record<'delivered' | 'failed', { observe(seconds: number): void }>;
  private readonly ingestLatency: Histogram;

  constructor(
    private readonly app: MetricsDeps,
    private readonly telemetry: Pick<ActivityView, 'allQueueCounters'>,
  ) {
    const registers = [this.registry];
    // Event-loop lag is sampled every 100 ms, not prom-client's default 10 ms: a timer every 10 ms
    // woke an idle node 100 times a second (30 ms of CPU a second against 11 ms now, and 0.2 ms of
    // every paced delivery at 100/s). A stall still shows: it delays the next sample.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    const latency = new Histogram({
      name: 'sluice_delivery_latency_seconds',
      help: 'Time from sending a push delivery to its complete response, by outcome',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.deliveryLatency = { delivered: latency.labels('delivered'), failed: latency.labels('failed') };
    this.ingestLatency = new Histogram({
      name: 'sluice_ingest_latency_seconds',
      help: 'Time from receiving a webhook on /in/{source} to its durable acknowledgement',
      buckets: INGEST_BUCKETS_S,
      registers,
    });
    this.defineCounters(registers);
    this.defineGauges(registers);
  }

  /** One finished push attempt. */
  recordDelivery(domain: string, outcome: 'delivered' | 'failed', latencyMs: number): void {
    const key = `${this.labels.labelFor(domain)}\u0000${outcome}`;
    this.deliveries.set(key, (this.deliveries.get(key) ?? 0) + 1);
    this.deliveryLatency[outcome].observe(latencyMs / 1000);
  }

  recordIngest(latencyMs: number | undefined): void {
    if (latencyMs !== undefined) this.ingestLatency.observe(latencyMs / 1000);
  }

  recordBackpressure(reason: string): void {
    this.backpressure.set(reason, (this.backpressure.get(reason) ?? 0) + 1);
  }

  /** A workflow run started, or ended with this outcome. */
  recordRun(tenant: string, workflow: string, outcome: RunOutcome): void {
    bump(this.runs, `${this.workflowLabels.labelFor(`${tenant}\u0000${workflow}`)}\u0000${outcome}`);
  }

  /** A step of a workflow run reached `state` (pending: its request was queued). */
  recordStep(tenant: string, workflow: string, state: string): void {
    bump(this.steps, `${this.workflowLabels.labelFor(`${tenant}\u0000${workflow}`)}\u0000${state}`);
  }

  /**
   * The Prometheus text exposition. prom-client writes a missing value as `Nan` (the event-loop lag
   * gauges before their first sample, up to EVENT_LOOP_SAMPLE_MS after start); the format's
   * spelling is `NaN`.
   */
  async render(): Promise<string> {
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Requests of sources with routes, per route taken, to the fallback, and routed nowhere (this node, since start). */
  private defineRouteCounters(registers: Registry[]): void {
    const sources = this.app.sources;
    new Counter({
      name: 'sluice_routed_total',
      help: 'Requests a route of a source took (route: its name, else its index; "fallback": the fallback queue)',
      labelNames: ['source', 'route'],
      registers,
      collect() {
        this.reset();
        for (const source of sources.list()) {
          if (!source.config.routes) continue;
          const counts = sources.countsOf(source.name);
          for (const [route, n] of Object.entries(counts.routes)) this.inc({ source: source.name, route }, n);
          this.inc({ source: source.name, route: 'fallback' }, counts.fallback);
        }
      },
    });
    new Counter({
      name: 'sluice_unrouted_total',
      help: 'Requests of a source that matched no route and had no fallback: answered, not stored',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const source of sources.list()) if (source.config.routes) this.inc({ source: source.name }, sources.countsOf(source.name).unrouted);
      },
    });
  }

  private defineCounters(registers: Registry[]): void {
    const telemetry = this.telemetry;
    const perQueue = (name: string, help: string, pick: (counters: { received: number; retried: number; dead: number }) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['queue'],
        registers,
        collect() {
          this.reset();
          for (const [queue, counters] of telemetry.allQueueCounters()) this.inc({ queue }, pick(counters));
        },
      });
    perQueue('sluice_messages_received_total', 'Messages durably stored, by queue', (c) => c.received);
    this.defineRouteCounters(registers);
    perQueue('sluice_messages_dead_total', 'Messages moved to the dead-letter queue, by queue', (c) => c.dead);
    perQueue('sluice_delivery_retries_total', 'Failed push attempts that will be retried, by queue', (c) => c.retried);
    const deliveries = this.deliveries;
    new Counter({
      name: 'sluice_deliveries_total',
      help: `Finished push attempts by domain (first ${MAX_DOMAIN_LABELS} domains, then "${OTHER_DOMAIN}") and outcome`,
      labelNames: ['domain', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [key, count] of deliveries) {
          const [domain, outcome] = key.split('\u0000');
          this.inc({ domain: domain!, outcome: outcome! }, count);
        }
      },
    });
    this.defineWorkflowCounters(registers);
    const backpressure = this.backpressure;
    new Counter({
      name: 'sluice_backpressure_events_total',
      help: 'Times a limit held back a domain with waiting work (at most one per domain and reason per second), by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of backpressure) this.inc({ reason }, count);
      },
    });
  }

  /** Workflow runs by outcome and their steps by state, per tenant and workflow (this node, since start). */
  private defineWorkflowCounters(registers: Registry[]): void {
    const counter = (name: string, help: string, last: 'outcome' | 'state', counts: Map<string, number>) =>
      new Counter({
        name,
        help,
        labelNames: ['tenant', 'workflow', last],
        registers,
        collect() {
          this.reset();
          for (const [key, count] of counts) {
            const [tenant, workflow, value] = key.split('\u0000');
            this.inc({ tenant: tenant!, workflow: workflow!, [last]: value! }, count);
          }
        },
      });
    const bound = `first ${MAX_WORKFLOW_LABELS} tenant and workflow pairs, then "${OTHER_WORKFLOW}"`;
    counter('sluice_workflow_runs_total', `Workflow runs started, and ended by outcome: succeeded, failed, cancelled (${bound})`, 'outcome', this.runs);
    counter('sluice_workflow_steps_total', `Steps of workflow runs by state: pending (its request queued), succeeded, failed, skipped (${bound})`, 'state', this.steps);
  }

  private defineGauges(registers: Registry[]): void {
    const app = this.app;
    new Gauge({
      name: 'sluice_in_flight',
      help: 'Push deliveries in flight on this node',
      registers,
      collect() {
        this.set(app.dispatcher?.globalInFlightCount ?? 0);
      },
    });
    const perDomain = (name: string, help: string, pick: (state: DomainState) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['domain'],
        registers,
        collect() {
          this.reset();
          for (const [domain, value] of busiestDomains(app, pick)) this.set({ domain }, value);
        },
      });
    new Gauge({
      name: 'sluice_cluster_nodes',
      help: 'Nodes sharing the database, alive or dead (recently seen); absent on one node on SQLite',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const view = app.clusterView();
        if (!view) return;
        const alive = view.nodes.filter((node) => node.alive).length;
        this.set({ state: 'alive' }, alive);
        this.set({ state: 'dead' }, view.nodes.length - alive);
      },
    });
    new Gauge({
      name: 'sluice_cluster_leader',
      help: 'Whether this node runs the cluster\'s timed work (1) or not (0); 1 on one node on SQLite',
      registers,
      collect() {
        this.set(app.clusterView()?.leader === false ? 0 : 1);
      },
    });
    perDomain('sluice_domain_in_flight', `Deliveries in flight per domain (busiest ${MAX_DOMAIN_LABELS}, the rest summed as "${OTHER_DOMAIN}")`, (s) => s.inFlight);
    perDomain('sluice_domain_effective_concurrency', 'Adaptive (AIMD) concurrency limit per domain', (s) => s.aimd.effective);
    perDomain('sluice_domain_concurrency_limit', 'Configured concurrency limit per domain', (s) => s.limit.concurrency);
    perDomain('sluice_domain_circuit_open', 'Whether the circuit of a domain is open or half-open (1) or closed (0)', (s) =>
      s.circuit.state(app.clock.now()) === 'closed' ? 0 : 1,
    );
    // Scrapes are rare (every 15 s or so): one count query buys exact figures. prom-client collects
    // every metric of a scrape at once, so both queue gauges share the query in progress; each fills
    // itself in its own collect (filling one from the other's raced the serialisation of the first).
    let counting: Promise<Map<string, QueueCounts>> | undefined;
    const scrapeCounts = () => (counting ??= app.queues.refreshCounts().finally(() => (counting = undefined)));
    new Gauge({
      name: 'sluice_queue_depth',
      help: 'Messages per queue and state',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        const counts = await scrapeCounts();
        this.reset();
        for (const [queue, found] of counts) {
          for (const [state, count] of Object.entries(found.states)) this.set({ queue, state }, count);
        }
      },
    });
    new Gauge({
      name: 'sluice_queue_oldest_ready_age_seconds',
      help: 'Age of the oldest ready message per queue (0 when none is waiting): how far consumers or deliveries lag',
      labelNames: ['queue'],
      registers,
      async collect() {
        const counts = await scrapeCounts();
        const now = app.clock.now();
        this.reset();
        for (const [queue, found] of counts) {
          this.set({ queue }, found.oldestReadyAt === undefined ? 0 : Math.max(0, now - found.oldestReadyAt) / 1000);
        }
      },
    });
  }
}

/**
 * A per-domain gauge: the MAX_DOMAIN_LABELS domains with the most in flight (then by name), and the
 * sum of the rest under `other`. Keeps the number of series bounded with 100,000 domains.
 */
function busiestDomains(app: MetricsDeps, pick: (state: DomainState) => number): [string, number][] {
  const ranked = [...(app.dispatcher?.domainStates() ?? [])].sort((a, b) => b.inFlight - a.inFlight || a.key.localeCompare(b.key));
  const shown: [string, number][] = ranked.slice(0, MAX_DOMAIN_LABELS).map((state) => [state.key, pick(state)]);
  if (ranked.length > MAX_DOMAIN_LABELS) shown.push([OTHER_DOMAIN, ranked.slice(MAX_DOMAIN_LABELS).reduce((sum, state) => sum + pick(state), 0)]);
  return shown;
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
