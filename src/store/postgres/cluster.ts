import pg from 'pg';
import { isCatalogKind, type CatalogKind, type ClusterLink, type ClusterNode, type ClusterSignal, type ReceivedSignal } from '../cluster.js';
import { laneKey, type LaneRef } from '../types.js';
import { connectionConfig, NODE_ID_LENGTH, redactUrl } from './pool.js';
import type { PostgresStore } from './postgres-store.js';

/** How often a node writes its heartbeat (and measures the database's clock). */
export const HEARTBEAT_MS = 2_000;
/** A node whose heartbeat is older than this is dead: the leader hands its claims back. */
export const DEAD_AFTER_MS = 15_000;
/**
 * A node whose own last heartbeat is older than this starts no delivery (ClusterLink.healthy): well
 * before the others may take its claims, so that a node cut off from the database cannot send a
 * message that another node is about to send too.
 */
const HEALTHY_FOR_MS = 6_000;
/** Every so many heartbeats a node renews the deadline of the claims it holds (at most every 30 s). */
const RENEW_EVERY = 15;
/** A claim's deadline after a renewal: the dispatcher's claim margin. */
const CLAIM_MS = 10 * 60_000;
/** Rows of nodes dead this long are removed by the leader. */
const FORGET_AFTER_MS = 3_600_000;
/** PostgreSQL's limit on a notification's payload is 8,000 bytes. */
const MAX_PAYLOAD = 7_900;
const RECONNECT_MS = 1_000;
/**
 * Signals raised within this long go out as one notification. Each notification is a transaction
 * that queues behind every other NOTIFY of the server at commit, so ingest at thousands per second
 * must not send one per commit; a peer's long-poll wakes this much later, and no later.
 */
const SIGNAL_GATHER_MS = 2;

const DB_NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** Thrown when the cluster cannot take this node (the CLI prints it and exits 1). */
export class ClusterRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterRefused';
  }
}

export interface JoinOptions {
  /** Where this node's API listens (shown to the other nodes). */
  url: string;
  version: string;
  /** This node accepts enforcing limits on its own beside other nodes (limits.perNode). */
  perNodeLimits: boolean;
  /** This node's limits are the cluster's, kept in Redis (limits.redis). */
  sharedLimits?: boolean;
  /** Something went wrong in the background (a lost connection, a failed heartbeat). */
  onProblem?: (what: string, error: unknown) => void;
}

interface NodeRow {
  id: string;
  url: string;
  version: string;
  started_at: number;
  seen_at: number;
  per_node_limits: boolean;
  shared_limits: boolean;
  leader: boolean;
}

/**
 * A node's membership of the cluster on one PostgreSQL schema:
 * - a heartbeat row in `nodes`, written every HEARTBEAT_MS with the database's clock, whose round
 *   trip also measures how far this machine's clock is from the database's;
 * - one dedicated connection that LISTENs for the other nodes' signals and holds the leader's
 *   advisory lock when this node has it (the lock goes with the session, so a node that dies or loses
 *   the connection passes leadership on at once);
 * - signals sent with pg_notify, gathered for a few milliseconds; while no other node is alive, the
 *   news of new messages is not sent at all (a node that joins says so at once, and every node
 *   looks at its queues once a second anyway).
 * The leader runs the cluster's timed work once for all: due messages, schedules, retention, and
 * handing back the claims of nodes whose heartbeat stopped.
 */
export class PostgresCluster implements ClusterLink {
  readonly nodeId: string;
  clockOffsetMs = 0;
  private isLeader = false;
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeats = 0;
  private lastHeartbeatAt = 0;
  /** Other live nodes at the last heartbeat, and when a signal from another node last came in. */
  private peersAlive = 0;
  private peerHeardAt = 0;
  private pending: { queues: Set<string>; lanes: Map<string, LaneRef>; dueAt: number; catalog: Set<CatalogKind>; everything: boolean } | undefined;
  private readonly signalListeners: ((signal: ReceivedSignal) => void)[] = [];
  private readonly leaderListeners: ((leader: boolean) => void)[] = [];
  private stopped = false;
  private readonly channel: string;
  private readonly leaderKey: string;

  private constructor(
    private readonly store: PostgresStore,
    private readonly options: JoinOptions,
  ) {
    this.options = { ...options };
    this.nodeId = store.nodeId;
    this.channel = `sluice_${store.schema}`.slice(0, 63);
    this.leaderKey = `sluice.leader.${store.schema}`;
  }

