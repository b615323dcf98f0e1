import type { Principal } from '../http/auth.js';
import { canAccess } from '../http/auth.js';
import { SluiceError } from '../http/errors.js';
import { queueConfigSchema, type QueueConfig } from '../config/schema.js';
import { FileSettings, settingsOf } from '../config/file-settings.js';
import { readStoredRow, StoredRowError } from '../config/stored-row.js';
import { storedRetryInput } from '../delivery/retry-policy.js';
import type { Logger } from '../observe/logger.js';
import type { Store } from '../store/store.js';
import {
  QUEUE_NAME_TAKEN,
  storedSize,
  type DomainBacklog,
  type NewMessage,
  type QueueCounts,
  type QueueDeletion,
  type QueueRecord,
} from '../store/types.js';

/** A queue as the running node knows it. */
export interface Queue {
  name: string;
  tenant: string;
  config: QueueConfig;
}

/**
 * Room taken in queues (and their tenants) for messages on their way to a commit. Ingest takes it
 * before reading the body (its bytes once it has read it) and gives it back once the commit is known
 * (stored messages then count as depth and bytes) or failed; see QueueRegistry.reserve.
 */
export interface Reservation {
  entries: { queue: string; tenant: string; n: number; bytes: number }[];
  released: boolean;
}

/** A tenant's quotas: most messages waiting, most bytes stored, in all its queues together. */
export interface TenantQuota {
  maxDepth?: number | undefined;
  maxStoredBytes?: number | undefined;
}

/** How long a sender refused by maxDepth or a tenant quota is asked to wait. */
const FULL_RETRY_AFTER_SECONDS = '1';

/** Called when a queue is created, changed or deleted. */
export type QueueListener = (queue: Queue, change: 'upsert' | 'delete') => void;

/** Each top-level field of a queue is one setting of sluice.yaml (see FileSettings). */
const QUEUE_SETTINGS = settingsOf(Object.keys(queueConfigSchema.shape));

/**
 * The queues of this node: definitions from sluice.yaml and from the API, persisted in the store
 * (how the two combine at start: FileSettings). Also keeps a recent snapshot of depth by state for maxDepth checks
 * and stats, refreshed on a timer so the ingest path never waits on a count.
 */
export class QueueRegistry {
  private readonly queues = new Map<string, Queue>();
  private readonly listeners: QueueListener[] = [];
  private counts = new Map<string, QueueCounts>();
  private backlog = new Map<string, DomainBacklog>();
  private backlogWantedUntil = 0;
  /** Messages appended since the last refresh, per queue, so maxDepth holds between refreshes. */
  private appendedSinceRefresh = new Map<string, number>();
  /** Their bytes, per queue of a tenant with a bytes quota (only those need them). */
  private bytesSinceRefresh = new Map<string, number>();
  /** Messages admitted but not committed yet, per queue and per tenant, and their bytes (see reserve). */
  private readonly reservedByQueue = new Map<string, number>();
  private readonly reservedByTenant = new Map<string, number>();
  private readonly reservedBytesByTenant = new Map<string, number>();
  private readonly tenantQuotas = new Map<string, TenantQuota>();

  constructor(private readonly store: Store) {}

  /**
   * Load stored queues (a row that cannot be read stops the start), then apply the settings of the
   * configured ones that the file changed since it last applied them (persisting them).
   */
  async load(configured: Record<string, QueueConfig>, now: number, file: FileSettings, logger: Logger): Promise<void> {
    for (const record of await this.store.listQueues()) this.queues.set(record.name, queueOf(record));
    for (const [name, fromFile] of Object.entries(configured)) {
      const stored = this.queues.get(name)?.config;
      const { value, changed } = file.merge('queue', name, fromFile, stored, QUEUE_SETTINGS);
      if (changed.length > 0) logger.info('sluice.yaml changed a queue', { queue: name, settings: changed });
      if (stored === undefined || JSON.stringify(value) !== JSON.stringify(stored)) await this.upsert(name, value, now);
    }
    await this.refreshCounts();
  }

