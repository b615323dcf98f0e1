import { z } from 'zod';
import { apiSchema } from '../http/api-schemas.js';
import { messageStateSchema } from '../http/views.js';
import type { DomainStats, QueueStats, StatsSnapshot, TenantStats } from './stats.js';

/**
 * GET /v1/stats as the OpenAPI document describes it. The interfaces in stats.ts stay where the
 * code that fills them is; the type checks at the end of this file make any difference between
 * them and these schemas a compile error, so the document cannot drift from the answer.
 */

const counter = z.number().int().min(0);

const domainStatsSchema = z.object({
  domain: z.string(),
  status: z.enum(['ok', 'throttled', 'paused', 'circuit-open', 'half-open']).meta({
    description: 'throttled: adaptive concurrency below the limit; paused: waiting out a Retry-After',
  }),
  inFlight: counter,
  buffered: counter.meta({ description: 'Claimed from storage and waiting in memory for this domain' }),
  ready: counter.nullable().meta({ description: 'Stored push messages ready now (all tenants: null for a tenant key)' }),
  scheduled: counter.nullable().meta({ description: 'Stored push messages due later (all tenants: null for a tenant key)' }),
  limit: z.object({ concurrency: z.number().int(), ratePerSecond: z.number().nullable(), burst: z.number().int() }),
  effectiveConcurrency: z.number().int(),
  observedRatePerSecond: z.number().meta({ description: 'Attempts per second over the last 10 complete seconds' }),
  throttledSince: z.string().nullable(),
  pausedUntil: z.string().nullable(),
  circuit: z.string(),
  delivered: counter.meta({ description: 'In the last minute' }),
  failed: counter.meta({ description: 'In the last minute' }),
  latencyMs: z.object({ p50: z.number(), p95: z.number(), p99: z.number() }).nullable(),
  backpressure: z.record(z.string(), counter).optional().meta({ description: 'Backpressure events since start, by reason (admin key only)' }),
  cluster: z
    .object({
      inFlight: counter,
      effectiveConcurrency: z.number().int(),
      pausedUntil: z.string().nullable(),
      circuit: z.string(),
    })
    .optional()
    .meta({ description: 'With limits shared in Redis: the domain across every node (read each second); the fields above are this node\'s' }),
});

const queueStatsSchema = z.object({
  name: z.string(),
  tenant: z.string(),
  mode: z.string(),
  paused: z.boolean(),
  depth: z.record(messageStateSchema, counter).nullable(),
  oldestReadyAgeMs: z.number().nullable(),
  received: counter.meta({ description: 'Since this node started, as are the counters after it' }),
  delivered: counter,
  failed: counter,
  retried: counter,
  dead: counter,
});

const tenantStatsSchema = z.object({
  tenant: z.string(),
  inFlight: counter,
  concurrency: z.number().int().nullable(),
  queues: counter,
  ready: counter,
  dead: counter,
});

const clusterNodeSchema = z.object({
  id: z.string(),
  url: z.string(),
  version: z.string(),
  startedAt: z.number().meta({ description: 'Epoch ms (the database clock)' }),
  seenAt: z.number().meta({ description: 'Last heartbeat, epoch ms (the database clock)' }),
  alive: z.boolean(),
  leader: z.boolean().meta({ description: 'Runs the cluster\'s timed work: due messages, schedules, retention' }),
  perNodeLimits: z.boolean(),
  sharedLimits: z.boolean().meta({ description: 'Keeps its limits in Redis, shared with the other such nodes' }),
});

const clusterViewSchema = z.object({
  node: z.string().meta({ description: 'The id of the node that answered' }),
  leader: z.boolean(),
  nodes: z.array(clusterNodeSchema),
  inFlight: counter.optional().meta({ description: 'With limits shared in Redis: deliveries in flight on every node together' }),
});

export const statsSnapshotSchema = apiSchema(
  'Stats',
  z.object({
    at: z.string(),
    scope: z.enum(['admin', 'tenant']),
    totals: z.object({ received: counter, delivered: counter, failed: counter, retried: counter, dead: counter, inFlight: counter, ready: counter, buffered: counter }),
    domains: z.array(domainStatsSchema).meta({ description: 'The busiest first' }),
    domainsOmitted: counter.meta({ description: 'Domains left out beyond the first 200' }),
    queues: z.array(queueStatsSchema),
    tenants: z.array(tenantStatsSchema),
    recentEvents: z.array(z.record(z.string(), z.unknown())).optional().meta({ description: 'The last 50 events: seq, at, type and the fields of the event' }),
    cluster: clusterViewSchema.optional().meta({ description: 'On a cluster (PostgreSQL), for the admin: every node and whether it is alive' }),
  }),
);

/** Holds only when A and B are assignable to each other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;

/** Compile-time checks: each schema describes exactly its interface. */
export type StatsSchemasMatch = [
  Holds<Same<z.output<typeof domainStatsSchema>, DomainStats>>,
  Holds<Same<z.output<typeof queueStatsSchema>, QueueStats>>,
  Holds<Same<z.output<typeof tenantStatsSchema>, TenantStats>>,
  Holds<Same<z.output<typeof statsSnapshotSchema>, StatsSnapshot>>,
];
