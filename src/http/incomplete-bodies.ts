import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { sendProblem, type BodyRoom } from './context.js';
import { SluiceError } from './errors.js';

/** How long a sender cut off for room is asked to wait. */
const RETRY_AFTER_SECONDS = '1';

/** One request body being read, watched by IncompleteBodies. */
export class BodyWatch implements BodyRoom {
  /** Counted bytes it holds. */
  held = 0;
  /** Set by the reader: drop what it holds and fail with this error (see readBody). */
  onCut: ((error: SluiceError) => void) | undefined;

  constructor(
    private readonly bodies: IncompleteBodies,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** Not authenticated yet: its bytes count toward maxPendingBodyBytes. */
    readonly counted: boolean,
    readonly startedAt: number,
  ) {}

  /** `bytes` more arrived, to be held: false when there was no room and this body was cut off. */
  hold(bytes: number): boolean {
    return this.bodies.hold(this, bytes);
  }

  /** The body arrived, or reading it failed: what it held is free. */
  done(): void {
    this.bodies.done(this);
  }
}

/**
 * Request bodies that have not fully arrived, across the node. Each gets bodyTimeoutMs to arrive
 * (then 408); those not authenticated yet (ingest, which cannot check a signature before it has the
 * body) share maxPendingBodyBytes. Measured before: 1,000 connections each sending an unfinished
 * 1 MiB body held ~1 GB.
 *
 * When a body needs room that is not there, the body that has been arriving longest is cut off
 * (503 + Retry-After, connection closed), not the newcomer: refusing newcomers would let whoever
 * came first hold the room until their timeout, and honest senders, whose bodies arrive in
 * milliseconds, would get 503 all that time. Cutting the oldest, slow senders make room for each
 * other and an honest body comes and goes between them.
 */
export class IncompleteBodies {
  private heldBytes = 0;
  /** In the order they started: the first is the oldest. */
  private readonly watches = new Set<BodyWatch>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: { maxPendingBodyBytes: number; bodyTimeoutMs: number },
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Bytes of counted bodies held now; never more than maxPendingBodyBytes. */
  get held(): number {
    return this.heldBytes;
  }

  /** Bodies being watched. */
  get pending(): number {
    return this.watches.size;
  }

  /** Check for bodies past their time, about four times per bodyTimeoutMs (at most once a second). */
  start(): void {
    const every = Math.min(1_000, Math.max(10, this.limits.bodyTimeoutMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  /** Watch the body of `req` from now: it times out, and if `counted` its bytes need room. */
  watch(req: IncomingMessage, res: ServerResponse, counted: boolean): BodyWatch {
    const watch = new BodyWatch(this, req, res, counted, this.now());
    this.watches.add(watch);
    return watch;
  }

  /**
   * `bytes` more of a body arrived and are to be held. Makes room by cutting the oldest counted
   * bodies; false when that was this one (it has been cut).
   */
  hold(watch: BodyWatch, bytes: number): boolean {
    if (!this.watches.has(watch)) return false;
    if (!watch.counted) return true;
    while (this.heldBytes + bytes > this.limits.maxPendingBodyBytes) {
      const oldest = this.oldestHolding() ?? watch;
      this.cut(oldest, overloaded());
      if (oldest === watch) return false;
    }
    watch.held += bytes;
    this.heldBytes += bytes;
    return true;
  }

  done(watch: BodyWatch): void {
    if (!this.watches.delete(watch)) return;
    this.heldBytes -= watch.held;
    watch.held = 0;
  }

  private oldestHolding(): BodyWatch | undefined {
    for (const watch of this.watches) if (watch.held > 0) return watch;
    return undefined;
  }

  /** Bodies past their time are cut (408); watches of bodies nobody read to the end leave once complete. */
  private sweep(): void {
    const now = this.now();
    for (const watch of this.watches) {
      if (watch.req.complete || watch.req.destroyed) this.done(watch);
      else if (now - watch.startedAt >= this.limits.bodyTimeoutMs) this.cut(watch, timedOut(this.limits.bodyTimeoutMs));
    }
  }

  /**
   * Answer a body's request with `error` and close its connection once the answer is out; its reader,
   * if one is reading, drops what it holds and fails.
   */
  private cut(watch: BodyWatch, error: SluiceError): void {
    this.done(watch);
    watch.req.pause();
    if (watch.res.writableEnded) watch.req.socket.destroy(); // answered already; only the body still comes
    else sendProblem(watch.res, error);
    watch.onCut?.(error);
  }
}

function overloaded(): SluiceError {
  return new SluiceError('SLUICE_ERR_OVERLOADED', 'too many request bodies are arriving at once; retry later', {
    headers: { 'retry-after': RETRY_AFTER_SECONDS, connection: 'close' },
  });
}

function timedOut(ms: number): SluiceError {
  return new SluiceError('SLUICE_ERR_BODY_TIMEOUT', `the request body did not arrive within ${ms} ms`, {
    extra: { limit: ms },
    headers: { connection: 'close' },
  });
}