  /** Create or change a queue. 409 when the name belongs to another tenant that still has messages stored under it. */
  async upsert(name: string, config: QueueConfig, now: number): Promise<Queue> {
    const existing = this.queues.get(name);
    try {
      await this.store.upsertQueue({ name, tenant: config.tenant, config, createdAt: now });
    } catch (error) {
      // Says neither whose the name is nor what is stored: that is the other tenant's business.
      if ((error as { code?: unknown }).code === QUEUE_NAME_TAKEN) throw new SluiceError('SLUICE_ERR_CONFLICT', `queue name ${name} is taken`);
      throw error;
    }
    const queue: Queue = { name, tenant: config.tenant, config };
    this.queues.set(name, queue);
    if (!existing || JSON.stringify(existing.config) !== JSON.stringify(config)) this.emit(queue, 'upsert');
    return queue;
  }

  /** Delete a queue with its messages; nothing happens while messages are pending unless `force`. */
  async remove(name: string, force = false): Promise<QueueDeletion> {
    const queue = this.queues.get(name);
    const deletion = await this.store.deleteQueue(name, force);
    if (!deletion.deleted || !queue) return deletion;
    this.forget(name);
    this.emit(queue, 'delete');
    return deletion;
  }

  /**
   * Adopt the queues as stored now, after another node created, changed (paused, resumed) or deleted
   * some: only the memory of this node changes, nothing is written. Listeners hear of each queue that
   * really changed, as they do for a change made here, so the dispatcher hands back or wakes its
   * lanes; a queue whose definition is the same is left alone, counts included.
   *
   * A stored row this version cannot read does not stop the others: that queue stays as it was here
   * (it is neither changed nor removed), and its error is returned for the caller to report.
   */
  async reload(): Promise<StoredRowError[]> {
    const unreadable: StoredRowError[] = [];
    const stored = new Map<string, Queue | undefined>();
    for (const record of await this.store.listQueues()) {
      try {
        stored.set(record.name, queueOf(record));
      } catch (error) {
        if (!(error instanceof StoredRowError)) throw error;
        unreadable.push(error);
        stored.set(record.name, undefined);
      }
    }
    // Memory first, listeners after: a listener looks the queue up again (Dispatcher.onQueueChange).
    const changes: [Queue, 'upsert' | 'delete'][] = [];
    for (const queue of stored.values()) {
      if (queue === undefined) continue;
      const existing = this.queues.get(queue.name);
      if (existing && JSON.stringify(existing.config) === JSON.stringify(queue.config)) continue;
      this.queues.set(queue.name, queue);
      changes.push([queue, 'upsert']);
    }
    for (const queue of [...this.queues.values()]) {
      if (stored.has(queue.name)) continue;
      this.forget(queue.name);
      changes.push([queue, 'delete']);
    }
    for (const [queue, change] of changes) this.emit(queue, change);
    return unreadable;
  }

  onChange(listener: QueueListener): void {
    this.listeners.push(listener);
  }

  get(name: string): Queue | undefined {
    return this.queues.get(name);
  }

  /** The queue if it exists and the principal may use it; else 404 (another tenant's queue does not exist for you). */
  require(name: string, principal: Principal): Queue {
    const queue = this.queues.get(name);
    if (!queue || !canAccess(principal, queue.tenant)) throw new SluiceError('SLUICE_ERR_QUEUE_NOT_FOUND', `no queue named ${name}`);
    return queue;
  }

  all(): Queue[] {
    return [...this.queues.values()];
  }

  /** Each queue's maxReceives, as the store's wake() takes it. */
  maxReceives(): Map<string, number> {
    return new Map([...this.queues.values()].map((queue) => [queue.name, queue.config.maxReceives]));
  }

  /** Messages waiting in a queue (scheduled, ready, leased, in flight), as of the last refresh plus appends since. */
  depth(name: string): number {
    const states = this.counts.get(name)?.states;
    const stored = states ? states.scheduled + states.ready + states.leased + states.inflight : 0;
    return stored + (this.appendedSinceRefresh.get(name) ?? 0);
  }

  /** Messages waiting in all of a tenant's queues, plus those admitted but not committed yet. */
  tenantDepth(tenant: string): number {
    let total = this.reservedByTenant.get(tenant) ?? 0;
    for (const queue of this.queues.values()) if (queue.tenant === tenant) total += this.depth(queue.name);
    return total;
  }

