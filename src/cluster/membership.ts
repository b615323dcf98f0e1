import type { Clock } from '../clock.js';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { Logger } from '../observe/logger.js';
import type { ClusterView } from '../observe/stats.js';
import type { PullWaiters } from '../queues/pull-waiters.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { ClusterLink, ClusterNode, ReceivedSignal } from '../store/cluster.js';
import type { LaneRef } from '../store/types.js';
import { CatalogSync, type CatalogSyncDeps } from './catalog-sync.js';

/**
 * How often a node looks again at what it might have missed (a notification lost across a
 * reconnect): its waiting consumers and ready lanes, and on the leader the next due time.
 */
const SAFETY_POLL_MS = 1_000;
/** How often the leader hands back the claims of nodes whose heartbeat stopped. */
const DEAD_CLAIMS_EVERY_MS = 5_000;
/** How often each node re-reads the whole catalog, whatever it was told. */
const CATALOG_RESYNC_MS = 30_000;

/** What membership works with: the node's waiters, queues, dispatcher and due timer. */
export interface MembershipDeps extends CatalogSyncDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly waiters: PullWaiters;
  readonly queues: QueueRegistry;
  readonly dispatcher: Dispatcher | undefined;
  readonly stopping: boolean;
  /** The leader's due timer must wake by `at`. */
  wakeBy(at: number): void;
  /** The next moment the due timer must wake (the leader's store and schedules). */
  nextDueAt(): Promise<number | undefined>;
}

/**
 * A node's part in a cluster, seen from the node: what the other nodes say wakes consumers, lanes,
 * the due timer or a catalog reload here; what happens here is told to them (relays); and a slow
 * safety poll looks again at what a lost notification could have hidden. The link to the database
 * (heartbeat, leadership, notifications) is the ClusterLink's.
 */
export class Membership {
  private readonly catalog: CatalogSync;
  private readonly poll: NodeJS.Timeout;
  private lastDeadClaimsAt = 0;
  private lastCatalogResyncAt = 0;
  /** The heartbeat table as last read, for stats and metrics. */
  private nodes: ClusterNode[] = [];

  constructor(
    readonly link: ClusterLink,
    private readonly node: MembershipDeps,
  ) {
    this.catalog = new CatalogSync(node);
    node.waiters.relay = (queue) => link.signal({ queues: [queue] });
    link.onSignal((signal) => this.onSignal(signal));
    link.onLeadership((leader) => {
      node.logger.info(leader ? 'this node leads the cluster' : 'this node no longer leads the cluster', { node: link.nodeId });
      if (leader) node.wakeBy(node.clock.now());
    });
    this.poll = setInterval(() => void this.pollForSafety(), SAFETY_POLL_MS);
    this.poll.unref();
  }

  get leader(): boolean {
    return this.link.leader;
  }

  view(): ClusterView {
    return { node: this.link.nodeId, leader: this.link.leader, nodes: this.nodes };
  }

  /** Lanes woken here that the other nodes should look at too. */
  relayLanes(lanes: LaneRef[]): void {
    this.link.signal({ lanes });
  }

  /** A message is due at `at`: the leader's timer must know (this node is not the leader). */
  relayDue(at: number): void {
    this.link.signal({ dueAt: at });
  }

  stop(): void {
    clearInterval(this.poll);
  }

  private onSignal(signal: ReceivedSignal): void {
    const node = this.node;
    if (node.stopping) return;
    if (signal.everything) {
      node.waiters.wakeAll();
      void node.dispatcher?.wakeQueues(this.queueNames(), false);
      void this.catalog.reloadAll();
    }
    for (const queue of signal.queues) node.waiters.notifyHere(queue);
    if (signal.lanes.length > 0) node.dispatcher?.wakeLanes(signal.lanes, false);
    if (signal.dueAt !== undefined && this.link.leader) node.wakeBy(signal.dueAt);
    if (signal.catalog.length > 0) void this.catalog.reload(signal.catalog);
  }

  /**
   * What a lost notification could have hidden, looked at again: waiting consumers try to lease,
   * ready lanes are looked up, the catalog is re-read now and then; the leader re-reads the next due
   * time and hands back dead nodes' claims.
   */
  private async pollForSafety(): Promise<void> {
    const node = this.node;
    if (node.stopping) return;
    const now = node.clock.now();
    node.waiters.wakeAll();
    await node.dispatcher?.wakeQueues(this.queueNames(), false);
    if (now - this.lastCatalogResyncAt >= CATALOG_RESYNC_MS) {
      this.lastCatalogResyncAt = now;
      void this.catalog.reloadAll();
    }
    try {
      this.nodes = await this.link.nodes();
      if (!this.link.leader) return;
      const next = await node.nextDueAt();
      if (next !== undefined) node.wakeBy(next);
      if (now - this.lastDeadClaimsAt < DEAD_CLAIMS_EVERY_MS) return;
      this.lastDeadClaimsAt = now;
      const lanes = await this.link.releaseDeadNodesClaims(now);
      if (lanes.length === 0) return;
      node.logger.warn('handed back the claims of nodes that stopped', { lanes: lanes.length });
      node.dispatcher?.wakeLanes(lanes);
    } catch (error) {
      node.logger.warn('cluster safety poll failed', { error: String(error) });
    }
  }

  private queueNames(): string[] {
    return this.node.queues.all().map((queue) => queue.name);
  }
}
