import type { Store } from '../store/store.js';
import type { AppendResult, NewMessage } from '../store/types.js';
import type { Clock } from '../clock.js';

interface Pending {
  message: NewMessage;
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

/** Called after each successful commit with what was written, so waiters and lanes can be woken. */
export type CommitListener = (messages: NewMessage[], results: AppendResult[]) => void;

/**
 * Group commit: every message that arrives while a commit is being prepared or written goes into
 * the next one, so N concurrent requests cost one transaction (one fsync), not N. Each caller's
 * promise settles only after the transaction holding its message has committed — never before.
 *
 * The first message of an idle writer schedules a flush with setImmediate: everything the event
 * loop reads in the same turn (all sockets that were readable) joins that commit.
 */
export class GroupCommitWriter {
  private pending: Pending[] = [];
  private flushScheduled = false;
  private committing = false;
  private readonly listeners: CommitListener[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxBatch = 2_000,
  ) {}

  /** Queue one message for the next commit; resolves with its id once durable. */
  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
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

  /** Resolves once nothing is pending or committing (for shutdown). */
  drain(): Promise<void> {
    if (this.pending.length === 0 && !this.committing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.committing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return this.settleIdle();
    this.committing = true;
    const batch = this.pending.length <= this.maxBatch ? this.pending : this.pending.slice(0, this.maxBatch);
    this.pending = batch === this.pending ? [] : this.pending.slice(this.maxBatch);
    const messages = batch.map((entry) => entry.message);
    try {
      const results = await this.store.appendMessages(messages, this.clock.now());
      batch.forEach((entry, index) => entry.resolve(results[index]!));
      this.notify(messages, results);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const entry of batch) entry.reject(failure);
    } finally {
      this.committing = false;
    }
    if (this.pending.length > 0) this.scheduleFlush();
    else this.settleIdle();
  }

  private notify(messages: NewMessage[], results: AppendResult[]): void {
    for (const listener of this.listeners) listener(messages, results);
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
