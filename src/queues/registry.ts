import type { Principal } from '../http/auth.js';
import { canAccess } from '../http/auth.js';
import { SluiceError } from '../http/errors.js';
import { queueConfigSchema, type QueueConfig } from '../config/schema.js';
import { FileSettings, settingsOf } from '../config/file-settings.js';
import { readStoredRow } from '../config/stored-row.js';
import type { Logger } from '../observe/logger.js';
import type { Store } from '../store/store.js';
import { QUEUE_NAME_TAKEN, type DomainBacklog, type QueueCounts, type QueueDeletion } from '../store/types.js';

/** A queue as the running node knows it. */
export interface Queue {
  name: string;
  tenant: string;
  config: QueueConfig;
}

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

  constructor(private readonly store: Store) {}

  /**
   * Load stored queues (a row that cannot be read stops the start), then apply the settings of the
   * configured ones that the file changed since it last applied them (persisting them).
   */
  async load(configured: Record<string, QueueConfig>, now: number, file: FileSettings, logger: Logger): Promise<void> {
    for (const record of await this.store.listQueues()) {
      const config = readStoredRow(queueConfigSchema, storedQueueInput(record.config), `stored queue "${record.name}"`);
      this.queues.set(record.name, { name: record.name, tenant: config.tenant, config });
    }
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
    this.queues.delete(name);
    this.counts.delete(name);
    this.appendedSinceRefresh.delete(name);
    this.emit(queue, 'delete');
    return deletion;
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

  noteAppended(name: string, n: number): void {
    this.appendedSinceRefresh.set(name, (this.appendedSinceRefresh.get(name) ?? 0) + n);
  }

  latestCounts(): Map<string, QueueCounts> {
    return this.counts;
  }

  async refreshCounts(): Promise<Map<string, QueueCounts>> {
    const fresh = await this.store.queueCounts();
    this.counts = fresh;
    this.appendedSinceRefresh = new Map();
    // Copying the per-domain backlog costs O(domains): only while someone looks at it.
    if (this.backlogWantedUntil > Date.now()) this.backlog = await this.store.domainBacklog();
    return fresh;
  }

  /** Ready and scheduled push messages per domain, as of the last refresh (kept fresh while asked for). */
  latestBacklog(): Map<string, DomainBacklog> {
    this.backlogWantedUntil = Date.now() + 10_000;
    return this.backlog;
  }

  private emit(queue: Queue, change: 'upsert' | 'delete'): void {
    for (const listener of this.listeners) listener(queue, change);
  }
}

/**
 * A stored queue config in the shape the schema reads. Queues are stored as parsed, and a parsed
 * retry policy is flat ({ maxAttempts, initialMs, … }) where users write { backoff: { … } }: put it
 * back the way the schema reads it, so the row parses to exactly what was stored.
 */
function storedQueueInput(config: unknown): unknown {
  if (typeof config !== 'object' || config === null) return config;
  const retry = (config as { retry?: unknown }).retry;
  if (typeof retry !== 'object' || retry === null || !('initialMs' in retry)) return config;
  // Anything else in it is kept, so that the schema names it rather than it vanishing.
  const { initialMs, maxMs, multiplier, ...rest } = retry as Record<string, unknown>;
  return { ...config, retry: { ...rest, backoff: { initialMs, maxMs, multiplier } } };
}
