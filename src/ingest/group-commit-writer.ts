import type { Store } from '../store/store.js';
import type { AppendResult, NewMessage, NewRun, RunStart } from '../store/types.js';
import type { Clock } from '../clock.js';

/** What one caller's group stored: its messages' results and its runs' starts, in the order given. */
export interface StoredGroup {
  results: AppendResult[];
  runs: RunStart[];
}

/** One caller's part of a commit: one message (ingest's hot path), or a group of messages and workflow runs stored together. */
type Pending =
  | { message: NewMessage; group?: undefined; resolve: (result: AppendResult) => void; reject: (error: Error) => void }
  | { group: NewMessage[]; runs: NewRun[]; resolve: (stored: StoredGroup) => void; reject: (error: Error) => void };

/** Called after each successful commit with what was written, so waiters and lanes can be woken. */
export type CommitListener = (messages: NewMessage[], results: AppendResult[]) => void;

/**
 * Group commit: every message that arrives in one turn of the event loop goes into one
 * transaction, so N concurrent requests cost one commit, not N. The first message of a turn
 * schedules a flush with setImmediate: everything the event loop read in that turn (all sockets
 * that were readable) joins it. Each caller's promise settles only once the store says the
 * transaction holding its message is durable — never before.
 *
 * Flushes overlap: while one batch waits for the disk (the store fsyncs off the event loop and
 * shares one fsync among the commits made meanwhile), the next batch is already being committed.
 */
export class GroupCommitWriter {
  private pending: Pending[] = [];
  private flushScheduled = false;
  private inFlight = 0;
  private readonly listeners: CommitListener[] = [];
  private idleWaiters: (() => void)[] = [];

  /**
   * @param maxInFlight most commits in flight at once; while that many are, arrivals gather into the
   *   next batch. Unbounded suits SQLite (commits queue on its thread and share an fsync). On
   *   PostgreSQL every statement costs the server the same CPU whatever it holds, so fewer, larger
   *   batches cost less per message.
   */
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxBatch = 2_000,
    private readonly maxInFlight = Number.POSITIVE_INFINITY,
  ) {}

  /** Queue one message for the next commit; resolves with its id once durable. */
  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      this.scheduleFlush();
    });
  }

  /**
   * Queue a routed request's messages for the next commit, side by side in it: they are stored
   * together or not at all, and resolve together once durable.
   */
  appendGroup(messages: NewMessage[]): Promise<AppendResult[]> {
    return this.appendWithRuns(messages, []).then((stored) => stored.results);
  }

  /**
   * Queue a workflow run for the next commit (its row, its first steps and its first step's
   * message, as Store.appendWithRuns starts it): runs started in one turn share a commit with each
   * other and with the messages ingested meanwhile. Resolves once durable, with an earlier run for
   * a repeated idempotency key.
   */
  startRun(run: NewRun): Promise<RunStart> {
    return this.appendWithRuns([], [run]).then((stored) => stored.runs[0]!);
  }

  /**
   * Queue a request's messages and the workflow runs it starts for the next commit: stored together
   * or not at all (a request routed to queues and to workflows), resolved together once durable.
   */
  appendWithRuns(messages: NewMessage[], runs: NewRun[]): Promise<StoredGroup> {
    return new Promise((resolve, reject) => {
      this.pending.push({ group: messages, runs, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Append many messages as one all-or-nothing commit of their own (batch API). */
  async appendAll(messages: NewMessage[]): Promise<AppendResult[]> {
    const results = await this.store.appendMessages(messages, this.clock.now());
    this.notify(messages, results);
    return results;
  }

  onCommit(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  /** Resolves once nothing is pending or being committed (for shutdown). */
  drain(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return this.settleIfIdle();
    if (this.inFlight >= this.maxInFlight) return; // the commit that finishes first flushes these
    const batch = this.pending.length <= this.maxBatch ? this.pending : this.pending.slice(0, this.maxBatch);
    this.pending = batch === this.pending ? [] : this.pending.slice(this.maxBatch);
    if (this.pending.length > 0) this.scheduleFlush();
    const messages: NewMessage[] = [];
    const runs: NewRun[] = [];
    for (const entry of batch) {
      if (entry.group) {
        messages.push(...entry.group);
        runs.push(...entry.runs);
      } else messages.push(entry.message);
    }
    this.inFlight += 1;
    try {
      const now = this.clock.now();
      const { results, runs: started } = runs.length === 0 ? { results: await this.store.appendMessages(messages, now), runs: [] } : await this.store.appendWithRuns(messages, runs, now);
      let at = 0;
      let run = 0;
      for (const entry of batch) {
        if (entry.group) {
          entry.resolve({ results: results.slice(at, at + entry.group.length), runs: started.slice(run, run + entry.runs.length) });
          at += entry.group.length;
          run += entry.runs.length;
        } else entry.resolve(results[at++]!);
      }
      this.notify(messages, results);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const entry of batch) entry.reject(failure);
    } finally {
      this.inFlight -= 1;
    }
    if (this.pending.length > 0) this.scheduleFlush();
    this.settleIfIdle();
  }

  private notify(messages: NewMessage[], results: AppendResult[]): void {
    for (const listener of this.listeners) listener(messages, results);
  }

  private settleIfIdle(): void {
    if (this.pending.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
