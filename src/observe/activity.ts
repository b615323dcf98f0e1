import type { EventLog } from './event-log.js';
import type { LatencyTotals } from './windows.js';

/** Counters of one queue since this node started. */
export interface QueueCounters {
  tenant: string | undefined;
  received: number;
  delivered: number;
  failed: number;
  retried: number;
  dead: number;
}

/** Node-wide counters since start. */
export interface TelemetryTotals {
  received: number;
  delivered: number;
  failed: number;
  retried: number;
  dead: number;
}

/** A domain's merged recent activity. */
export interface DomainActivity {
  /** Attempts finished in the last complete RATE_WINDOW_SECONDS seconds. */
  attempts: number;
  latency: LatencyTotals;
}

/**
 * What stats and metrics read of the node's recent activity (Telemetry keeps it). A view of its own,
 * so that readers do not depend on the collector that feeds them.
 */
export interface ActivityView {
  readonly totals: TelemetryTotals;
  readonly log: EventLog;
  /** Recent activity of a domain, over all tenants or one. */
  domainActivity(domain: string, now: number, tenant?: string): DomainActivity;
  /** Domains with deliveries in the last couple of minutes (optionally: by this tenant). */
  activeDomains(tenant?: string): string[];
  /** Backpressure events seen per reason for a domain, since start. */
  backpressureOf(domain: string): Record<string, number>;
  queueCountersOf(name: string): QueueCounters | undefined;
  allQueueCounters(): IterableIterator<[string, QueueCounters]>;
}