  /** Bytes of all of a tenant's stored messages, plus those admitted but not committed yet. */
  tenantStoredBytes(tenant: string): number {
    let total = this.reservedBytesByTenant.get(tenant) ?? 0;
    for (const queue of this.queues.values()) {
      if (queue.tenant === tenant) total += (this.counts.get(queue.name)?.storedBytes ?? 0) + (this.bytesSinceRefresh.get(queue.name) ?? 0);
    }
    return total;
  }

  /** Set a tenant's quotas; an absent one is lifted. */
  setTenantQuota(tenant: string, quota: TenantQuota): void {
    const { maxDepth, maxStoredBytes } = quota;
    if (maxDepth === undefined && maxStoredBytes === undefined) this.tenantQuotas.delete(tenant);
    else this.tenantQuotas.set(tenant, { maxDepth, maxStoredBytes });
  }

  /** Make every tenant's quotas those given (as stored): a tenant not among them, or without quotas, has none. */
  replaceTenantQuotas(tenants: Iterable<{ name: string } & TenantQuota>): void {
    this.tenantQuotas.clear();
    for (const tenant of tenants) this.setTenantQuota(tenant.name, tenant);
  }

  tenantQuota(tenant: string): TenantQuota | undefined {
    return this.tenantQuotas.get(tenant);
  }

  /**
   * Admit `n` more messages taking `bytes` (storedSize) to each queue named, or refuse them all: 503
   * SLUICE_ERR_QUEUE_FULL when a queue would pass its maxDepth, 429 SLUICE_ERR_TENANT_QUOTA when a
   * tenant would pass a quota. Ingest reserves before it has read the body (bytes 0) and adds the
   * bytes with reserveBytes once it has; a tenant with no bytes left is refused before the body.
   *
   * Why a reservation and not a look at the depth: the depth counts only committed messages, and a
   * group commit takes a moment; checking it alone let 200 concurrent senders put 38-79 messages in a
   * queue of maxDepth 5. Admitted messages count until the caller releases them, after the commit
   * (by then they count as stored, see noteAppended) or its failure. The bounds are then exact
   * (dedupe duplicates and commits that fail only ever make them stricter for a moment).
   */
  reserve(wanted: { queue: Queue; n: number; bytes: number }[]): Reservation {
    const perTenant = new Map<string, { n: number; bytes: number }>();
    for (const { queue, n, bytes } of wanted) {
      const depth = this.depth(queue.name) + (this.reservedByQueue.get(queue.name) ?? 0);
      if (depth + n > queue.config.maxDepth) throw queueFull(queue, depth);
      const sum = perTenant.get(queue.tenant) ?? { n: 0, bytes: 0 };
      perTenant.set(queue.tenant, { n: sum.n + n, bytes: sum.bytes + bytes });
    }
    for (const [tenant, { n, bytes }] of perTenant) {
      const quota = this.tenantQuotas.get(tenant);
      if (quota?.maxDepth !== undefined && this.tenantDepth(tenant) + n > quota.maxDepth) throw tenantFull(tenant, { maxDepth: quota.maxDepth });
      this.checkBytes(tenant, bytes);
    }
    const entries = wanted.map(({ queue, n, bytes }) => ({ queue: queue.name, tenant: queue.tenant, n, bytes }));
    for (const entry of entries) {
      bump(this.reservedByQueue, entry.queue, entry.n);
      bump(this.reservedByTenant, entry.tenant, entry.n);
      bump(this.reservedBytesByTenant, entry.tenant, entry.bytes);
    }
    return { entries, released: false };
  }

  /** Add the bytes of `message` to a reservation of its queue (ingest, once the body is read), or refuse with 429. */
  reserveBytes(reservation: Reservation, message: NewMessage): void {
    const entry = reservation.entries.find((reserved) => reserved.queue === message.queue)!;
    if (this.tenantQuotas.get(entry.tenant)?.maxStoredBytes === undefined) return; // no need to size it
    const bytes = storedSize(message);
    this.checkBytes(entry.tenant, bytes);
    entry.bytes += bytes;
    bump(this.reservedBytesByTenant, entry.tenant, bytes);
  }

