import { laneKey, type StoredMessage } from '../store/types.js';

/**
 * A (queue, domain) lane: the most urgent first, FIFO within a priority. Only its head lives in
 * memory — a small buffer of claimed messages, kept in that order — while the backlog stays in the
 * store and is claimed in batches as the buffer drains, most urgent first.
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
  /**
   * More of the lane was asked of the store and has not come yet (wanted or loading): until it comes,
   * the lane may hold messages more urgent than another lane's buffered ones.
   */
  refilling = false;
  /** The priority of the last message the lane handed out (-1: none yet): what a refill is likely to bring. */
  lastPriority = -1;
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
    const message = this.held ? this.held.message : this.buffer.shift()!;
    this.held = undefined;
    this.lastPriority = message.priority;
    return message;
  }

  /**
   * Whether the tenant should wait for this lane rather than send a message of `priority` from
   * another: it has nothing ready now, but a refill is under way and its last message was more urgent.
   */
  mayBringMoreUrgent(priority: number, now: number): boolean {
    return this.refilling && this.lastPriority > priority && !this.hasReady(now);
  }

  /** The priority of the message the lane would hand out next (the held one first), if any. */
  headPriority(): number {
    return (this.held?.message ?? this.buffer[0])?.priority ?? -1;
  }

  /** Claimed messages join the buffer in their place: a more urgent one goes before those waiting. */
  addClaimed(messages: StoredMessage[]): void {
    if (messages.length === 0) return;
    this.buffer = mergeByUrgency(this.buffer, messages.length > 1 ? messages.slice().sort(byUrgency) : messages);
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

  /** Move the early messages whose time has come into the buffer, in their place by urgency. */
  ripen(now: number): void {
    let due = 0;
    while (due < this.early.length && this.early[due]!.deliverAt <= now) due += 1;
    if (due === 0) return;
    this.addClaimed(this.early.splice(0, due));
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

/** The order messages of a lane go out in: highest priority first, then by arrival. */
function byUrgency(a: StoredMessage, b: StoredMessage): number {
  return b.priority - a.priority || seqOf(a) - seqOf(b);
}

/** Two runs each in urgency order, merged into one. */
function mergeByUrgency(a: StoredMessage[], b: StoredMessage[]): StoredMessage[] {
  if (a.length === 0) return b;
  if (byUrgency(a[a.length - 1]!, b[0]!) < 0) return a.concat(b);
  const merged: StoredMessage[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) merged.push(byUrgency(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) merged.push(a[i++]!);
  while (j < b.length) merged.push(b[j++]!);
  return merged;
}

