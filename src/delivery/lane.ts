import { laneKey, type StoredMessage } from '../store/types.js';

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
  /**
   * Claimed a little before their deliverAt (see PUSH_LEAD_MS), sorted by (deliverAt, seq): they
   * join the buffer, in seq order, when their time comes, so each goes out from memory at its
   * moment instead of after a store round trip.
   */
  early: StoredMessage[] = [];
  /** The early due time the dispatcher last set a wake-up for (so it sets one per time, not per look). */
  earlyWakeAt: number | undefined;
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
    if (this.early.length > 0 && this.early[0]!.deliverAt <= now) this.ripen(now);
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

  /** Hold messages claimed ahead of their time; `early` stays sorted by (deliverAt, seq). */
  addEarly(messages: StoredMessage[]): void {
    if (messages.length === 0) return;
    this.early.push(...messages);
    this.early.sort((a, b) => a.deliverAt - b.deliverAt || seqOf(a) - seqOf(b));
  }

  /** Move the early messages whose time has come into the buffer, keeping it in seq order. */
  ripen(now: number): void {
    let due = 0;
    while (due < this.early.length && this.early[due]!.deliverAt <= now) due += 1;
    if (due === 0) return;
    const ripe = this.early.splice(0, due);
    if (ripe.length > 1) ripe.sort((a, b) => seqOf(a) - seqOf(b));
    this.buffer = mergeBySeq(this.buffer, ripe);
  }

  /** The earliest deliverAt among the early messages. */
  nextEarlyAt(): number | undefined {
    return this.early[0]?.deliverAt;
  }

  /** Messages claimed and not yet sent: the buffer and those held early. */
  get claimed(): number {
    return this.buffer.length + this.early.length;
  }

  /** Everything claimed and not yet sent (buffer and early), emptied; for handing back to the store. */
  takeAllBuffered(): StoredMessage[] {
    const all = this.buffer.concat(this.early);
    this.buffer = [];
    this.early = [];
    return all;
  }

  /** When a strict lane's held head may go again. */
  heldUntil(): number | undefined {
    return this.strict && this.held ? this.held.notBefore : undefined;
  }

  /** Idle: nothing buffered, held, in flight or loading, and the store had nothing more. */
  isIdle(): boolean {
    return this.buffer.length === 0 && this.early.length === 0 && !this.held && this.inFlight === 0 && !this.loading && this.exhausted;
  }
}

const seqOf = (message: StoredMessage): number => Number(message.id);

/** Two runs each in seq order, merged into one. */
function mergeBySeq(a: StoredMessage[], b: StoredMessage[]): StoredMessage[] {
  if (a.length === 0) return b;
  if (seqOf(a[a.length - 1]!) < seqOf(b[0]!)) return a.concat(b);
  const merged: StoredMessage[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) merged.push(seqOf(a[i]!) <= seqOf(b[j]!) ? a[i++]! : b[j++]!);
  while (i < a.length) merged.push(a[i++]!);
  while (j < b.length) merged.push(b[j++]!);
  return merged;
}

