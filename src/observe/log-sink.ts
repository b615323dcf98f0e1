import type { Clock } from '../clock.js';
import type { EventBus, SluiceEvents } from './events.js';
import type { Logger } from './logger.js';

/**
 * A repeated decision (backpressure on one domain for one reason, a throttled domain, a refused
 * signature from one source) is logged at most once per this period; the lines that were held back
 * are counted and reported with the next line or the release.
 */
export const LOG_REPEAT_MS = 10_000;
/** Backpressure not reported again for this long is over: one "released" line says so. */
const RELEASE_QUIET_MS = LOG_REPEAT_MS;
/** However many distinct domains and sources a flood names, the sink remembers at most this many. */
const MAX_TRACKED = 10_000;

type BackpressureEvent = SluiceEvents['backpressure'];

/** One engaged backpressure: a domain (or queue) held back for one reason. */
interface Engaged {
  event: BackpressureEvent;
  since: number;
  lastSeen: number;
  events: number;
}

/**
 * The decisions a user debugging a lost or late webhook looks for, one structured line each, taken
 * from the event bus: a message gone dead, a circuit opened or closed, a domain throttled or paused
 * by Retry-After, backpressure engaged and released, a signature refused. Events that a flood can
 * repeat thousands of times a second are rate-limited per key, so the log stays readable and bounded.
 */
export class LogSink {
  private readonly engaged = new Map<string, Engaged>();
  /** Per repeated-line key: when it was last written and how many were held back since. */
  private readonly repeats = new Map<string, { at: number; suppressed: number }>();
  private readonly unsubscribe: (() => void)[] = [];
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly events: EventBus,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.unsubscribe.push(
      this.events.on('dead', (event) => this.logger.warn('message dead', { ...event })),
      this.events.on('circuit-open', (event) =>
        this.logger.warn('circuit opened', { domain: event.domain, failures: event.failures, until: new Date(event.until).toISOString() }),
      ),
      this.events.on('circuit-closed', (event) => this.logger.info('circuit closed', { domain: event.domain })),
      this.events.on('throttled', (event) => this.throttled(event)),
      this.events.on('backpressure', (event) => this.backpressure(event, this.clock.now())),
      this.events.on('signature-refused', (event) => this.signatureRefused(event)),
      this.events.on('unrouted', (event) => this.unrouted(event)),
    );
    this.sweeper = setInterval(() => this.sweep(this.clock.now()), RELEASE_QUIET_MS / 2);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const off of this.unsubscribe.splice(0)) off();
    this.sweep(Number.POSITIVE_INFINITY);
  }

  /** Log "backpressure released" for every engagement not reported for RELEASE_QUIET_MS. */
  sweep(now: number): void {
    for (const [key, state] of this.engaged) {
      if (now - state.lastSeen < RELEASE_QUIET_MS) continue;
      this.engaged.delete(key);
      this.logger.info('backpressure released', { ...withoutWaiting(state.event), events: state.events, heldMs: state.lastSeen - state.since });
    }
  }

  private backpressure(event: BackpressureEvent, now: number): void {
    const key = `${event.domain}\u0000${event.reason}\u0000${event.tenant ?? ''}`;
    const state = this.engaged.get(key);
    if (state) {
      state.lastSeen = now;
      state.events += 1;
      return;
    }
    if (this.engaged.size >= MAX_TRACKED) return;
    this.engaged.set(key, { event, since: now, lastSeen: now, events: 1 });
    this.logger.warn('backpressure engaged', { ...event });
  }

  private throttled(event: SluiceEvents['throttled']): void {
    const paused = event.until !== undefined;
    const suppressed = this.repeatAllowed(`throttled\u0000${event.domain}\u0000${paused}`);
    if (suppressed === undefined) return;
    const fields: Record<string, unknown> = { domain: event.domain, effectiveConcurrency: event.effectiveConcurrency, suppressed };
    if (event.status !== undefined) fields.status = event.status;
    if (paused) this.logger.warn('domain paused by Retry-After', { ...fields, until: new Date(event.until!).toISOString() });
    else this.logger.warn('domain throttled', fields);
  }

  private signatureRefused(event: SluiceEvents['signature-refused']): void {
    const suppressed = this.repeatAllowed(`signature\u0000${event.source}\u0000${event.reason}`);
    if (suppressed !== undefined) this.logger.warn('signature refused', { source: event.source, reason: event.reason, suppressed });
  }

  private unrouted(event: SluiceEvents['unrouted']): void {
    const suppressed = this.repeatAllowed(`unrouted\u0000${event.source}`);
    if (suppressed !== undefined) this.logger.info('request matched no route; answered, not stored', { source: event.source, suppressed });
  }

  /** The number of lines held back since the last one when this key may log again now; undefined when not. */
  private repeatAllowed(key: string): number | undefined {
    const now = this.clock.now();
    const last = this.repeats.get(key);
    if (last && now - last.at < LOG_REPEAT_MS) {
      last.suppressed += 1;
      return undefined;
    }
    if (!last && this.repeats.size >= MAX_TRACKED) this.forgetOldRepeats(now);
    if (!last && this.repeats.size >= MAX_TRACKED) return undefined;
    this.repeats.set(key, { at: now, suppressed: 0 });
    return last?.suppressed ?? 0;
  }

  private forgetOldRepeats(now: number): void {
    for (const [key, last] of this.repeats) if (now - last.at >= LOG_REPEAT_MS) this.repeats.delete(key);
  }
}

/** `waiting` describes one moment, not the whole episode: a release line leaves it out. */
function withoutWaiting(event: BackpressureEvent): Record<string, unknown> {
  const { waiting: _waiting, ...rest } = event;
  return rest;
}
