import type { LaneRef } from './types.js';

/**
 * The parts of the catalog a node keeps in memory, each re-read when another node changes it.
 * `tenants` covers each tenant's concurrency limit and quotas; `limits` the domain limits; `sources`
 * the sources made through the API; `secrets` the vault's sealed secrets; `templates` the templates
 * made through the API.
 */
export type CatalogKind = 'queues' | 'sources' | 'tenants' | 'keys' | 'limits' | 'schedules' | 'secrets' | 'templates' | 'workflows';

/** Every kind, in the order a reload takes them: queues first, since sources and schedules send into them. */
export const CATALOG_KINDS: readonly CatalogKind[] = ['queues', 'sources', 'tenants', 'keys', 'limits', 'schedules', 'secrets', 'templates', 'workflows'];

/** Whether a string (a notification's payload, say) names a kind. */
export function isCatalogKind(value: string): value is CatalogKind {
  return (CATALOG_KINDS as readonly string[]).includes(value);
}

/**
 * What one node tells the others: messages became ready, something becomes due, the catalog
 * changed. Several signals raised in one turn of the event loop travel as one.
 */
export interface ClusterSignal {
  /** Pull queues that gained ready messages. */
  queues?: Iterable<string>;
  /** Push lanes that gained ready messages. */
  lanes?: Iterable<LaneRef>;
  /** A message is stored as due at this time (the leader's due timer must wake for it). */
  dueAt?: number;
  /** Parts of the catalog that changed. */
  catalog?: Iterable<CatalogKind>;
  /** Too much to list: look at every queue, lane and catalog part again. */
  everything?: boolean;
}

/** A signal as it arrives at the other nodes. */
export interface ReceivedSignal {
  from: string;
  queues: string[];
  lanes: LaneRef[];
  dueAt?: number;
  catalog: CatalogKind[];
  everything: boolean;
}

/** One node as the cluster's heartbeat table shows it. */
export interface ClusterNode {
  id: string;
  url: string;
  version: string;
  startedAt: number;
  seenAt: number;
  /** Its heartbeat is recent. */
  alive: boolean;
  /** It runs the cluster's timed work (due messages, schedules, retention, dead nodes' claims). */
  leader: boolean;
  perNodeLimits: boolean;
  /** The node keeps its limits in Redis, shared with the other such nodes. */
  sharedLimits: boolean;
}

/**
 * A node's membership of a cluster of nodes sharing one database. The composition root builds it
 * next to a shared store; with embedded SQLite there is none and the node is the whole cluster.
 */
export interface ClusterLink {
  readonly nodeId: string;
  /** This node currently runs the cluster's timed work; exactly one live node does. */
  readonly leader: boolean;
  /**
   * This node's heartbeat reached the database recently. While it does not, the node starts no
   * delivery: the others may soon hand its claims to someone else.
   */
  healthy(): boolean;
  /** The database's clock minus this machine's, in ms: "due" and deadlines follow one clock. */
  readonly clockOffsetMs: number;
  /** Tell the other nodes (soon, coalesced; lost notifications are covered by each node's safety poll). */
  signal(signal: ClusterSignal): void;
  onSignal(listener: (signal: ReceivedSignal) => void): void;
  /** Called with true when this node becomes the leader and false when it stops being it. */
  onLeadership(listener: (leader: boolean) => void): void;
  /** Every node the heartbeat table knows, alive or recently dead. */
  nodes(): Promise<ClusterNode[]>;
  /** Leader only: push claims held by nodes whose heartbeat stopped go back to ready; their lanes. */
  releaseDeadNodesClaims(now: number): Promise<LaneRef[]>;
  /** Where this node's API listens, once it does (shown to the other nodes from the next heartbeat). */
  setUrl(url: string): Promise<void>;
  /** Leave the cluster: the heartbeat row goes, leadership passes on. */
  leave(): Promise<void>;
}
