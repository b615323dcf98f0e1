import { MinHeap } from '../../util/min-heap.js';

/** One pull message out on lease. */
export interface PullLease {
  seq: number;
  queue: string;
  token: string;
  until: number;
  /** Receives including this one. The stored row keeps the count before it until the lease ends. */
  attempts: number;
}

/**
 * The open leases of pull queues, held in memory by the SQLite store.
 *
 * A leased message's row stays `ready` in the database; what marks it leased is an entry here, and
 * one `pull_leases` row per leased batch (token, until, seqs) that lets a restart restore the leases
 * as they were. So a pull costs one small insert instead of an update of every message row and two
 * indexes; the row is written once, when the lease ends (ack, nack, expiry).
 *
 * Each queue has a scan start: every ready row below it is leased. Leasing reads ready rows from
 * there and moves it on; anything that makes an older row ready again (a lease that ends without an
 * ack, a due scheduled message, a replay) moves it back, so FIFO order holds.
 */
export class PullLeases {
  private readonly bySeq = new Map<number, PullLease>();
  /** Leases still open per token: when none are left, the token's stored rows can go. */
  private readonly openByToken = new Map<string, number>();
  private readonly openByQueue = new Map<string, number>();
  /** Every lease by its until; an entry is stale when the lease ended or was extended since. */
  private readonly expiry = new MinHeap<PullLease>();
  private readonly scanStart = new Map<string, number>();

  /** The lease of `seq` if it is open in `queue` under `token`. */
  holding(queue: string, seq: number, token: string): PullLease | undefined {
    const lease = this.bySeq.get(seq);
    return lease && lease.queue === queue && lease.token === token ? lease : undefined;
  }

  get(seq: number): PullLease | undefined {
    return this.bySeq.get(seq);
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
    bump(this.openByToken, lease.token, 1);
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
    return [...counts].filter(([token, n]) => this.openByToken.get(token) === n).map(([token]) => token);
  }

  end(lease: PullLease): void {
    if (this.bySeq.get(lease.seq) !== lease) return;
    this.bySeq.delete(lease.seq);
    bump(this.openByToken, lease.token, -1);
    bump(this.openByQueue, lease.queue, -1);
  }

  /** The queue is gone: end its leases and forget where its scan stood. */
  forgetQueue(queue: string): void {
    for (const lease of [...this.bySeq.values()]) if (lease.queue === queue) this.end(lease);
    this.scanStart.delete(queue);
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

  /** A row of `queue` at `seq` is ready and not leased: the next lease must see it. */
  rewind(queue: string, seq: number): void {
    if (seq < this.scanFrom(queue)) this.scanStart.set(queue, seq);
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