  /**
   * Join the cluster: under an advisory lock (so two nodes starting together cannot both pass), count
   * the live nodes, refuse when limits could not hold, write this node's heartbeat row; then listen
   * and try for leadership. Refused: another live node is there and either node has not accepted
   * per-node limits.
   */
  static async join(store: PostgresStore, options: JoinOptions): Promise<PostgresCluster> {
    const cluster = new PostgresCluster(store, options);
    const client = await store.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [`sluice.join.${store.schema}`]);
      try {
        const { rows } = await client.query<NodeRow & { now: number }>(
          `SELECT n.*, ${DB_NOW} AS now FROM nodes n WHERE id <> $1 AND seen_at >= ${DB_NOW} - $2`,
          [store.nodeId, DEAD_AFTER_MS],
        );
        const shared = options.sharedLimits ?? false;
        const others = rows.filter((row) => !(options.perNodeLimits && row.per_node_limits) && !(shared && row.shared_limits));
        if (others.length > 0) throw new ClusterRefused(refusal(others[0]!, options.perNodeLimits, shared));
        await client.query(
          `INSERT INTO nodes (id, url, version, started_at, seen_at, per_node_limits, shared_limits)
           VALUES ($1, $2, $3, ${DB_NOW}, ${DB_NOW}, $4, $5)
           ON CONFLICT (id) DO UPDATE SET url = $2, version = $3, started_at = ${DB_NOW}, seen_at = ${DB_NOW},
             per_node_limits = $4, shared_limits = $5, leader = false`,
          [store.nodeId, options.url, options.version, options.perNodeLimits, shared],
        );
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`sluice.join.${store.schema}`]);
      }
    } finally {
      client.release();
    }
    cluster.lastHeartbeatAt = Date.now();
    await cluster.measureClock();
    await cluster.connect();
    cluster.greet();
    cluster.heartbeatTimer = setInterval(() => void cluster.heartbeat(), HEARTBEAT_MS);
    cluster.heartbeatTimer.unref();
    store.catalogChanged = (kind) => {
      cluster.signal({ catalog: [kind] });
      // Here too: a reload that read before this change committed may have put the older row back.
      cluster.emit({ from: cluster.nodeId, queues: [], lanes: [], catalog: [kind], everything: false });
    };
    return cluster;
  }

  get leader(): boolean {
    return this.isLeader;
  }

  healthy(): boolean {
    return Date.now() - this.lastHeartbeatAt < HEALTHY_FOR_MS;
  }

  signal(signal: ClusterSignal): void {
    if (this.stopped) return;
    if (!this.pending) {
      this.pending = { queues: new Set(), lanes: new Map(), dueAt: Number.POSITIVE_INFINITY, catalog: new Set(), everything: false };
      setTimeout(() => void this.send(), SIGNAL_GATHER_MS);
    }
    const pending = this.pending;
    for (const queue of signal.queues ?? []) pending.queues.add(queue);
    for (const lane of signal.lanes ?? []) pending.lanes.set(laneKey(lane.queue, lane.domain), lane);
    for (const kind of signal.catalog ?? []) pending.catalog.add(kind);
    if (signal.dueAt !== undefined) pending.dueAt = Math.min(pending.dueAt, signal.dueAt);
    if (signal.everything) pending.everything = true;
  }

  onSignal(listener: (signal: ReceivedSignal) => void): void {
    this.signalListeners.push(listener);
  }

  onLeadership(listener: (leader: boolean) => void): void {
    this.leaderListeners.push(listener);
  }

  async setUrl(url: string): Promise<void> {
    this.options.url = url;
    await this.measureClock().catch((error: unknown) => this.options.onProblem?.('heartbeat failed', error));
  }

  async nodes(): Promise<ClusterNode[]> {
    const { rows } = await this.store.pool.query<NodeRow & { alive: boolean }>(
      `SELECT n.*, seen_at >= ${DB_NOW} - $1 AS alive FROM nodes n ORDER BY started_at, id`,
      [DEAD_AFTER_MS],
    );
    return rows.map((row) => ({
      id: row.id,
      url: row.url,
      version: row.version,
      startedAt: row.started_at,
      seenAt: row.seen_at,
      alive: row.alive,
      leader: row.alive && row.leader,
      perNodeLimits: row.per_node_limits,
      sharedLimits: row.shared_limits,
    }));
  }

  async releaseDeadNodesClaims(now: number): Promise<LaneRef[]> {
    const { rows } = await this.store.pool.query<LaneRef>(
      `UPDATE messages SET state = 'ready', lease_token = NULL, lease_until = NULL, updated_at = $1
       WHERE state = 'inflight'
         AND left(lease_token, ${NODE_ID_LENGTH}) NOT IN (SELECT id FROM nodes WHERE seen_at >= ${DB_NOW} - $2)
       RETURNING queue, domain`,
      [now, DEAD_AFTER_MS],
    );
    const lanes = new Map<string, LaneRef>();
    for (const row of rows) lanes.set(laneKey(row.queue, row.domain), { queue: row.queue, domain: row.domain });
    return [...lanes.values()];
  }

  async leave(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    this.setLeader(false);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => {});
    await this.store.pool.query('DELETE FROM nodes WHERE id = $1', [this.nodeId]).catch(() => {});
  }

  // ── the dedicated connection: LISTEN, and the leader's lock ─

  private connect(): Promise<void> {
    this.connecting ??= this.openListener().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async openListener(): Promise<void> {
    const { schema: _, ...config } = connectionConfig(this.store.options);
    const client = new pg.Client({ ...config, statement_timeout: 0 });
    const lost = (error?: unknown) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.setLeader(false);
      if (error) this.options.onProblem?.('cluster connection lost', error);
      client.end().catch(() => {});
      if (!this.stopped) setTimeout(() => void this.connect().catch(() => {}), RECONNECT_MS).unref();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) this.receive(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (error) {
      client.end().catch(() => {});
      this.options.onProblem?.(`cannot reach PostgreSQL at ${redactUrl(this.store.options.connectionString)}`, error);
      if (!this.stopped) setTimeout(() => void this.connect().catch(() => {}), RECONNECT_MS).unref();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
    // Whatever was said while this node was not listening is lost: look at everything again.
    this.emit({ from: '', queues: [], lanes: [], catalog: [], everything: true });
    await this.tryLead();
  }

  private async tryLead(): Promise<void> {
    const client = this.listener;
    if (!client || this.isLeader || this.stopped) return;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.leaderKey]);
      if (rows[0]?.locked && this.listener === client) this.setLeader(true);
    } catch (error) {
      this.options.onProblem?.('leader election failed', error);
    }
  }

  private setLeader(leader: boolean): void {
    if (this.isLeader === leader) return;
    this.isLeader = leader;
    for (const listener of this.leaderListeners) listener(leader);
  }

  // ── heartbeat ───────────────────────────────────────────────

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    this.heartbeats += 1;
    try {
      const written = await this.measureClock();
      if (!written) {
        // The row is gone (forgotten while this node was cut off): write it again.
        await this.store.pool.query(
          `INSERT INTO nodes (id, url, version, started_at, seen_at, per_node_limits, shared_limits, leader)
           VALUES ($1, $2, $3, ${DB_NOW}, ${DB_NOW}, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
          [this.nodeId, this.options.url, this.options.version, this.options.perNodeLimits, this.options.sharedLimits ?? false, this.isLeader],
        );
      }
      if (this.heartbeats % RENEW_EVERY === 0) await this.renewClaims();
      if (this.isLeader && this.heartbeats % RENEW_EVERY === 1) {
        await this.store.pool.query(`DELETE FROM nodes WHERE seen_at < ${DB_NOW} - $1`, [FORGET_AFTER_MS]);
      }
    } catch (error) {
      this.options.onProblem?.('heartbeat failed', error);
    }
    if (!this.listener) void this.connect().catch(() => {});
    else await this.tryLead();
  }

  /**
   * Write the heartbeat and learn the database's clock from it: its time is taken between our send
   * and our receipt, so it is compared with the middle of the round trip. True when the row exists.
   */
  private async measureClock(): Promise<boolean> {
    const sent = Date.now();
    const { rows } = await this.store.pool.query<{ seen_at: number; peers: number }>(
      `UPDATE nodes SET seen_at = ${DB_NOW}, leader = $2, url = $3 WHERE id = $1
       RETURNING seen_at, (SELECT count(*)::int FROM nodes WHERE id <> $1 AND seen_at >= ${DB_NOW} - $4) AS peers`,
      [this.nodeId, this.isLeader, this.options.url, DEAD_AFTER_MS],
    );
    const received = Date.now();
    if (rows.length === 0) return false;
    this.peersAlive = rows[0]!.peers;
    this.clockOffsetMs = Math.round(rows[0]!.seen_at - (sent + received) / 2);
    this.lastHeartbeatAt = received;
    return true;
  }

  /** The claims this node holds get a new deadline: a live node's claims never expire under it. */
  private async renewClaims(): Promise<void> {
    await this.store.pool.query(
      `UPDATE messages SET lease_until = greatest(lease_until, ${DB_NOW} + $2)
       WHERE state = 'inflight' AND left(lease_token, ${NODE_ID_LENGTH}) = $1`,
      [this.nodeId, CLAIM_MS],
    );
  }

  // ── signals ─────────────────────────────────────────────────

  /** Tell the nodes already there that this one listens now, so that they start signalling it. */
  private greet(): void {
    void this.notify(JSON.stringify({ n: this.nodeId }));
  }

  /** No other node has been alive at the last heartbeat, nor heard from since. */
  private alone(): boolean {
    return this.peersAlive === 0 && Date.now() - this.peerHeardAt > DEAD_AFTER_MS;
  }

  private async send(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending || this.stopped) return;
    const message: Record<string, unknown> = { n: this.nodeId };
    // Changes of the catalog and due times always go out (they are rare, and a node that has just
    // joined must not miss one); news of ready messages only when some other node can use it.
    if (!this.alone()) {
      if (pending.queues.size > 0) message.q = [...pending.queues];
      if (pending.lanes.size > 0) message.l = [...pending.lanes.values()].map((lane) => [lane.queue, lane.domain]);
    }
    if (Number.isFinite(pending.dueAt)) message.d = pending.dueAt;
    if (pending.catalog.size > 0) message.c = [...pending.catalog];
    if (pending.everything) message.a = 1;
    if (Object.keys(message).length === 1) return; // nothing for anyone
    let payload = JSON.stringify(message);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) {
      payload = JSON.stringify({ n: this.nodeId, a: 1, ...(message.d === undefined ? {} : { d: message.d }) });
    }
    await this.notify(payload);
  }

  private async notify(payload: string): Promise<void> {
    try {
      await this.store.pool.query('SELECT pg_notify($1, $2)', [this.channel, payload]);
    } catch (error) {
      this.options.onProblem?.('could not signal the other nodes', error);
    }
  }

  private receive(payload: string): void {
    let message: { n?: unknown; q?: unknown; l?: unknown; d?: unknown; c?: unknown; a?: unknown };
    try {
      message = JSON.parse(payload) as typeof message;
    } catch {
      return;
    }
    if (typeof message.n !== 'string' || message.n === this.nodeId) return;
    this.peerHeardAt = Date.now();
    this.emit({
      from: message.n,
      queues: strings(message.q),
      lanes: Array.isArray(message.l)
        ? message.l.flatMap((lane: unknown) =>
            Array.isArray(lane) && typeof lane[0] === 'string' && typeof lane[1] === 'string' ? [{ queue: lane[0], domain: lane[1] }] : [],
          )
        : [],
      ...(typeof message.d === 'number' ? { dueAt: message.d } : {}),
      catalog: strings(message.c).filter(isCatalogKind),
      everything: message.a === 1,
    });
  }

  private emit(signal: ReceivedSignal): void {
    for (const listener of this.signalListeners) listener(signal);
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function refusal(other: NodeRow, perNodeLimits: boolean, sharedLimits: boolean): string {
  const who = `node ${other.id} (${other.url}) is alive on this database`;
  let why = 'and limits could not hold across two nodes';
  if (sharedLimits) why = 'and keeps its limits to itself (it started without Redis): limits could not hold across both';
  else if (perNodeLimits && other.shared_limits) why = 'and shares its limits through Redis: this node would not respect them';
  else if (perNodeLimits) why = 'and does not accept per-node limits (it started without limits.perNode: true)';
  return `${who} ${why}. Stop it, or start every node with the same Redis (SLUICE_REDIS_URL or limits.redis) so that the limits are the cluster's, or every node with limits.perNode: true to let each enforce limits on its own (N nodes may together reach N × each limit).`;
}
