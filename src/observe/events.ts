import { EventEmitter } from 'node:events';

/** Everything the Traffic Guard reports as it happens. Stats, metrics and the live stream listen here. */
export interface SluiceEvents {
  /** Messages durably stored by ingest or the API. */
  received: { queue: string; origin: string; count: number; latencyMs?: number };
  /** A push delivery finished with a 2xx. */
  delivered: { queue: string; tenant: string; domain: string; status: number; latencyMs: number };
  /** A push attempt failed (it will be retried, or it went dead: see `dead`). */
  failed: { queue: string; tenant: string; domain: string; status?: number; error?: string; latencyMs: number; willRetry: boolean };
  /** A lane had work but a limit held it back (emitted at most once per domain and reason per second). */
  backpressure: { domain: string; reason: 'concurrency' | 'rate' | 'tenant' | 'global' | 'retry-after' | 'circuit'; waiting: number; tenant?: string };
  /** The domain answered 429/503 (or timed out) and is slowed down or paused. */
  throttled: { domain: string; status?: number; until?: number; effectiveConcurrency: number };
  'circuit-open': { domain: string; until: number; failures: number };
  'circuit-closed': { domain: string };
  /** A message went to the dead-letter queue; `status`/`error` are those of its last attempt, if any. */
  dead: { id: string; queue: string; reason: string; status?: number; error?: string };
  /**
   * Limits shared through Redis became unreachable (deliveries under them wait: a limit is never
   * exceeded) or reachable again.
   */
  'shared-limits': { available: boolean; error?: string };
  /** An ingest request matched none of its source's routes and the source has no fallback: answered, not stored. */
  unrouted: { source: string };
  /**
   * A workflow run started (the one event with `origin`), a change wrote one of its steps (`step`,
   * `stepState`: one event per step written, emitted together in order), or it was cancelled (an
   * event with neither). `state` is the run's after the change, so the first event that carries an
   * ended state marks the run's end (observe/run-events.ts counts it once).
   */
  run: { id: string; tenant: string; workflow: string; state: 'running' | 'succeeded' | 'failed' | 'cancelled'; step?: string; stepState?: string; origin?: string };
  /** An ingest request failed its source's signature check (`reason` never holds the secret or the signature). */
  'signature-refused': { source: string; reason: string };
}

export type SluiceEventName = keyof SluiceEvents;

/** A typed event emitter. Listeners must be cheap: they run on the delivery path. */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit<K extends SluiceEventName>(name: K, event: SluiceEvents[K]): void {
    this.emitter.emit(name, event);
  }

  on<K extends SluiceEventName>(name: K, listener: (event: SluiceEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
