import type Database from 'better-sqlite3';
import { MESSAGE_STATES, type DomainBacklog, type MessageState, type QueueCounts } from '../types.js';

/**
 * Depth by state per queue, and stored bytes per queue, kept exactly: every transaction that moves,
 * adds or deletes messages records its deltas here, writes them to `queue_counts` and `queue_bytes`
 * inside the same transaction, and applies them in memory after the commit. Stats, maxDepth and
 * byte quota checks then cost nothing, even with millions of stored messages.
 */
export class QueueCountsLedger {
  private readonly counts = new Map<string, Record<MessageState, number>>();
  private pending = new Map<string, number>();
  /** Push backlog per destination domain (ready and scheduled), kept in memory only. */
  private readonly domains = new Map<string, DomainBacklog>();
  private pendingDomains = new Map<string, number>();
  private readonly bytes = new Map<string, number>();
  private pendingBytes = new Map<string, number>();
  private readonly upsert: Database.Statement;
  private readonly upsertBytes: Database.Statement;

  constructor(db: Database.Database) {
    this.upsert = db.prepare(
      'INSERT INTO queue_counts (queue, state, n) VALUES (?, ?, ?) ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n',
    );
    this.upsertBytes = db.prepare(
      'INSERT INTO queue_bytes (queue, bytes) VALUES (?, ?) ON CONFLICT (queue) DO UPDATE SET bytes = bytes + excluded.bytes',
    );
    for (const row of db.prepare('SELECT queue, state, n FROM queue_counts').all() as { queue: string; state: MessageState; n: number }[]) {
      this.row(row.queue)[row.state] = row.n;
    }
    for (const [queue, bytes] of db.prepare('SELECT queue, bytes FROM queue_bytes').raw(true).all() as [string, number][]) this.bytes.set(queue, bytes);
    // One pass at open; from then on every transition keeps it exact.
    const backlog = db.prepare(
      `SELECT domain, state, COUNT(*) AS n FROM messages WHERE state IN ('ready', 'scheduled') AND domain <> '' GROUP BY domain, state`,
    );
    for (const row of backlog.all() as { domain: string; state: 'ready' | 'scheduled'; n: number }[]) {
      this.domainRow(row.domain)[row.state] = row.n;
    }
  }

  /**
   * Note that `n` messages of `queue` (bound for `domain`, '' for pull) moved from one state to
   * another (undefined = created or deleted).
   */
  move(queue: string, from: MessageState | undefined, to: MessageState | undefined, n = 1, domain = ''): void {
    if (n === 0) return;
    if (from) this.add(queue, from, -n);
    if (to) this.add(queue, to, n);
    if (domain === '') return;
    if (from === 'ready' || from === 'scheduled') this.addDomain(domain, from, -n);
    if (to === 'ready' || to === 'scheduled') this.addDomain(domain, to, n);
  }

  /** Messages of `queue` taking `delta` bytes more (negative: fewer) were stored (see storedSize). */
  addBytes(queue: string, delta: number): void {
    this.pendingBytes.set(queue, (this.pendingBytes.get(queue) ?? 0) + delta);
  }

  /** Inside the transaction: persist the deltas collected so far. */
  writePending(): void {
    for (const [key, delta] of this.pending) {
      if (delta === 0) continue;
      const [queue, state] = splitKey(key);
      this.upsert.run(queue, state, delta);
    }
    for (const [queue, delta] of this.pendingBytes) if (delta !== 0) this.upsertBytes.run(queue, delta);
  }

  /** After the commit: the deltas become the in-memory truth. */
  applyPending(): void {
    for (const [key, delta] of this.pending) {
      const [queue, state] = splitKey(key);
      this.row(queue)[state as MessageState] += delta;
    }
    for (const [key, delta] of this.pendingDomains) {
      const [domain, state] = splitKey(key);
      const row = this.domainRow(domain);
      row[state as keyof DomainBacklog] += delta;
      if (row.ready === 0 && row.scheduled === 0) this.domains.delete(domain);
    }
    for (const [queue, delta] of this.pendingBytes) this.bytes.set(queue, (this.bytes.get(queue) ?? 0) + delta);
    this.discardPending();
  }

  /** After a rollback: forget the deltas. */
  discardPending(): void {
    this.pending = new Map();
    this.pendingDomains = new Map();
    this.pendingBytes = new Map();
  }

  /** Ready push messages bound for `domain`, counting this transaction's changes so far. */
  readyFor(domain: string): number {
    return (this.domains.get(domain)?.ready ?? 0) + (this.pendingDomains.get(`${domain}\u0000ready`) ?? 0);
  }

  /** Ready and scheduled push messages per destination domain. */
  domainSnapshot(): Map<string, DomainBacklog> {
    return new Map([...this.domains].map(([domain, row]) => [domain, { ...row }]));
  }

  private addDomain(domain: string, state: keyof DomainBacklog, delta: number): void {
    const key = `${domain}\u0000${state}`;
    this.pendingDomains.set(key, (this.pendingDomains.get(key) ?? 0) + delta);
  }

  private domainRow(domain: string): DomainBacklog {
    let row = this.domains.get(domain);
    if (!row) this.domains.set(domain, (row = { ready: 0, scheduled: 0 }));
    return row;
  }

  /** Messages of `queue` stored in any state, as of the last commit. */
  stored(queue: string): number {
    const row = this.counts.get(queue);
    return row ? MESSAGE_STATES.reduce((sum, state) => sum + row[state], 0) : 0;
  }

  /** Messages of `queue` not yet delivered, acked, dead or cancelled. */
  pendingIn(queue: string): number {
    const row = this.counts.get(queue);
    return row ? row.scheduled + row.ready + row.leased + row.inflight : 0;
  }

  get(queue: string): Record<MessageState, number> {
    return this.row(queue);
  }

  /** Queues that hold rows in `state`. */
  queuesWith(state: MessageState): string[] {
    return [...this.counts].filter(([, states]) => states[state] > 0).map(([queue]) => queue);
  }

  snapshot(): Map<string, QueueCounts> {
    const result = new Map<string, QueueCounts>();
    for (const [queue, states] of this.counts) result.set(queue, { states: { ...states }, storedBytes: this.bytes.get(queue) ?? 0 });
    return result;
  }

  private add(queue: string, state: MessageState, delta: number): void {
    const key = `${queue}\u0000${state}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + delta);
  }

  private row(queue: string): Record<MessageState, number> {
    let row = this.counts.get(queue);
    if (!row) {
      row = Object.fromEntries(MESSAGE_STATES.map((state) => [state, 0])) as Record<MessageState, number>;
      this.counts.set(queue, row);
    }
    return row;
  }
}

function splitKey(key: string): [string, MessageState] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1) as MessageState];
}
