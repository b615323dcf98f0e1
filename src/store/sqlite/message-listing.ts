import type Database from 'better-sqlite3';
import { MinHeap } from '../../util/min-heap.js';
import type { ListMessagesFilter, MessagePage, MessageState, StoredMessage } from '../types.js';
import type { PullLease, PullLeases } from './pull-leases.js';
import { messageRowFrom, parseId, type MessageRow } from './rows.js';
import type { Statements } from './statements.js';

/** Most rows that do not match a page may pass over before it ends early (with a cursor). */
const MAX_SKIPPED = 1_000;
/** Most payload bytes one page holds (a page of 1,000 webhooks of 1 MiB would be 1 GB). */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Above this many queues, a listing of one state in all queues sweeps the table instead of merging them. */
const MAX_MERGED_QUEUES = 64;
/** Rows a merged listing first reads per queue; a queue the page keeps taking from reads more. */
const FIRST_RUN = 16;

/** What a listing reads besides its statements. */
export interface ListingSources {
  sql: Statements;
  leases: PullLeases;
  /** Queues with messages in `state` (for ready: some not leased). */
  queuesWith(state: MessageState): string[];
  /** A message row as callers see it: payload read, a leased pull message shown as leased. */
  present(row: MessageRow): StoredMessage;
  /** Is this 'ready' row leased (or being acked), so not ready as callers see it? */
  isHeld(seq: number): boolean;
}

/**
 * Newest-first listings (GET /v1/messages, dead letters) whose cost is bounded whatever the table
 * holds. Before, `?state=leased&limit=1` over 1M rows read every row, a page of 2 per statement, and
 * held the store thread for 29-35 s. Now each page takes one of three ways, each reading rows only
 * through an index or the primary key, never a whole table:
 *
 * - `leased`: from the lease map, in memory (a leased pull message is a 'ready' row with a lease);
 * - a state with a (queue, seq) index (ready, scheduled, inflight, dead): that index, newest first,
 *   for the queue named, or merged across the queues the depth ledger says hold such rows;
 * - anything else (delivered, acked, cancelled, which have no index so that acks and deliveries
 *   stay cheap; or no state): a sweep down the primary key, filtered here.
 *
 * A page passes over at most MAX_SKIPPED rows that do not match and holds at most MAX_PAGE_BYTES of
 * payload; then it ends early, with a cursor where the next page goes on.
 */
export class MessageListing {
  private readonly byState: Partial<Record<MessageState, Database.Statement>>;

  constructor(private readonly from: ListingSources) {
    const { sql } = from;
    this.byState = { ready: sql.listReady, scheduled: sql.listScheduled, inflight: sql.listInflight, dead: sql.listDead };
  }

  list(filter: ListMessagesFilter): MessagePage {
    const before = filter.before === undefined ? Number.MAX_SAFE_INTEGER : (parseId(filter.before) ?? 0);
    const page = new PageBuilder(filter.limit, this.from.present);
    const statement = filter.state && this.byState[filter.state];
    const queues = statement && (filter.queue !== undefined ? [filter.queue] : this.candidates(filter));
    if (filter.state === 'leased') this.leased(filter, before, page);
    else if (statement && queues && queues.length <= MAX_MERGED_QUEUES) this.indexed(statement, queues, filter, before, page);
    else this.sweep(filter, before, page);
    return page.result();
  }

  /** Leased pull messages, from the lease map: the newest `limit + 1` that match, then their rows. */
  private leased(filter: ListMessagesFilter, before: number, page: PageBuilder): void {
    const newest = new MinHeap<PullLease>();
    for (const lease of this.from.leases.all()) {
      if (lease.seq >= before || (filter.queue !== undefined && lease.queue !== filter.queue)) continue;
      if (filter.tenant !== undefined && lease.tenant !== filter.tenant) continue;
      newest.push(lease.seq, lease);
      if (newest.size > filter.limit + 1) newest.pop();
    }
    const leases: PullLease[] = [];
    for (let lease = newest.pop(); lease; lease = newest.pop()) leases.push(lease);
    for (const lease of leases.reverse()) {
      const values = this.from.sql.readyRow.get(lease.seq, lease.queue) as unknown[] | undefined;
      if (values && !page.offer(messageRowFrom(values), true)) return;
    }
  }

