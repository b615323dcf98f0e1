import type { StoredMessage } from '../store/types.js';

/**
 * A (queue, domain) lane: FIFO inside. Only its head lives in memory — a small buffer of claimed
 * messages — while the backlog stays in the store and is claimed in batches as the buffer drains.
 */
export class Lane {
  readonly key: string;
  buffer: StoredMessage[] = [];
  /** The store had no more ready messages the last time we claimed. */
  exhausted = false;
  /** A claim for this lane is under way. */
  loading = false;
  /** New ready messages were announced while a claim was under way: its "nothing more" is stale. */
  wokenWhileLoading = false;
  inFlight = 0;
  /** Strict ordering: a failed head waiting for its next try; the lane does not move before it. */
  held: { message: StoredMessage; notBefore: number } | undefined;

  constructor(
    readonly queue: string,
    readonly domain: string,
    readonly tenant: string,
    public strict: boolean,
  ) {
    this.key = laneKey(queue, domain);
  }

  /** Can this lane hand out a message at `now`? */
  hasReady(now: number): boolean {
    if (this.strict) {
      if (this.inFlight > 0) return false;
      if (this.held) return this.held.notBefore <= now;
    }
    return this.buffer.length > 0;
  }

  /** Take the next message (the held one first, in strict lanes). Call only when hasReady. */
  take(): StoredMessage {
    if (this.held) {
      const { message } = this.held;
      this.held = undefined;
      return message;
    }
    return this.buffer.shift()!;
  }

  /** Put a message back at the head (it could not be sent after all). */
  putBack(message: StoredMessage): void {
    this.buffer.unshift(message);
  }

  /** When a strict lane's held head may go again. */
  heldUntil(): number | undefined {
    return this.strict && this.held ? this.held.notBefore : undefined;
  }

  /** Idle: nothing buffered, held, in flight or loading, and the store had nothing more. */
  isIdle(): boolean {
    return this.buffer.length === 0 && !this.held && this.inFlight === 0 && !this.loading && this.exhausted;
  }
}

export function laneKey(queue: string, domain: string): string {
  return `${queue}\u0000${domain}`;
}