  /** Throws 429 unless the tenant has room for `bytes` more; with none left, even for a message not yet read (0). */
  private checkBytes(tenant: string, bytes: number): void {
    const quota = this.tenantQuotas.get(tenant)?.maxStoredBytes;
    if (quota !== undefined && this.tenantStoredBytes(tenant) + Math.max(bytes, 1) > quota) throw tenantFull(tenant, { maxStoredBytes: quota });
  }

  /** Give back what `reserve` took; once the commit succeeded its messages already count as stored. */
  release(reservation: Reservation): void {
    if (reservation.released) return;
    reservation.released = true;
    for (const entry of reservation.entries) {
      bump(this.reservedByQueue, entry.queue, -entry.n);
      bump(this.reservedByTenant, entry.tenant, -entry.n);
      bump(this.reservedBytesByTenant, entry.tenant, -entry.bytes);
    }
  }

  /** Messages admitted to a queue and not committed yet. */
  reserved(name: string): number {
    return this.reservedByQueue.get(name) ?? 0;
  }

  /** A message was committed: it counts as stored until the next refresh brings the store's counts. */
  noteAppended(message: NewMessage): void {
    bump(this.appendedSinceRefresh, message.queue, 1);
    // Its size is worked out only where a bytes quota will look at it: on the ingest path it is work.
    if (this.tenantQuotas.get(message.tenant)?.maxStoredBytes !== undefined) bump(this.bytesSinceRefresh, message.queue, storedSize(message));
  }

  latestCounts(): Map<string, QueueCounts> {
    return this.counts;
  }

  async refreshCounts(): Promise<Map<string, QueueCounts>> {
    const fresh = await this.store.queueCounts();
    this.counts = fresh;
    this.appendedSinceRefresh = new Map();
    this.bytesSinceRefresh = new Map();
    // Copying the per-domain backlog costs O(domains): only while someone looks at it.
    if (this.backlogWantedUntil > Date.now()) this.backlog = await this.store.domainBacklog();
    return fresh;
  }

  /** Ready and scheduled push messages per domain, as of the last refresh (kept fresh while asked for). */
  latestBacklog(): Map<string, DomainBacklog> {
    this.backlogWantedUntil = Date.now() + 10_000;
    return this.backlog;
  }

  /** A deleted queue: drop it with what is counted for it. */
  private forget(name: string): void {
    this.queues.delete(name);
    this.counts.delete(name);
    this.appendedSinceRefresh.delete(name);
    this.bytesSinceRefresh.delete(name);
  }

  private emit(queue: Queue, change: 'upsert' | 'delete'): void {
    for (const listener of this.listeners) listener(queue, change);
  }
}

/** A stored queue as the node holds it; a StoredRowError names a row this version cannot read. */
function queueOf(record: QueueRecord): Queue {
  const config = readStoredRow(queueConfigSchema, storedQueueInput(record.config), `stored queue "${record.name}"`);
  return { name: record.name, tenant: config.tenant, config };
}

/** A stored queue config in the shape the schema reads (its retry policy as users write it). */
function storedQueueInput(config: unknown): unknown {
  if (typeof config !== 'object' || config === null) return config;
  return { ...config, retry: storedRetryInput((config as { retry?: unknown }).retry) };
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n === 0) map.delete(key);
  else map.set(key, n);
}

function queueFull(queue: Queue, depth: number): SluiceError {
  return new SluiceError('SLUICE_ERR_QUEUE_FULL', `queue ${queue.name} holds ${queue.config.maxDepth} messages`, {
    extra: { depth },
    headers: { 'retry-after': FULL_RETRY_AFTER_SECONDS },
  });
}

function tenantFull(tenant: string, quota: { maxDepth: number } | { maxStoredBytes: number }): SluiceError {
  const detail =
    'maxDepth' in quota
      ? `tenant ${tenant} holds its quota of ${quota.maxDepth} waiting messages`
      : `tenant ${tenant} holds its quota of ${quota.maxStoredBytes} stored bytes`;
  return new SluiceError('SLUICE_ERR_TENANT_QUOTA', detail, { extra: { tenant, ...quota }, headers: { 'retry-after': FULL_RETRY_AFTER_SECONDS } });
}