  /** Queues whose rows in the filter's state a merged listing reads: a tenant's own (and unknown ones). */
  private candidates(filter: ListMessagesFilter): string[] {
    const queues = this.from.queuesWith(filter.state!);
    if (filter.tenant === undefined) return queues;
    const owners = new Map(this.from.sql.queueOwners.all() as [string, string][]);
    return queues.filter((queue) => (owners.get(queue) ?? filter.tenant) === filter.tenant);
  }

  /** One state through its (queue, seq) index: newest first per queue, merged across `queues`. */
  private indexed(statement: Database.Statement, queues: string[], filter: ListMessagesFilter, before: number, page: PageBuilder): void {
    const runs = queues.map((queue) => new QueueRun(statement, queue, before, Math.min(filter.limit + 1, FIRST_RUN)));
    const heads = new MinHeap<QueueRun>();
    for (const run of runs) {
      const head = run.head();
      if (head) heads.push(-head.seq, run);
    }
    for (let run = heads.pop(); run; run = heads.pop()) {
      const row = run.take();
      if (!page.offer(row, this.matches(row, filter))) return;
      const head = run.head();
      if (head) heads.push(-head.seq, run);
    }
  }

  /** Down the primary key from `before`, keeping what matches, a page of reads at a time. */
  private sweep(filter: ListMessagesFilter, before: number, page: PageBuilder): void {
    for (let next = before; ; ) {
      const rows = this.from.sql.sweepDown.all(next, filter.limit + 1) as unknown[][];
      for (const values of rows) {
        const row = messageRowFrom(values);
        if (!page.offer(row, this.matches(row, filter))) return;
      }
      if (rows.length < filter.limit + 1) return;
      next = rows.at(-1)![0] as number;
    }
  }

  private matches(row: MessageRow, filter: ListMessagesFilter): boolean {
    if (filter.queue !== undefined && row.queue !== filter.queue) return false;
    if (filter.tenant !== undefined && row.tenant !== filter.tenant) return false;
    if (filter.state === undefined) return true;
    if (row.state === 'ready' && this.from.isHeld(row.seq)) return false; // leased as callers see it; listed as leased
    return row.state === filter.state;
  }
}

/** Rows of one queue in one state, newest first, read a run at a time; each run twice the last. */
class QueueRun {
  private rows: MessageRow[] = [];
  private at = 0;
  private more = true;

  constructor(
    private readonly statement: Database.Statement,
    private readonly queue: string,
    private before: number,
    private size: number,
  ) {}

  head(): MessageRow | undefined {
    if (this.at === this.rows.length && this.more) this.read();
    return this.rows[this.at];
  }

  take(): MessageRow {
    return this.rows[this.at++]!;
  }

  private read(): void {
    this.rows = (this.statement.all(this.queue, this.before, this.size) as unknown[][]).map(messageRowFrom);
    this.at = 0;
    this.more = this.rows.length === this.size;
    if (this.rows.length > 0) this.before = this.rows.at(-1)!.seq;
    this.size = Math.min(this.size * 2, 1_024);
  }
}

/** The page being built: rows offered newest first, and where it ends. */
class PageBuilder {
  private readonly messages: StoredMessage[] = [];
  private skipped = 0;
  private bytes = 0;
  private cursor: number | undefined;

  constructor(
    private readonly limit: number,
    private readonly present: (row: MessageRow) => StoredMessage,
  ) {}

  /** Take the next row down; false once the page is complete. */
  offer(row: MessageRow, matches: boolean): boolean {
    if (!matches) {
      this.skipped += 1;
      if (this.skipped < MAX_SKIPPED) return true;
      this.cursor = row.seq; // every row from here up was looked at
      return false;
    }
    if (this.messages.length === this.limit || this.bytes >= MAX_PAGE_BYTES) {
      this.cursor = Number(this.messages.at(-1)!.id); // one more matches: the next page starts after the last shown
      return false;
    }
    const message = this.present(row);
    this.messages.push(message);
    this.bytes += message.body.length;
    return true;
  }

  result(): MessagePage {
    return this.cursor === undefined ? { messages: this.messages } : { messages: this.messages, nextCursor: String(this.cursor) };
  }
}
