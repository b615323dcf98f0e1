import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import type { AckResult, ClaimRequest, Store, WakeReport } from '../store.js';
import type {
  ApiKeyRecord,
  AppendResult,
  AttemptRecord,
  DeliveryOutcome,
  DomainBacklog,
  DomainLimitRecord,
  FileSettingRecord,
  LaneRef,
  LeasedMessage,
  ListMessagesFilter,
  MessagePage,
  MessageState,
  NewMessage,
  QueueCounts,
  QueueDeletion,
  QueueRecord,
  ResealedSecret,
  ScheduleMark,
  ScheduleRecord,
  SecretRecord,
  SourceRecord,
  StoredMessage,
  TemplateRecord,
  TenantRecord,
  ListRunsFilter,
  NewRun,
  RunChange,
  RunPage,
  RunStart,
  RunStep,
  RunWithSteps,
  WorkflowRecord,
} from '../types.js';
import { DEFAULT_MAX_RECEIVES, DEFAULT_PRIORITY, laneKey, queueNameTaken, sourceNameTaken, stepOrigin, storedSize } from '../types.js';
import { SqliteCatalog } from './catalog.js';
import { SqliteWorkflowRuns } from './workflow-runs.js';
import { SqliteTenantRows } from './tenant-rows.js';
import { Checkpointer } from './checkpointer.js';
import { openDatabase, type Durability } from './database.js';
import { MessageListing } from './message-listing.js';
import { WalSync } from './wal-sync.js';
import { PullLeases, scanKey, type PullLease } from './pull-leases.js';
import { QueueCountsLedger } from './queue-counts.js';
import { messageRowFrom, parseId, parseReceipt, toAttempt, toStoredMessage, type AttemptRow, type MessageRow } from './rows.js';
import { prepareStatements, type Statements } from './statements.js';

/** States that retention may delete. */
const FINISHED = new Set<MessageState>(['delivered', 'acked', 'cancelled']);
type Payload = { headers: string; body: Buffer };

/** A state row completed with its payload (none found: no headers, an empty body). */
function withPayload(row: MessageRow, payload: Payload | undefined): MessageRow {
  row.headers = payload?.headers ?? '[]';
  row.body = payload?.body ?? Buffer.alloc(0);
  return row;
}

/** How many messages of `messages` share the payload of the lead at `lead`: itself and its followers. */
function sharers(messages: NewMessage[], lead: number): number {
  let count = 1;
  for (let index = lead + 1; index < messages.length; index += 1) {
    const payload = messages[index]!.payload;
    if (typeof payload !== 'object' || index - payload.follows !== lead) break;
    count += 1;
  }
  return count;
}

function inSeqOrder(rows: MessageRow[]): boolean {
  for (let index = 1; index < rows.length; index += 1) if (rows[index]!.seq < rows[index - 1]!.seq) return false;
  return true;
}

/** Ready messages in the order they go out: highest priority first, then by arrival. */
function byUrgency(a: MessageRow, b: MessageRow): number {
  return b.priority - a.priority || a.seq - b.seq;
}

/** Most payload bytes a queue's read-ahead may hold, and most queues read ahead at once (see SqliteStore.readAheadFor). */
const READ_AHEAD_MAX_BYTES = 2 * 1024 * 1024;
const READ_AHEAD_QUEUES = 16;
/**
 * How long answered acks wait before they are written. A consumer pulling in a loop sends its next
 * pull right after the ack's answer; written at once, the acks would hold up that pull. A moment
 * later they are written while the consumer works on the batch it got.
 */
const ACK_WRITE_DELAY_MS = 1;

/** Most rows one wake() pass moves; it loops until done. */
const WAKE_CHUNK = 5_000;

