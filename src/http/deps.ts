import type { ClusterView } from '../observe/stats.js';
import type { Clock } from '../clock.js';
import type { SluiceConfig } from '../config/schema.js';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { TargetCheck } from '../delivery/targets.js';
import type { GroupCommitWriter } from '../ingest/group-commit-writer.js';
import type { EventBus } from '../observe/events.js';
import type { Logger } from '../observe/logger.js';
import type { Telemetry } from '../observe/telemetry.js';
import type { PullWaiters } from '../queues/pull-waiters.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { SourceCatalog } from '../routing/source-catalog.js';
import type { SourceRegistry } from '../routing/source-registry.js';
import type { DueTimer } from '../scheduler/due-timer.js';
import type { ScheduleRunner } from '../scheduler/schedule-runner.js';
import type { SecretVault } from '../secrets/vault.js';
import type { TemplateCatalog } from '../templates/template-catalog.js';
import type { WorkflowRunner } from '../workflows/runner.js';
import type { Store } from '../store/store.js';
import type { Authenticator } from './auth.js';
import type { IncompleteBodies } from './incomplete-bodies.js';

/**
 * What the HTTP layer is handed by the composition root (src/sluice.ts): the parts it reads and
 * drives, and nothing of how they were built — which store backend, which limiter. Routes name
 * this, never the node itself, so nothing under src/http/ imports the root.
 */
export interface ApiDeps extends TargetCheck {
  readonly config: SluiceConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: EventBus;
  readonly store: Store;
  readonly writer: GroupCommitWriter;
  readonly queues: QueueRegistry;
  /** Sources of sluice.yaml and of the API, with this node's per-route counts. */
  readonly sources: SourceRegistry;
  /** Sources made through the API: stored, and put in `sources` as they change. */
  readonly sourceCatalog: SourceCatalog;
  /** Each tenant's secrets, sealed; values are opened only to send, sign or verify. */
  readonly vault: SecretVault;
  /** Templates of sluice.yaml and of the API. */
  readonly templates: TemplateCatalog;
  /** Workflows and their runs. */
  readonly workflows: WorkflowRunner;
  readonly waiters: PullWaiters;
  readonly dueTimer: DueTimer;
  readonly telemetry: Telemetry;
  readonly auth: Authenticator;
  /** Absent only while the node starts. */
  readonly dispatcher: Dispatcher | undefined;
  /** On a cluster: the nodes as last read (undefined on one node). */
  clusterView(): ClusterView | undefined;
  readonly schedules: ScheduleRunner;
  /** Bodies still arriving: their shared byte budget and their deadlines. */
  readonly bodies: IncompleteBodies;
  /** Largest JSON body the API accepts. */
  readonly apiBodyLimit: number;
  /** Set once the node began to stop: new work is refused. */
  readonly stopping: boolean;
}
