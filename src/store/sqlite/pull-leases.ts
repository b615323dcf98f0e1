import { MinHeap } from '../../util/min-heap.js';
import { DEFAULT_PRIORITY } from '../types.js';

/** One pull message out on lease. */
export interface PullLease {
  seq: number;
  queue: string;
  /** The message's tenant, so that listings of leased messages filter by owner without reading rows. */
  tenant: string;
  token: string;
  until: number;
  /** Receives including this one. The stored row keeps the count before it until the lease ends. */
  attempts: number;
  /** The message's priority: an ended lease makes it ready again in that priority's scan. */
  priority: number;
}

/**
 * The key of one priority of a pull queue: each has its own scan start and returned rows, since
 * leasing reads the priorities in turn, each in seq order. The default priority's key is the queue's
 * name, so a queue whose messages all have it keeps one scan as before.
 */
export function scanKey(queue: string, priority: number): string {
  return priority === DEFAULT_PRIORITY ? queue : `${queue}\u0000${priority}`;
}

/**
 * The open leases of pull queues, held in memory by the SQLite store.
 *
 * A leased message's row stays `ready` in the database; what marks it leased is an entry here, and
 * one `pull_leases` row per leased batch (token, until, seqs) that lets a restart restore the leases
 * as they were. So a pull costs one small insert instead of an update of every message row and two
 * indexes; the row is written once, when the lease ends (ack, nack, expiry).
 *
 * Each queue has a scan start per priority (scanKey): every ready row of that priority below it is
 * leased, or noted as returned. Leasing
 * takes the returned rows first, oldest first, then reads ready rows from the scan start and moves
 * it on. Anything that makes an older row ready again (a lease that ends without an ack, a due
 * scheduled message, a replay) notes it as returned instead of moving the scan start back: moved
 * back, the next read had to pass over every row still leased above it again — one statement per
 * leased row for a pull of 1, seconds of the store thread behind 100k open leases, and again after
 * every nack. So a read never visits a leased row, and FIFO order holds.
 */
export class PullLeases {
  private readonly bySeq = new Map<number, PullLease>();
  /** Leases still open per token: when none are left, the token's stored rows can go. */
  private readonly openByToken = new Map<string, Set<PullLease>>();
  private readonly openByQueue = new Map<string, number>();
  /** Every lease by its until; an entry is stale when the lease ended or was extended since. */
  private readonly expiry = new MinHeap<PullLease>();
  private readonly scanStart = new Map<string, number>();
  /** Per queue: rows below the scan start that are ready again, by seq. Entries may be stale (see takeReturned). */
  private readonly returned = new Map<string, MinHeap<number>>();

  /** The lease of `seq` if it is open in `queue` under `token`. */
  holding(queue: string, seq: number, token: string): PullLease | undefined {
    const lease = this.bySeq.get(seq);
    return lease && lease.queue === queue && lease.token === token ? lease : undefined;
  }

  get(seq: number): PullLease | undefined {
    return this.bySeq.get(seq);
  }

  /** Every open lease. */
  all(): IterableIterator<PullLease> {
    return this.bySeq.values();
  }

  isLeased(seq: number): boolean {
    return this.bySeq.has(seq);
  }

  openIn(queue: string): number {
    return this.openByQueue.get(queue) ?? 0;
  }

  add(lease: PullLease): void {
    const previous = this.bySeq.get(lease.seq);
    if (previous) this.end(previous);
    this.bySeq.set(lease.seq, lease);
    let open = this.openByToken.get(lease.token);
    if (!open) this.openByToken.set(lease.token, (open = new Set()));
    open.add(lease);
    bump(this.openByQueue, lease.queue, 1);
    this.expiry.push(lease.until, lease);
  }

  extend(lease: PullLease, until: number): void {
    lease.until = until;
    this.expiry.push(until, lease);
  }

  /** Would ending these leases close every lease of their tokens? Those tokens, to delete their rows. */
  closedTokens(ending: PullLease[]): string[] {
    const counts = new Map<string, number>();
    for (const lease of ending) bump(counts, lease.token, 1);
    return [...counts].filter(([token, n]) => this.openByToken.get(token)?.size === n).map(([token]) => token);
  }

  /** The leases still open under `token`. */
  openUnder(token: string): PullLease[] {
    return [...(this.openByToken.get(token) ?? [])];
  }

  end(lease: PullLease): void {
    if (this.bySeq.get(lease.seq) !== lease) return;
    this.bySeq.delete(lease.seq);
    const open = this.openByToken.get(lease.token)!;
    open.delete(lease);
    if (open.size === 0) this.openByToken.delete(lease.token);
    bump(this.openByQueue, lease.queue, -1);
  }

  /** The queue is gone: end its leases and forget where its scans stood. */
  forgetQueue(queue: string): void {
    for (const lease of [...this.bySeq.values()]) if (lease.queue === queue) this.end(lease);
    const ofQueue = (key: string) => key === queue || key.startsWith(`${queue}\u0000`);
    for (const key of [...this.scanStart.keys()]) if (ofQueue(key)) this.scanStart.delete(key);
    for (const key of [...this.returned.keys()]) if (ofQueue(key)) this.returned.delete(key);
  }

  /** Leases whose time is up at `now`, oldest first. The caller ends each one. */
  expired(now: number, limit: number): PullLease[] {
    const due: PullLease[] = [];
    this.dropStale();
    while (due.length < limit && (this.expiry.peekKey() ?? Infinity) <= now) {
      due.push(this.expiry.pop()!);
      this.dropStale();
    }
    return due;
  }

  /** When the next open lease runs out. */
  nextExpiry(): number | undefined {
    this.dropStale();
    return this.expiry.peekKey();
  }

  /** Where leasing in `queue` reads on from: every ready row below is leased. */
  scanFrom(queue: string): number {
    return this.scanStart.get(queue) ?? 0;
  }

  scanned(queue: string, next: number): void {
    this.scanStart.set(queue, next);
  }

  /** A row of `queue` at `seq` is ready and not leased: the next lease must see it, in seq order. */
  rewind(queue: string, seq: number): void {
    if (seq >= this.scanFrom(queue)) return; // the scan reaches it
    let heap = this.returned.get(queue);
    if (!heap) this.returned.set(queue, (heap = new MinHeap()));
    heap.push(seq, seq);
  }

  /**
   * The oldest row of `queue` noted as returned, without taking it. An entry can be stale (the row was
   * cancelled, or leased again through a second entry): the caller checks the row, and drops stale
   * entries with takeReturned.
   */
  peekReturned(queue: string): number | undefined {
    return this.returned.get(queue)?.peekKey();
  }

  takeReturned(queue: string): number | undefined {
    const heap = this.returned.get(queue);
    const seq = heap?.pop();
    if (heap?.size === 0) this.returned.delete(queue);
    return seq;
  }

  private dropStale(): void {
    for (;;) {
      const key = this.expiry.peekKey();
      const top = this.expiry.peek();
      if (key === undefined || !top) return;
      if (this.bySeq.get(top.seq) === top && top.until === key) return;
      this.expiry.pop();
    }
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n === 0) map.delete(key);
  else map.set(key, n);
}