/**
 * The embedded store: one SQLite file in WAL mode, one connection, prepared statements, and one
 * transaction per batch. better-sqlite3 is synchronous, so every method finishes its work before it
 * returns; the Promise wrapper only keeps the Store contract uniform with networked backends.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly sql: Statements;
  private readonly counts: QueueCountsLedger;
  private readonly catalog: SqliteCatalog;
  private readonly runs: SqliteWorkflowRuns;
  private readonly templates: SqliteTenantRows;
  private readonly workflows: SqliteTenantRows;
  private readonly listing: MessageListing;
  private readonly leases = new PullLeases();
  /** Acks answered but not written yet (see ack). */
  private unwrittenAcks: { queue: string; leases: PullLease[]; closedTokens: string[]; now: number }[] = [];
  private readonly acking = new Set<number>();
  /** The batch a queue's next pull would get, read while the consumer works on the last one. */
  private readonly readAhead = new Map<string, { from: number; rows: MessageRow[]; next: number }>();
  /**
   * Per pull queue: the priorities other than the default that may have ready, unleased rows. A queue
   * not in it is read as one scan (the default priority), as before priorities existed.
   */
  private readonly urgencies = new Map<string, Set<number>>();
  /** fsync durability: acknowledged writes wait for an fsync of the WAL, off the event loop. */
  private readonly walSync: WalSync | undefined;
  /** Copies the WAL into the database file on its own thread (none in memory). */
  private readonly checkpointer: Checkpointer | undefined;
  /** Where the retention sweep goes on from. */
  private purgeCursor = 0;
  /** The highest message id issued; ids are never reused, even after retention deleted the newest (see migration 4). */
  private lastId: number;

  constructor(path: string, durability: Durability = 'fsync') {
    this.db = openDatabase(path);
    this.sql = prepareStatements(this.db);
    this.counts = new QueueCountsLedger(this.db);
    this.catalog = new SqliteCatalog(this.db);
    this.runs = new SqliteWorkflowRuns(this.db);
    this.templates = new SqliteTenantRows(this.db, 'templates');
    this.workflows = new SqliteTenantRows(this.db, 'workflows');
    this.lastId = (this.sql.highestId.get() as { high: number }).high;
    this.listing = new MessageListing({
      sql: this.sql,
      leases: this.leases,
      queuesWith: (state) => this.queuesWith(state),
      present: (row) => this.present(toStoredMessage(this.withPayload(row))),
      isHeld: (seq) => this.leases.isLeased(seq) || this.acking.has(seq),
    });
    const onDisk = path !== ':memory:';
    this.walSync = onDisk && durability === 'fsync' ? new WalSync(`${path}-wal`) : undefined;
    this.checkpointer = onDisk ? new Checkpointer(path, this.db) : undefined;
    this.restoreLeases();
  }

  /** Resolves once every commit made so far is on disk (a no-op with `durability: os`). */
  private async durable(): Promise<void> {
    await this.walSync?.sync();
  }

  /**
   * Run `work` in one transaction and keep the depth ledger in step with it. The commit does not
   * wait for the disk; callers whose answer promises durability await `durable()` afterwards.
   *
   * Which writes wait for the disk: accepting a message (the one promise made to a sender), and
   * changes a user makes through the API (cancel, replay, definitions). Leases, acks, claims,
   * delivery outcomes and wake-ups do not: losing one on a power cut only means a redelivery, which
   * at-least-once allows, and a crash of the process loses none of them (the WAL is in the OS page
   * cache). Measured: pull+ack and push throughput were bound by an fsync per batch on the event loop
   * before this split (docs/BENCHMARKS.md).
   */
  private write<T>(work: () => T): T {
    this.writeAcks();
    return this.transact(work);
  }

  /** `write` without writing pending acks first: for writes that touch no message row (a lease record). */
  private transact<T>(work: () => T): T {
    try {
      const result = this.db.transaction(() => {
        const value = work();
        this.counts.writePending();
        return value;
      })();
      this.counts.applyPending();
      return result;
    } catch (error) {
      this.counts.discardPending();
      throw error;
    }
  }

  // ── messages in ─────────────────────────────────────────────

  async appendMessages(messages: NewMessage[], now: number): Promise<AppendResult[]> {
    const results = this.write(() => this.appendAll(messages, now));
    await this.durable();
    return results;
  }

  /** Inside a transaction: append messages, and raise the stored high-water mark of ids once for all of them. */
  private appendAll(messages: NewMessage[], now: number): AppendResult[] {
    const results: AppendResult[] = [];
    let shared = { seq: 0, bytes: 0 }; // the payload of the routed request being appended
    for (const [index, message] of messages.entries()) {
      if (message.payload === undefined) results.push(this.appendOne(message, now));
      else if (message.payload === 'lead') {
        const result = this.appendOne(message, now, undefined, sharers(messages, index));
        results.push(result);
        shared = { seq: result.duplicate ? 0 : Number(result.id), bytes: storedSize(message) };
      } else {
        const at = results.length - message.payload.follows;
        const lead = results[at]!;
        results.push(lead.duplicate ? lead : this.appendOne(message, now, shared, undefined, messages[at]!));
      }
    }
    this.sql.raiseHighestId.run(this.lastId, this.lastId);
    return results;
  }

  /**
   * Append one message with its payload, or (`shared`) one that names the payload of the routed
   * request it belongs to, taking from its `lead` every field a follower does not have of its own
   * (NewMessage.payload). A routed request's lead names its own payload, shared by `refs` messages.
   */
  private appendOne(message: NewMessage, now: number, shared?: { seq: number; bytes: number }, refs?: number, lead = message): AppendResult {
    if (message.dedupe && !shared) {
      const first = this.sql.findDedupe.get(message.dedupe.scope, message.dedupe.key, now) as
        | { message_seq: number; deliver_at: number | null }
        | undefined;
      if (first) return { id: String(first.message_seq), duplicate: true, deliverAt: first.deliver_at ?? message.deliverAt };
    }
    const state: MessageState = lead.deliverAt > now ? 'scheduled' : 'ready';
    // An id given up by a rolled-back commit is skipped, never issued twice.
    const seq = ++this.lastId;
    const payloadSeq = shared ? shared.seq : message.payload === 'lead' ? seq : null;
    this.sql.insertMessage.run(
      seq,
      message.queue,
      message.tenant,
      state,
      lead.method,
      lead.path,
      lead.query,
      message.url ?? null,
      message.domain,
      lead.receivedAt,
      lead.deliverAt,
      now,
      lead.origin,
      lead.retry ?? null,
      payloadSeq,
      message.priority ?? DEFAULT_PRIORITY,
    );
    if (message.domain === '' && state === 'ready') this.becameReady(message.queue, seq, message.priority ?? DEFAULT_PRIORITY); // ids only grow (migration 4): a safeguard, it rarely moves the scan start
    if (shared) this.counts.addBytes(message.queue, shared.bytes); // each routed message counts the payload it names
    else {
      const headers = JSON.stringify(message.headers);
      if (refs === undefined) this.sql.insertPayload.run(seq, headers, message.body);
      else this.sql.insertSharedPayload.run(seq, headers, message.body, refs);
      this.counts.addBytes(message.queue, message.body.byteLength + Buffer.byteLength(headers)); // storedSize
    }
    if (message.dedupe) this.sql.upsertDedupe.run(message.dedupe.scope, message.dedupe.key, seq, message.dedupe.expiresAt);
    this.counts.move(message.queue, undefined, state, 1, message.domain);
    return { id: String(seq), duplicate: false, deliverAt: lead.deliverAt };
  }

  // ── pull ────────────────────────────────────────────────────

  async leaseBatch(queue: string, max: number, visibilityMs: number, now: number): Promise<LeasedMessage[]> {
    // Pending acks are not written first: their rows are skipped while they wait (acking), and a
    // consumer pulling in a loop would wait for the write of its last acks.
    const token = randomBytes(8).toString('hex');
    const until = now + visibilityMs;
    const ahead = this.takeReadAhead(queue, max);
    const { rows, next } = ahead ?? this.readUnleased(queue, max);
    if (rows.length === 0) return [];
    try {
      this.transact(() => this.sql.insertPullLease.run(token, queue, until, JSON.stringify(rows.map((row) => row.seq))));
    } catch (error) {
      for (const row of rows) this.becameReady(queue, row.seq, row.priority); // those taken from the returned ones go back
      throw error;
    }
    for (const [key, at] of next) this.leases.scanned(key, at);
    for (const row of rows) this.leases.add({ seq: row.seq, queue, tenant: row.tenant, token, until, attempts: row.attempts + 1, priority: row.priority });
    const leased = (ahead ? rows : this.withPayloads(rows)).map((row) => ({ ...this.present(toStoredMessage(row)), receipt: `${row.seq}.${token}` }));
    setImmediate(() => this.readAheadFor(queue, max));
    return leased;
  }

  /**
   * Read the queue's next batch, payloads included, now, while the consumer works on the last one:
   * a consumer pulling in a loop then waits for a lease, not for the reads. Nothing is leased; the
   * next pull takes it unless a message it would have read became ready meanwhile (becameReady) or
   * one of it was cancelled.
   */
  private readAheadFor(queue: string, max: number): void {
    // Only for a queue of one priority: a more urgent message arriving would not be seen by it.
    if (!this.db.open || this.readAhead.has(queue) || this.urgencies.has(queue) || this.oldestReturned(queue)) return;
    const from = this.leases.scanFrom(queue);
    const { rows, next } = this.readUnleasedAt(queue, DEFAULT_PRIORITY, max);
    if (rows.length < max) return; // near the end of the queue: newer messages may still arrive
    const bytes = this.withPayloads(rows).reduce((total, row) => total + row.body.length, 0);
    if (bytes > READ_AHEAD_MAX_BYTES) return;
    this.readAhead.set(queue, { from, rows, next });
    if (this.readAhead.size > READ_AHEAD_QUEUES) this.readAhead.delete(this.readAhead.keys().next().value!);
  }

  /**
   * A pull message's row is ready and unleased again, or for the first time (nack, expiry, a due
   * scheduled message, a replay): leasing must see it, in seq order, so the scan start moves back to
   * it and a read-ahead that passed over it is dropped.
   */
  private becameReady(queue: string, seq: number, priority: number): void {
    this.leases.rewind(scanKey(queue, priority), seq);
    if (priority !== DEFAULT_PRIORITY) {
      let urgencies = this.urgencies.get(queue);
      if (!urgencies) this.urgencies.set(queue, (urgencies = new Set()));
      urgencies.add(priority);
      this.readAhead.delete(queue);
    } else if (seq < (this.readAhead.get(queue)?.next ?? 0)) this.readAhead.delete(queue);
  }

  /** The read-ahead of `queue` (payloads included) if it is still what a read now would give. */
  private takeReadAhead(queue: string, max: number): { rows: MessageRow[]; next: [string, number][] } | undefined {
    const ahead = this.readAhead.get(queue);
    this.readAhead.delete(queue);
    if (!ahead || ahead.from !== this.leases.scanFrom(queue) || ahead.rows.length < max || this.urgencies.has(queue)) return undefined;
    return { rows: ahead.rows, next: [[queue, ahead.next]] };
  }

  /**
   * Up to `max` ready rows of `queue` that are not leased: highest priority first, and within each
   * priority oldest first (readUnleasedAt). `next` holds where each priority's scan start moves
   * once these are leased.
   */
  private readUnleased(queue: string, max: number): { rows: MessageRow[]; next: [string, number][] } {
    const urgencies = this.urgencies.get(queue);
    if (!urgencies) {
      const { rows, next } = this.readUnleasedAt(queue, DEFAULT_PRIORITY, max);
      return { rows, next: [[queue, next]] };
    }
    const rows: MessageRow[] = [];
    const next: [string, number][] = [];
    for (const priority of this.readyPriorities(queue)) {
      if (rows.length === max) break;
      const read = this.readUnleasedAt(queue, priority, max - rows.length);
      rows.push(...read.rows);
      next.push([scanKey(queue, priority), read.next]);
      // Nothing more of this priority is ready and unleased: its rows come back through becameReady.
      if (priority !== DEFAULT_PRIORITY && read.drained) urgencies.delete(priority);
    }
    if (urgencies.size === 0) this.urgencies.delete(queue);
    return { rows, next };
  }

  /**
   * Up to `max` ready rows of one priority of `queue` that are not leased, oldest first: the rows
   * returned below the scan start, then rows from it on. `next` is where the scan start moves once
   * these are leased: past the last row read, or, once the read found fewer than it asked for, past
   * every id issued so far (the rows passed over there are of other priorities, or leased). It reads
   * the rows it gives, plus returned entries gone stale, and never passes over leased rows (see
   * PullLeases): a pull of 1 behind 20,000 open leases reads one row. `drained`: nothing more of this
   * priority is ready and unleased.
   */
  private readUnleasedAt(queue: string, priority: number, max: number): { rows: MessageRow[]; next: number; drained: boolean } {
    const key = scanKey(queue, priority);
    const rows = this.takeReturnedRows(key, queue, max);
    const from = this.leases.scanFrom(key);
    if (rows.length === max) return { rows, next: from, drained: false };
    const wanted = max - rows.length;
    const found = this.readyRows(queue, priority, from, wanted);
    // Rows from the scan start on are never leased (PullLeases); checked all the same, as handing
    // one message to two consumers would be the worse failure.
    for (const row of found) if (!this.leases.isLeased(row.seq) && !this.acking.has(row.seq)) rows.push(row);
    const drained = found.length < wanted;
    return { rows, next: drained ? Math.max(from, this.lastId + 1) : found.at(-1)!.seq + 1, drained: drained && this.leases.peekReturned(key) === undefined };
  }

  /** The priorities of `queue` that may have ready, unleased rows, most urgent first (the default always). */
  private readyPriorities(queue: string): number[] {
    return [DEFAULT_PRIORITY, ...(this.urgencies.get(queue) ?? [])].sort((a, b) => b - a);
  }

  /** Up to `max` ready rows of one priority of `queue` from seq `from` on, in seq order (leased ones included). */
  private readyRows(queue: string, priority: number, from: number, max: number): MessageRow[] {
    const values = priority === DEFAULT_PRIORITY ? this.sql.readyFrom.all(queue, from, max) : this.sql.readyFromPriority.all(queue, priority, from, max);
    return (values as unknown[][]).map(messageRowFrom);
  }

  /** Up to `max` rows noted as returned under `key` (a priority of `queue`), oldest first, each still ready and unleased; taken off the note. */
  private takeReturnedRows(key: string, queue: string, max: number): MessageRow[] {
    const rows: MessageRow[] = [];
    let last = 0;
    while (rows.length < max) {
      const seq = this.leases.takeReturned(key);
      if (seq === undefined) break;
      if (seq === last) continue; // noted twice
      last = seq;
      const row = this.unleasedRow(queue, seq);
      if (row) rows.push(row);
    }
    return rows;
  }

  /** The oldest row noted as returned under `key` (default: the queue's default priority) that is still ready and unleased; stale entries before it go. */
  private oldestReturned(queue: string, key = queue): MessageRow | undefined {
    for (let seq = this.leases.peekReturned(key); seq !== undefined; seq = this.leases.peekReturned(key)) {
      const row = this.unleasedRow(queue, seq);
      if (row) return row;
      this.leases.takeReturned(key);
    }
    return undefined;
  }

  /** The oldest ready row of `queue` that is not leased, whatever its priority (for the oldest-ready age). */
  private oldestReady(queue: string): MessageRow | undefined {
    let oldest: MessageRow | undefined;
    for (const priority of this.readyPriorities(queue)) {
      const key = scanKey(queue, priority);
      for (const row of [this.oldestReturned(queue, key), this.readyRows(queue, priority, this.leases.scanFrom(key), 1)[0]]) {
        if (row && (!oldest || row.seq < oldest.seq)) oldest = row;
      }
    }
    return oldest;
  }

  /** The row at `seq` if it is a ready row of `queue` that nobody holds. */
  private unleasedRow(queue: string, seq: number): MessageRow | undefined {
    if (this.leases.isLeased(seq) || this.acking.has(seq)) return undefined;
    const values = this.sql.readyRow.get(seq, queue) as unknown[] | undefined;
    return values && messageRowFrom(values);
  }

  /**
   * Acks are answered at once and written ACK_WRITE_DELAY_MS later, or by the next transaction that
   * touches messages, whichever comes first: a consumer that pulls in a loop does not wait for the
   * write, and its next lease does not either (leasing skips rows whose acks wait). At-least-once holds:
   * an ack lost to a crash (or to a failed write, which opens the leases again) means the message
   * goes out again once its lease runs out. Reads write pending acks first, so they never see one
   * half done.
   */
  async ack(queue: string, receipts: string[], now: number): Promise<AckResult> {
    const { held, stale } = this.holdings(queue, receipts);
    if (held.length === 0) return { acked: 0, stale };
    const closedTokens = this.leases.closedTokens(held);
    for (const lease of held) {
      this.leases.end(lease);
      this.acking.add(lease.seq);
    }
    if (this.unwrittenAcks.length === 0) setTimeout(() => this.writeAcks(), ACK_WRITE_DELAY_MS);
    this.unwrittenAcks.push({ queue, leases: held, closedTokens, now });
    return { acked: held.length, stale };
  }

  private writeAcks(): void {
    if (this.unwrittenAcks.length === 0 || !this.db.open) return;
    const batch = this.unwrittenAcks;
    this.unwrittenAcks = [];
    try {
      this.db.transaction(() => {
        for (const { queue, leases, closedTokens, now } of batch) {
          this.sql.ackLeases.run(now, JSON.stringify(leases.map((lease) => [lease.seq, lease.attempts])));
          this.counts.move(queue, 'ready', 'acked', leases.length);
          for (const token of closedTokens) this.sql.deletePullLease.run(token);
        }
        this.counts.writePending();
      })();
      this.counts.applyPending();
    } catch {
      this.counts.discardPending();
      for (const { leases } of batch) for (const lease of leases) this.leases.add(lease);
    } finally {
      for (const { leases } of batch) for (const lease of leases) this.acking.delete(lease.seq);
    }
  }

  async nack(queue: string, receipts: string[], delayMs: number, now: number, maxReceives: number) {
    const { held, stale } = this.holdings(queue, receipts);
    const dead: string[] = [];
    this.endLeases(held, (lease) => {
      if (this.returnLease(lease, maxReceives, delayMs, now) === 'dead') dead.push(String(lease.seq));
    });
    return { requeued: held.length - dead.length, dead, stale };
  }

  /** The row was never touched by the lease (it is written when a lease ends), so ending it is all. */
  async returnUnsent(queue: string, receipts: string[]): Promise<number> {
    const { held } = this.holdings(queue, receipts);
    this.endLeases(held, (lease) => this.becameReady(lease.queue, lease.seq, lease.priority));
    return held.length;
  }

  /**
   * Inside a transaction: a lease ended without an ack. Its message goes to dead once received
   * `maxReceives` times, else back to ready, or to scheduled when `delayMs` asks for a pause.
   */
  private returnLease(lease: PullLease, maxReceives: number, delayMs: number, now: number): MessageState {
    if (lease.attempts >= maxReceives) {
      this.sql.settleLease.run('dead', null, lease.attempts, 'receives exhausted', now, lease.seq);
      this.counts.move(lease.queue, 'ready', 'dead');
      return 'dead';
    }
    if (delayMs > 0) {
      this.sql.settleLease.run('scheduled', now + delayMs, lease.attempts, null, now, lease.seq);
      this.counts.move(lease.queue, 'ready', 'scheduled');
      return 'scheduled';
    }
    this.sql.settleLease.run('ready', null, lease.attempts, null, now, lease.seq);
    this.becameReady(lease.queue, lease.seq, lease.priority);
    return 'ready';
  }

  async extend(queue: string, receipts: string[], visibilityMs: number, now: number) {
    const { held, stale } = this.holdings(queue, receipts);
    const until = now + visibilityMs;
    const byToken = new Map<string, number[]>();
    for (const lease of held) byToken.set(lease.token, [...(byToken.get(lease.token) ?? []), lease.seq]);
    this.write(() => {
      for (const [token, seqs] of byToken) this.sql.insertPullLease.run(token, queue, until, JSON.stringify(seqs));
    });
    for (const lease of held) this.leases.extend(lease, until);
    return { extended: held.length, stale };
  }

  /** The open leases that receipts name (each once), and the receipts that hold none. */
  private holdings(queue: string, receipts: string[]): { held: PullLease[]; stale: string[] } {
    const held = new Set<PullLease>();
    const stale: string[] = [];
    for (const receipt of receipts) {
      const parsed = parseReceipt(receipt);
      const lease = parsed && this.leases.holding(queue, parsed.seq, parsed.token);
      if (lease && !held.has(lease)) held.add(lease);
      else stale.push(String(receipt));
    }
    return { held: [...held], stale };
  }

  /**
   * End leases in one transaction: `settle` writes each message's new state, and the stored lease
   * rows of tokens with nothing left open go. Memory follows only once the commit succeeded.
   */
  private endLeases(leases: PullLease[], settle: (lease: PullLease) => void): void {
    if (leases.length === 0) return;
    this.write(() => this.settleLeases(leases, settle));
    for (const lease of leases) this.leases.end(lease);
  }

  /**
   * Inside a transaction: `settle` each lease's message; tokens left with no open lease lose their
   * stored rows. A token with leases still open keeps them, rewritten without the ended ones: its
   * rows named those too, and a restart restored a nacked message as leased until the old deadline.
   */
  private settleLeases(leases: PullLease[], settle: (lease: PullLease) => void): void {
    for (const lease of leases) settle(lease);
    const closed = new Set(this.leases.closedTokens(leases));
    const ending = new Set(leases);
    for (const token of new Set(leases.map((lease) => lease.token))) {
      this.sql.deletePullLease.run(token);
      if (closed.has(token)) continue;
      const byUntil = new Map<number, PullLease[]>();
      for (const lease of this.leases.openUnder(token)) if (!ending.has(lease)) byUntil.set(lease.until, [...(byUntil.get(lease.until) ?? []), lease]);
      for (const [until, open] of byUntil) this.sql.insertPullLease.run(token, open[0]!.queue, until, JSON.stringify(open.map((lease) => lease.seq)));
    }
  }

  /** A message as callers see it: a row that is ready in the database but leased in memory is leased. */
  private present<T extends StoredMessage>(message: T): T {
    const lease = this.leases.get(Number(message.id));
    if (!lease || message.state !== 'ready') return message;
    return { ...message, state: 'leased', attempts: lease.attempts, leaseUntil: lease.until };
  }

  /** At open: the leases stored before a restart are open again, with their deadlines. */
  private restoreLeases(): void {
    for (const { queue, priority } of this.sql.readyPriorities.all() as { queue: string; priority: number }[]) {
      let urgencies = this.urgencies.get(queue);
      if (!urgencies) this.urgencies.set(queue, (urgencies = new Set()));
      urgencies.add(priority);
    }
    type Stored = { token: string; queue: string; until: number; seqs: string };
    const stored = this.sql.allPullLeases.all() as Stored[];
    const found = new Map<number, PullLease>();
    for (const row of stored) {
      for (const seq of JSON.parse(row.seqs) as number[]) {
        const previous = found.get(seq);
        if (previous?.token === row.token) previous.until = Math.max(previous.until, row.until);
        else if (!previous) {
          const ready = this.sql.readyState.get(seq, row.queue) as { attempts: number; tenant: string; priority: number } | undefined;
          if (ready) {
            found.set(seq, { seq, queue: row.queue, tenant: ready.tenant, token: row.token, until: row.until, attempts: ready.attempts + 1, priority: ready.priority });
          }
        }
      }
    }
    for (const lease of found.values()) this.leases.add(lease);
    this.placeScanStarts(found.values());
    const open = new Set([...found.values()].map((lease) => lease.token));
    const closed = new Set(stored.map((row) => row.token).filter((token) => !open.has(token)));
    if (closed.size > 0) this.write(() => closed.forEach((token) => this.sql.deletePullLease.run(token)));
  }

  /**
   * After restoring leases: each queue's scan start goes past its last leased row, and the unleased
   * ready rows below it are noted as returned, so that no read passes over a leased row (PullLeases).
   * One walk of the ready index at open, where a read at every pull would otherwise do it.
   */
  private placeScanStarts(leases: Iterable<PullLease>): void {
    const last = new Map<string, number>();
    for (const lease of leases) last.set(lease.queue, Math.max(last.get(lease.queue) ?? 0, lease.seq));
    for (const [queue, seq] of last) {
      for (const priority of this.readyPriorities(queue)) this.leases.scanned(scanKey(queue, priority), seq + 1);
      for (const ready of this.sql.readySeqsBelow.iterate(queue, seq + 1) as Iterable<{ seq: number; priority: number }>) {
        if (!this.leases.isLeased(ready.seq)) this.leases.rewind(scanKey(queue, ready.priority), ready.seq);
      }
    }
  }

  // ── time ────────────────────────────────────────────────────

  async wake(now: number, maxReceives: ReadonlyMap<string, number>, pushLeadMs = 0): Promise<WakeReport> {
    const report: WakeReport = { queues: new Set(), lanes: [], dead: [] };
    const laneKeys = new Set<string>();
    const noteReady = (queue: string, domain: string) => {
      report.queues.add(queue);
      const key = laneKey(queue, domain);
      if (domain !== '' && !laneKeys.has(key)) {
        laneKeys.add(key);
        report.lanes.push({ queue, domain });
      }
    };
    let more = true;
    while (more) {
      const leases = this.leases.expired(now, WAKE_CHUNK);
      try {
        more = this.write(() => {
          const push = this.promoteDue(this.sql.promotePushDue, now, now + pushLeadMs, noteReady);
          const pull = this.promoteDue(this.sql.promotePullDue, now, now, noteReady);
          const expired = this.expireLeases(now, maxReceives, noteReady, report);
          this.expirePullLeases(leases, now, maxReceives, noteReady, report);
          return push === WAKE_CHUNK || pull === WAKE_CHUNK || expired === WAKE_CHUNK || leases.length === WAKE_CHUNK;
        });
      } catch (error) {
        for (const lease of leases) this.leases.extend(lease, lease.until); // still open: keep it due
        throw error;
      }
      for (const lease of leases) this.leases.end(lease);
    }
    return report;
  }

  /** Pull leases that ran out: the message is ready again, or dead once received maxReceives times. */
  private expirePullLeases(
    leases: PullLease[],
    now: number,
    maxReceives: ReadonlyMap<string, number>,
    noteReady: (queue: string, domain: string) => void,
    report: WakeReport,
  ): void {
    this.settleLeases(leases, (lease) => {
      if (this.returnLease(lease, maxReceives.get(lease.queue) ?? DEFAULT_MAX_RECEIVES, 0, now) === 'dead') {
        report.dead.push({ id: String(lease.seq), queue: lease.queue });
      } else noteReady(lease.queue, '');
    });
  }

  private promoteDue(statement: Database.Statement, now: number, dueBy: number, noteReady: (queue: string, domain: string) => void): number {
    const rows = statement.all(now, dueBy, WAKE_CHUNK) as { seq: number; queue: string; domain: string; priority: number }[];
    for (const row of rows) {
      if (row.domain === '') this.becameReady(row.queue, row.seq, row.priority);
      this.counts.move(row.queue, 'scheduled', 'ready', 1, row.domain);
      noteReady(row.queue, row.domain);
    }
    return rows.length;
  }

  private expireLeases(
    now: number,
    maxReceives: ReadonlyMap<string, number>,
    noteReady: (queue: string, domain: string) => void,
    report: WakeReport,
  ): number {
    type Expired = { seq: number; queue: string; domain: string; state: 'leased' | 'inflight'; attempts: number; priority: number };
    const rows = this.sql.expiredLeases.all(now, WAKE_CHUNK) as Expired[];
    for (const row of rows) {
      if (row.state === 'leased' && row.attempts >= (maxReceives.get(row.queue) ?? DEFAULT_MAX_RECEIVES)) {
        this.sql.toDead.run('receives exhausted', now, row.seq);
        this.counts.move(row.queue, 'leased', 'dead');
        report.dead.push({ id: String(row.seq), queue: row.queue });
        continue;
      }
      this.sql.release.run(now, row.seq);
      this.counts.move(row.queue, row.state, 'ready', 1, row.domain);
      if (row.state === 'leased') this.becameReady(row.queue, row.seq, row.priority); // a pull lease stored by an earlier version
      noteReady(row.queue, row.domain);
    }
    return rows.length;
  }

  async nextWakeAt(pushLeadMs = 0): Promise<number | undefined> {
    const push = (this.sql.nextScheduledPush.get() as { at: number | null }).at;
    const pull = (this.sql.nextScheduledPull.get() as { at: number | null }).at;
    const lease = (this.sql.nextLeaseExpiry.get() as { at: number | null }).at;
    const pullLease = this.leases.nextExpiry() ?? null;
    const candidates = [push === null ? null : push - pushLeadMs, pull, lease, pullLease].filter((at): at is number => at !== null);
    return candidates.length > 0 ? Math.min(...candidates) : undefined;
  }

  // ── push ────────────────────────────────────────────────────

  async readyLanes(queues: string[]): Promise<LaneRef[]> {
    const wanted = new Set(queues);
    const lanes: LaneRef[] = [];
    // Skip-scan: one index seek per lane, not one row visit per ready message.
    let row = this.sql.firstLane.get() as LaneRef | undefined;
    while (row) {
      if (wanted.has(row.queue)) lanes.push(row);
      row = this.sql.nextLane.get(row.queue, row.domain) as LaneRef | undefined;
    }
    return lanes;
  }

  /**
   * The heads of many lanes at once: one statement takes the first message of every lane, then only
   * lanes whose domain still has ready messages get a statement of their own for the rest.
   */
  /** One node holds every claim of this database: a strict lane needs no owner beyond the dispatcher. */
  async claimLanes(requests: ClaimRequest[], leaseUntil: number, now: number): Promise<StoredMessage[][]> {
    const claimed = this.write(() => {
      const byLane = new Map<string, MessageRow[]>(requests.map(({ lane }) => [laneKey(lane.queue, lane.domain), []]));
      const wanted = requests.filter(({ max }) => max > 0).map(({ lane }) => [lane.queue, lane.domain]);
      const heads = wanted.length > 0 ? (this.sql.claimHeads.all(leaseUntil, now, JSON.stringify(wanted)) as MessageRow[]) : [];
      for (const row of heads) {
        byLane.get(laneKey(row.queue, row.domain))?.push(row);
        this.counts.move(row.queue, 'ready', 'inflight', 1, row.domain);
      }
      for (const { lane, max } of requests) {
        const rows = byLane.get(laneKey(lane.queue, lane.domain))!;
        if (rows.length === 0 || max <= 1 || this.counts.readyFor(lane.domain) === 0) continue;
        const rest = this.sql.claimLane.all(leaseUntil, now, lane.queue, lane.domain, max - 1) as MessageRow[];
        this.counts.move(lane.queue, 'ready', 'inflight', rest.length, lane.domain);
        rows.push(...rest);
      }
      return requests.map(({ lane }) => byLane.get(laneKey(lane.queue, lane.domain))!);
    });
    return claimed.map((rows) => this.withPayloads(rows.sort((a, b) => a.seq - b.seq)).sort(byUrgency).map(toStoredMessage));
  }

  /**
   * After a message row was deleted: delete its payload, or, when routed messages share it, only once
   * the last of them is gone. Returns the bytes the message counted (storedSize).
   */
  private dropPayload(row: { seq: number; payload_seq: number | null }): number {
    if (row.payload_seq === null) return (this.sql.deletePayload.get(row.seq) as number | undefined) ?? 0;
    const left = this.sql.releaseSharedPayload.get(row.payload_seq) as { refs: number; bytes: number } | undefined;
    if (left && left.refs <= 0) this.sql.deletePayload.get(row.payload_seq);
    return left?.bytes ?? 0;
  }

  /** A state row returned by an UPDATE, completed with its payload (read by primary key). */
  private withPayload(row: MessageRow): MessageRow {
    return withPayload(row, this.sql.payloadOf.get(row.payload_seq ?? row.seq) as Payload | undefined);
  }

  /**
   * Rows sorted by seq, completed with their payloads. A FIFO batch is usually a dense run of seqs:
   * then one range scan reads the payload pages in order, which measured about twice as fast as a
   * point read per row; a sparse batch (lanes interleaved with others) keeps the point reads.
   */
  private withPayloads(rows: MessageRow[]): MessageRow[] {
    if (rows.length < 2 || !inSeqOrder(rows)) return rows.map((row) => this.withPayload(row)); // several priorities: not in seq order
    const first = rows[0]!.seq;
    const last = rows[rows.length - 1]!.seq;
    if (last - first + 1 > rows.length * 2 + 16) return rows.map((row) => this.withPayload(row));
    const payloads = this.sql.payloadRange.all(first, last) as [seq: number, headers: string, body: Buffer][];
    let at = 0;
    for (const row of rows) {
      if (row.payload_seq !== null) {
        this.withPayload(row); // a routed message: its payload is another's
        continue;
      }
      while (at < payloads.length && payloads[at]![0] < row.seq) at += 1;
      const found = payloads[at];
      withPayload(row, found?.[0] === row.seq ? { headers: found[1], body: found[2] } : undefined);
    }
    return rows;
  }

  async completeDeliveries(outcomes: DeliveryOutcome[], now: number): Promise<string[]> {
    return this.write(() => {
      const moved: string[] = [];
      for (const outcome of outcomes) if (this.completeOne(outcome, now) && outcome.run && this.moveRun(outcome.run, now)) moved.push(outcome.run.runId);
      return moved;
    });
  }

  /** Inside a transaction: record one outcome; false when it no longer applied (the message is not in flight). */
  private completeOne(outcome: DeliveryOutcome, now: number): boolean {
    const seq = parseId(outcome.id);
    if (seq === undefined) return false;
    let row: { queue: string; domain: string } | undefined;
    let to: MessageState;
    switch (outcome.kind) {
      case 'delivered':
        to = 'delivered';
        row = this.sql.finishInflight.get('delivered', outcome.attempt.attempt, null, now, seq) as typeof row;
        break;
      case 'dead':
        to = 'dead';
        row = this.sql.finishInflight.get('dead', outcome.attempt?.attempt ?? null, outcome.reason, now, seq) as typeof row;
        break;
      case 'retry': {
        // Always through `scheduled`, even when already due: the due timer's wake-up then promotes it
        // and wakes its lane, which nothing else would do for a lane that went idle meanwhile.
        to = 'scheduled';
        const attempts = outcome.countsAsAttempt && outcome.attempt ? outcome.attempt.attempt : null;
        row = this.sql.retryInflight.get(to, outcome.deliverAt, attempts, outcome.attempt?.error ?? null, now, seq) as typeof row;
        break;
      }
      case 'hold':
        row = this.sql.holdInflight.get(outcome.attempt.attempt, outcome.leaseUntil, outcome.attempt.error ?? null, now, seq) as typeof row;
        to = 'inflight';
        break;
      case 'release':
        to = 'ready';
        row = this.sql.releaseInflight.get(now, seq) as typeof row;
        break;
    }
    if (!row) return false;
    this.counts.move(row.queue, 'inflight', to, 1, row.domain);
    if ('attempt' in outcome && outcome.attempt) this.insertAttempt(seq, outcome.attempt);
    return true;
  }

  private insertAttempt(seq: number, attempt: AttemptRecord): void {
    this.sql.insertAttempt.run(
      seq,
      attempt.attempt,
      attempt.startedAt,
      attempt.status ?? null,
      Math.round(attempt.latencyMs),
      attempt.error ?? null,
      attempt.response ?? null,
    );
  }

  async releaseClaims(now: number): Promise<number> {
    return this.write(() => {
      const rows = this.sql.releaseClaims.all(now) as { queue: string; domain: string }[];
      for (const row of rows) this.counts.move(row.queue, 'inflight', 'ready', 1, row.domain);
      return rows.length;
    });
  }

  // ── reading and managing messages ───────────────────────────

  async getMessage(id: string): Promise<StoredMessage | undefined> {
    this.writeAcks();
    const seq = parseId(id);
    const row = seq === undefined ? undefined : (this.sql.getMessage.get(seq) as MessageRow | undefined);
    return row && this.present(toStoredMessage(row));
  }

  async getAttempts(id: string): Promise<AttemptRecord[]> {
    const seq = parseId(id);
    if (seq === undefined) return [];
    return (this.sql.getAttempts.all(seq) as AttemptRow[]).map(toAttempt);
  }

  /** Queues with messages in `state` as callers see it: a queue whose ready rows are all leased has none ready. */
  private queuesWith(state: MessageState): string[] {
    const queues = this.counts.queuesWith(state);
    return state === 'ready' ? queues.filter((queue) => this.counts.get(queue).ready > this.leases.openIn(queue)) : queues;
  }

  async listMessages(filter: ListMessagesFilter): Promise<MessagePage> {
    this.writeAcks();
    return this.listing.list(filter);
  }

  async cancel(id: string, now: number, withdrawn = false): Promise<MessageState | undefined> {
    const seq = parseId(id);
    if (seq === undefined) return undefined;
    const state = this.write(() => this.cancelOne(seq, now, withdrawn));
    await this.durable();
    return state;
  }

  /** Inside a transaction: cancel one message if it is scheduled or ready (or in flight and withdrawn); its state after. */
  private cancelOne(seq: number, now: number, withdrawn: boolean): MessageState | undefined {
    const row = this.sql.getState.get(seq) as { queue: string; state: MessageState; domain: string } | undefined;
    if (!row) return undefined;
    if (row.state === 'ready' && this.leases.isLeased(seq)) return 'leased';
    const cancellable = row.state === 'scheduled' || row.state === 'ready' || (withdrawn && row.state === 'inflight');
    if (!cancellable) return row.state;
    this.sql.cancel.run(now, seq);
    this.counts.move(row.queue, row.state, 'cancelled', 1, row.domain);
    if (this.readAhead.get(row.queue)?.rows.some((ahead) => ahead.seq === seq)) this.readAhead.delete(row.queue);
    return 'cancelled';
  }

  async replayDead(queue: string, tenant: string, ids: string[] | undefined, now: number, limit?: number) {
    const result = this.write(() => {
      const seqs = ids?.map(parseId).filter((seq): seq is number => seq !== undefined);
      const rows = (
        seqs === undefined
          ? this.sql.replayAllDead.all(now, now, queue, tenant, limit ?? -1)
          : seqs.flatMap((seq) => this.sql.replayOneDead.all(now, now, queue, tenant, seq))
      ) as { seq: number; domain: string; priority: number }[];
      for (const row of rows) {
        this.counts.move(queue, 'dead', 'ready', 1, row.domain);
        if (row.domain === '') this.becameReady(queue, row.seq, row.priority);
      }
      const domains = new Set(rows.map((row) => row.domain).filter((domain) => domain !== ''));
      return { replayed: rows.map((row) => String(row.seq)), lanes: [...domains].map((domain) => ({ queue, domain })) };
    });
    await this.durable();
    return result;
  }

  /**
   * Retention as a sweep: each call looks at the next `limit` messages by seq and deletes the
   * finished ones last changed before `before`, wrapping around at the end. Slower to reach old rows
   * than an index on age would be, but that index would cost every ack and delivery a b-tree update.
   */
  async purge(before: number, now: number, limit: number): Promise<number> {
    return this.write(() => {
      type Row = { seq: number; queue: string; state: MessageState; updated_at: number; payload_seq: number | null };
      const rows = this.sql.sweepFrom.all(this.purgeCursor, limit) as Row[];
      this.purgeCursor = rows.length < limit ? 0 : rows.at(-1)!.seq;
      let deleted = 0;
      for (const row of rows) {
        if (!FINISHED.has(row.state) || row.updated_at >= before) continue;
        this.sql.deleteMessage.run(row.seq);
        this.counts.addBytes(row.queue, -this.dropPayload(row));
        this.sql.deleteAttempts.run(row.seq);
        this.counts.move(row.queue, row.state, undefined);
        deleted += 1;
      }
      this.sql.purgeDedupe.run(now);
      this.runs.purgeRuns(before, limit);
      return deleted;
    });
  }

  // ── queues, tenants, keys, limits, schedules ────────────────

  async queueCounts(): Promise<Map<string, QueueCounts>> {
    this.writeAcks();
    const snapshot = this.counts.snapshot();
    for (const [queue, counts] of snapshot) {
      // The ledger counts leased pull messages as the ready rows they are in the database.
      const leased = this.leases.openIn(queue);
      counts.states.ready -= leased;
      counts.states.leased += leased;
      if (counts.states.ready > 0) counts.oldestReadyAt = this.oldestReady(queue)?.received_at;
    }
    return snapshot;
  }

  async domainBacklog(): Promise<Map<string, DomainBacklog>> {
    return this.counts.domainSnapshot();
  }

  /**
   * The name passes to another tenant only once nothing of the queue is stored: the ledger counts
   * every stored message (finished ones until retention deletes them), so this costs no scan.
   */
  async upsertQueue(queue: QueueRecord): Promise<void> {
    const owner = this.catalog.ownerOf(queue.name);
    if (owner !== undefined && owner !== queue.tenant && this.counts.stored(queue.name) > 0) throw queueNameTaken(queue.name);
    this.write(() => {
      this.catalog.upsertQueue(queue);
      this.catalog.setOwner(queue.name, queue.tenant);
    });
    await this.durable();
  }
  async listQueues(): Promise<QueueRecord[]> {
    return this.catalog.listQueues();
  }
  async deleteQueue(name: string, force = false): Promise<QueueDeletion> {
    const pending = this.counts.pendingIn(name);
    if (pending > 0 && !force) return { deleted: false, pending, messages: 0 };
    const messages = this.write(() => {
      const rows = this.sql.deleteQueueMessages.all(name) as { seq: number; state: MessageState; domain: string; payload_seq: number | null }[];
      for (const row of rows) {
        this.counts.addBytes(name, -this.dropPayload(row));
        this.sql.deleteAttempts.run(row.seq);
        this.counts.move(name, row.state, undefined, 1, row.domain);
      }
      this.sql.deleteQueuePullLeases.run(name);
      this.catalog.deleteQueue(name);
      return rows.length;
    });
    this.leases.forgetQueue(name);
    this.readAhead.delete(name);
    await this.durable();
    return { deleted: true, pending, messages };
  }
  async upsertTenant(tenant: TenantRecord): Promise<void> {
    this.catalog.upsertTenant(tenant);
    await this.durable();
  }
  async listTenants(): Promise<TenantRecord[]> {
    return this.catalog.listTenants();
  }
  async addApiKey(key: ApiKeyRecord): Promise<void> {
    this.catalog.addApiKey(key);
    await this.durable();
  }
  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.catalog.listApiKeys();
  }
  async revokeApiKey(tenant: string, id: string): Promise<string | undefined> {
    const hash = this.catalog.revokeApiKey(tenant, id);
    await this.durable();
    return hash;
  }
  async touchApiKeys(used: { hash: string; at: number }[]): Promise<void> {
    if (used.length > 0) this.transact(() => this.catalog.touchApiKeys(used));
  }
  async upsertDomainLimit(limit: DomainLimitRecord): Promise<void> {
    this.catalog.upsertDomainLimit(limit);
    await this.durable();
  }
  async deleteDomainLimit(key: string): Promise<boolean> {
    return this.catalog.deleteDomainLimit(key);
  }
  async listDomainLimits(): Promise<DomainLimitRecord[]> {
    return this.catalog.listDomainLimits();
  }
  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    this.catalog.upsertSchedule(schedule);
    await this.durable();
  }
  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.catalog.listSchedules();
  }
  async deleteSchedule(name: string): Promise<boolean> {
    return this.catalog.deleteSchedule(name);
  }

  fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number): Promise<boolean>;
  fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number, runs: NewRun[]): Promise<RunStart[] | false>;
  async fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number, runs?: NewRun[]): Promise<boolean | RunStart[]> {
    const fired = this.write((): boolean | RunStart[] => {
      if (!this.catalog.advanceSchedule(name, expected, nextRunAt, messages.length + (runs?.length ?? 0), now)) return false;
      this.appendAll(messages, now);
      return runs === undefined ? true : runs.map((run) => this.startOne(run, now));
    });
    await this.durable();
    return fired;
  }

  async upsertSource(source: SourceRecord): Promise<void> {
    if (!this.catalog.upsertSource(source)) throw sourceNameTaken(source.name);
    await this.durable();
  }
  async listSources(): Promise<SourceRecord[]> {
    return this.catalog.listSources();
  }
  async deleteSource(name: string): Promise<boolean> {
    const deleted = this.catalog.deleteSource(name);
    await this.durable();
    return deleted;
  }

  async upsertSecret(secret: SecretRecord): Promise<void> {
    this.catalog.upsertSecret(secret);
    await this.durable();
  }
  async listSecrets(): Promise<SecretRecord[]> {
    return this.catalog.listSecrets();
  }
  async deleteSecret(tenant: string, name: string): Promise<boolean> {
    const deleted = this.catalog.deleteSecret(tenant, name);
    await this.durable();
    return deleted;
  }
  async resealSecrets(changes: ResealedSecret[]): Promise<number> {
    const written = this.catalog.resealSecrets(changes);
    await this.durable();
    return written;
  }
  async upsertTemplate(template: TemplateRecord): Promise<void> {
    this.templates.upsert(template);
    await this.durable();
  }
  async listTemplates(): Promise<TemplateRecord[]> {
    return this.templates.list();
  }
  async deleteTemplate(tenant: string, name: string): Promise<boolean> {
    const deleted = this.templates.delete(tenant, name);
    await this.durable();
    return deleted;
  }

  async upsertWorkflow(workflow: WorkflowRecord): Promise<void> {
    this.workflows.upsert(workflow);
    await this.durable();
  }
  async listWorkflows(): Promise<WorkflowRecord[]> {
    return this.workflows.list();
  }
  async deleteWorkflow(tenant: string, name: string): Promise<boolean> {
    const deleted = this.workflows.delete(tenant, name);
    await this.durable();
    return deleted;
  }

  async appendWithRuns(messages: NewMessage[], runs: NewRun[], now: number): Promise<{ results: AppendResult[]; runs: RunStart[] }> {
    const done = this.write(() => ({ results: this.appendAll(messages, now), runs: runs.map((run) => this.startOne(run, now)) }));
    await this.durable();
    return done;
  }

  /** Inside a transaction: start a run (its row, steps and first message), or find the run its idempotency key started. */
  private startOne(run: NewRun, now: number): RunStart {
    const earlier = this.runs.runByKey(run);
    if (earlier) return { ...earlier, created: false };
    const id = this.runs.insertRun(run, now);
    this.writeSteps(id, run.steps, run.message, now);
    return { id, state: run.state, created: true };
  }

  async getRun(id: string): Promise<RunWithSteps | undefined> {
    return this.runs.getRun(id);
  }

  async listRuns(filter: ListRunsFilter): Promise<RunPage> {
    return this.runs.listRuns(filter);
  }

  async changeRun(change: RunChange, now: number): Promise<boolean> {
    const changed = this.write(() => this.moveRun(change, now));
    await this.durable();
    return changed;
  }

  /** Inside a transaction: apply a run change if the run is still at its version. */
  private moveRun(change: RunChange, now: number): boolean {
    if (!this.runs.moveRun(change, now)) return false;
    for (const id of change.cancelMessages ?? []) {
      const seq = parseId(id);
      if (seq !== undefined) this.cancelOne(seq, now, change.withdrawn ?? false);
    }
    this.writeSteps(change.runId, change.steps, change.message, now);
    return true;
  }

  /** Inside a transaction: step rows, the last one getting the id of `message` (appended here, its origin naming the step). */
  private writeSteps(runId: string, steps: RunStep[], message: NewMessage | undefined, now: number): void {
    const last = steps.at(-1);
    let messageId: string | undefined;
    if (message && last) messageId = this.appendAll([{ ...message, origin: stepOrigin(runId, last.seq) }], now)[0]!.id;
    for (const step of steps) this.runs.putStep(runId, step === last && messageId !== undefined ? { ...step, messageId } : step);
  }

  async listFileSettings(): Promise<FileSettingRecord[]> {
    return this.catalog.listFileSettings();
  }
  async replaceFileSettings(settings: FileSettingRecord[]): Promise<void> {
    this.catalog.replaceFileSettings(settings);
    await this.durable();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.writeAcks();
    await this.durable();
    this.walSync?.close();
    await this.checkpointer?.close();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
