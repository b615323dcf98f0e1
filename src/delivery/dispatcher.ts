import type { Clock } from '../clock.js';
import type { DomainLimit, QueueConfig, SluiceConfig } from '../config/schema.js';
import type { EventBus } from '../observe/events.js';
import type { Logger } from '../observe/logger.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { Store } from '../store/store.js';
import { laneKey, type AttemptRecord, type DeliveryOutcome, type LaneRef, type RunChange, type StoredMessage } from '../store/types.js';
import { MinHeap } from '../util/min-heap.js';
import { buildRequest, judge, policyOf, type Verdict } from './attempt.js';
import { DomainState, type Hold } from './domain-state.js';
import { DeliveryClient, warmUpHttpClient, type DeliveryResult } from './http-client.js';
import { Lane } from './lane.js';
import { DomainLimitTable } from './limits.js';
import { inProcessLimits, type LimitBackend, type Permit } from './limit-backend.js';
import { SharedLimitBackend, type LimitHost, type SharedLimits } from './shared-limits.js';
import type { SecretSource } from '../secrets/vault.js';
import { prepareSend, scrubResult } from './send-secrets.js';
import { attemptResponse } from './response-size.js';

/** What the dispatcher is handed by the composition root. */
/** How a workflow step's message ended, as the dispatcher judged its last attempt. */
export interface StepEnd {
  kind: 'delivered' | 'dead';
  /** Attempts made, this one included. */
  attempts: number;
  result: DeliveryResult;
  reason?: string;
}

/**
 * What moves workflow runs on (workflows/runner.ts implements it): the next move of a step's run,
 * worked out when its message finishes and written with the outcome; told once it is stored.
 */
export interface StepHook {
  /** The run's change, or undefined when the message is no step of a running run. */
  stepEnded(message: StoredMessage, end: StepEnd): Promise<RunChange | undefined>;
  /** The change was stored with its outcome (its run moved). */
  changeStored(change: RunChange): void;
}

export interface DispatcherDeps {
  readonly config: SluiceConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: EventBus;
  readonly store: Store;
  readonly queues: QueueRegistry;
  /** A message is stored as due at `deliverAt`: wake in time to claim it. */
  hintDue(deliverAt: number, push: boolean): void;
  /** True while this node must start no delivery (on a cluster: its heartbeat is not getting through). */
  deliveryPaused?(): boolean;
  /** Lanes woken here that the other nodes of a cluster should look at too. */
  relayLanes?(lanes: LaneRef[]): void;
  /**
   * Limits shared by a cluster through Redis. Without them every limit is this process's own (the
   * fast path: nothing leaves memory); with them each delivery needs a permit from Redis too.
   */
  readonly sharedLimits?: SharedLimits | undefined;
  /** The vault: secrets of messages made from templates and vault signing secrets are filled from it at send time. */
  readonly vault?: SecretSource;
  /** Moves workflow runs on when their steps' messages finish (workflows/runner.ts). */
  readonly workflows?: StepHook;
}

/** While deliveries are paused (DispatcherDeps.deliveryPaused), a domain looks again this often. */
const PAUSED_RECHECK_MS = 1_000;

/**
 * How long before its deliverAt a push message is claimed. The store promotes it early and the lane
 * holds it until its time (Lane.early): at that moment it goes out from memory, with no store round
 * trip in between. Measured: without a lead, 1,667 messages/s due one by one cost a promote, a claim
 * and a commit each at their due time, and lateness built up to ~100 ms after any stall.
 */
export const PUSH_LEAD_MS = 250;
/**
 * The due timer wakes for push messages once the next one is this close, and then promotes all due
 * within PUSH_LEAD_MS: one promote and one claim per ~125 ms of messages, not one per message.
 */
export const PUSH_WAKE_LEAD_MS = PUSH_LEAD_MS / 2;

/** Most messages claimed into memory across all lanes: the backlog stays in the store. */
const MAX_BUFFERED = 10_000;
/**
 * Most messages one lane claims at a time. Measured with the store on its own thread: 400 (four
 * times the concurrency) made the fast domain beside a slow one 10 % slower (0.87–0.97 against
 * 1.05–1.11 of its speed alone), probably because a bigger claim is a bigger copy between threads.
 */
const CLAIM_MAX = 100;
/** Most lanes claimed for in one store transaction. */
const CLAIM_LANES_PER_TX = 1_000;
/** A claim's lease covers buffering plus the response timeout, with room to spare. */
const CLAIM_LEASE_MARGIN_MS = 10 * 60_000;
/** A domain paused longer than this hands its buffered messages back to the store. */
const RELEASE_WHEN_PAUSED_MS = 60_000;
const BACKPRESSURE_EVENT_EVERY_MS = 1_000;
/** Delivery outcomes are written at most this long after they happen, or once this many wait. */
const OUTCOME_FLUSH_MS = 50;
const OUTCOME_BATCH = 500;
/** After a failed write of outcomes, the next try. */
const OUTCOME_RETRY_MS = 1_000;

interface TenantState {
  inFlight: number;
  limit: number | undefined;
  /** Domains that had work for this tenant but found it at its limit. */
  blocked: Set<DomainState>;
}

/**
 * The Traffic Guard's dispatcher. Lanes per (queue, domain), FIFO inside; domains served
 * independently so a slow or throttled one never delays another; tenants on one domain served
 * round-robin. A domain that cannot send (concurrency full, rate, Retry-After, open circuit) is
 * parked: on a completion, or in a min-heap under one timer — nothing spins or polls.
 */
export class Dispatcher {
  readonly limits: DomainLimitTable;
  private readonly domains = new Map<string, DomainState>();
  private readonly lanes = new Map<string, Lane>();
  private readonly tenants = new Map<string, TenantState>();
  private readonly runnable = new Set<DomainState>();
  private readonly wakeups = new MinHeap<DomainState>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeTimerAt = Number.POSITIVE_INFINITY;
  private pumpScheduled = false;
  private readonly claimWanted = new Map<string, Lane>();
  private claimScheduled = false;
  private claiming = false;
  private buffered = 0;
  private outcomes: DeliveryOutcome[] = [];
  private outcomeFlush: Promise<void> | undefined;
  private outcomeTimer: NodeJS.Timeout | undefined;
  private globalInFlight = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lastBackpressure = new Map<string, number>();
  private readonly client: DeliveryClient;
  /** Where a delivery gets its right to start beyond this node's own checks. */
  private readonly guard: LimitBackend;
  private stopped = false;
  /** The shutdown deadline passed: deliveries still in flight were aborted and go back as ready. */
  private abandoned = false;
  /** Counters for stats: deliveries started. */
  started = 0;

  private constructor(
    private readonly app: DispatcherDeps,
    limits: DomainLimitTable,
  ) {
    this.limits = limits;
    this.client = new DeliveryClient({ allowPrivate: app.config.network.allowPrivate, clock: app.clock });
    this.guard = app.sharedLimits ? new SharedLimitBackend(app.sharedLimits, this.limitHost()) : inProcessLimits;
  }

  /** What the shared limit backend may ask of this dispatcher. */
  private limitHost(): LimitHost {
    return {
      stopped: () => this.stopped,
      drain: (domain, now) => this.drain(domain, now),
      wakeAt: (domain, at) => this.wakeAt(domain, at),
      backpressure: (domain, reason, now, tenant) => this.backpressure(domain, reason, now, tenant),
      tenantLimit: (tenant) => this.tenant(tenant).limit,
      tenantHasRoom: (tenant) => this.tenantHasRoom(tenant),
      globalConcurrency: () => this.app.config.limits.global.concurrency,
      askSize: (domain) => claimSize(domain),
      warn: (message, fields) => this.app.logger.warn(message, fields),
    };
  }

  /** Build the dispatcher with the stored limits (sluice.yaml's are applied to them at start: Sluice.loadDomainLimits). */
  static async create(app: DispatcherDeps): Promise<Dispatcher> {
    const stored = await app.store.listDomainLimits();
    const table = new DomainLimitTable(
      app.config.limits.defaultDomain,
      stored.map(({ key, ...limit }) => [key, limit] as [string, DomainLimit]),
    );
    await warmUpHttpClient();
    const dispatcher = new Dispatcher(app, table);
    for (const tenant of await app.store.listTenants()) dispatcher.tenant(tenant.name).limit = tenant.concurrency;
    app.queues.onChange((queue, change) => dispatcher.onQueueChange(queue.name, change));
    return dispatcher;
  }

  /** Find every lane with ready messages and start delivering. */
  start(): void {
    void this.wakeQueues(this.app.queues.all().map((queue) => queue.name));
  }

  /**
   * New ready messages in these lanes (a commit, a due time, a replay); with `relay`, the other nodes
   * of a cluster are told too.
   */
  wakeLanes(refs: LaneRef[], relay = true): void {
    if (this.stopped) return;
    if (relay && refs.length > 0) this.app.relayLanes?.(refs);
    for (const ref of refs) {
      const queue = this.app.queues.get(ref.queue);
      if (!queue || queue.config.mode !== 'push' || queue.config.paused) continue;
      const lane = this.lane(ref.queue, ref.domain, queue.tenant, queue.config.ordering === 'strict');
      lane.exhausted = false;
      if (lane.loading) lane.wokenWhileLoading = true;
      this.domain(ref.domain).addLane(lane);
      this.wantClaim(lane);
    }
  }

  /** Look up the lanes of some queues in the store (start, resume, a look at everything again). */
  async wakeQueues(queues: string[], relay = true): Promise<void> {
    const push = queues.filter((name) => this.app.queues.get(name)?.config.mode === 'push');
    if (push.length === 0) return;
    try {
      this.wakeLanes(await this.app.store.readyLanes(push), relay);
    } catch (error) {
      this.app.logger.warn('looking up ready lanes failed', { error: String(error) });
    }
  }

  /**
   * Let go of a message claimed ahead of its deliverAt and not yet sent (for a cancel). True if it
   * was held here: the caller then owns it in the store.
   */
  withdrawEarly(message: { id: string; queue: string; domain: string }): boolean {
    const lane = this.lanes.get(laneKey(message.queue, message.domain));
    const index = lane ? lane.early.findIndex((held) => held.id === message.id) : -1;
    if (!lane || index < 0) return false;
    lane.early.splice(index, 1);
    this.buffered -= 1;
    if (lane.isIdle()) this.forget(lane);
    return true;
  }

  // ── limits, live ────────────────────────────────────────────

  setDomainLimit(key: string, limit: DomainLimit): void {
    this.limits.set(key, limit);
    this.reresolve();
  }

  deleteDomainLimit(key: string): boolean {
    const removed = this.limits.delete(key);
    this.reresolve();
    return removed;
  }

  setTenantLimit(tenant: string, concurrency: number | undefined): void {
    this.tenant(tenant).limit = concurrency;
    this.unblockTenant(this.tenant(tenant));
    this.schedulePump();
  }

  /**
   * Adopt the stored domain limits as a whole (another node changed them): a key not among them falls
   * back to the default. Domains are re-resolved as by setDomainLimit, only when a limit changed.
   */
  replaceDomainLimits(limits: Iterable<{ key: string } & DomainLimit>): void {
    const entries = [...limits].map(({ key, ...limit }): [string, DomainLimit] => [key, limit]);
    if (this.limits.replace(entries)) this.reresolve();
  }

  /** Adopt every tenant's concurrency limit from `tenants`: a tenant not among them, or without one, has none. */
  replaceTenantLimits(tenants: Iterable<{ name: string; concurrency?: number | undefined }>): void {
    const fresh = new Map<string, number | undefined>([...this.tenants.keys()].map((name) => [name, undefined]));
    for (const { name, concurrency } of tenants) fresh.set(name, concurrency);
    for (const [name, concurrency] of fresh) if (this.tenant(name).limit !== concurrency) this.setTenantLimit(name, concurrency);
  }

  private reresolve(): void {
    for (const domain of this.domains.values()) {
      domain.reconfigure(this.limits.resolve(domain.key));
      this.runnable.add(domain);
    }
    this.schedulePump();
  }

  // ── views for stats ─────────────────────────────────────────

  domainStates(): DomainState[] {
    return [...this.domains.values()];
  }

  tenantStates(): { tenant: string; inFlight: number; concurrency: number | null }[] {
    return [...this.tenants].map(([tenant, state]) => ({ tenant, inFlight: state.inFlight, concurrency: state.limit ?? null }));
  }

  get globalInFlightCount(): number {
    return this.globalInFlight;
  }

  bufferedFor(domain: DomainState): number {
    return domain.lanes().reduce((sum, lane) => sum + lane.claimed, 0);
  }

  // ── the pump ────────────────────────────────────────────────

  private schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Serve every runnable domain once. When the node-wide cap is reached the pass stops where it is:
   * the remaining domains stay runnable (in order, so the next pass starts with them) and the next
   * completion pumps again. Visiting 100,000 waiting domains on every completion instead made the
   * many-domains benchmark quadratic.
   */
  private pump(): void {
    if (this.stopped) return;
    const now = this.app.clock.now();
    for (const domain of this.runnable) {
      if (this.globalFull()) return this.globalBackpressure(now);
      this.runnable.delete(domain);
      this.drain(domain, now);
    }
  }

  private globalFull(): boolean {
    return this.globalInFlight >= this.app.config.limits.global.concurrency;
  }

  /**
   * Start as many deliveries to one domain as its limits allow right now: this node's own checks
   * (global, the domain's state, tenants), then the limit backend's (in process: nothing more;
   * shared: a permit each, and an ask for more once the pass is over).
   */
  private drain(domain: DomainState, now: number): void {
    if (this.app.deliveryPaused?.()) return this.wakeAt(domain, now + PAUSED_RECHECK_MS);
    const guard = this.guard;
    for (;;) {
      if (this.globalFull()) {
        this.runnable.add(domain);
        return;
      }
      const hold = domain.hold(now);
      if (hold) return this.park(domain, hold, now);
      const lane = domain.pickLane(now, (tenant) => this.tenantHasRoom(tenant) && guard.has(domain, tenant));
      if (!lane) break;
      if (!domain.circuit.tryPass(now)) return this.backpressure(domain, 'circuit', now);
      const fromBuffer = !lane.held;
      const message = lane.take();
      if (fromBuffer) this.buffered -= 1;
      this.send(domain, lane, message, now, guard.take(domain, lane.tenant, now));
      this.refillIfLow(lane, domain);
    }
    guard.replenish(domain, now);
    this.idle(domain, now);
  }

  private park(domain: DomainState, hold: NonNullable<Hold>, now: number): void {
    if ('until' in hold) this.wakeAt(domain, hold.until);
    if (hold.reason === 'retry-after' && hold.until - now > RELEASE_WHEN_PAUSED_MS) this.releaseBuffers(domain);
    this.backpressure(domain, hold.reason, now);
  }

  /** No lane could give a message: note why, so the right event wakes the domain again. */
  private idle(domain: DomainState, now: number): void {
    for (const lane of domain.lanes()) {
      const heldUntil = lane.heldUntil();
      if (heldUntil !== undefined && lane.inFlight === 0) this.wakeAt(domain, heldUntil);
      if (lane.buffer.length > 0 && !this.tenantHasRoom(lane.tenant)) {
        this.tenant(lane.tenant).blocked.add(domain);
        this.backpressure(domain, 'tenant', now, lane.tenant);
      }
      const earlyAt = lane.nextEarlyAt();
      if (earlyAt !== undefined && earlyAt !== lane.earlyWakeAt) {
        lane.earlyWakeAt = earlyAt;
        this.wakeAt(domain, earlyAt);
      }
      if (lane.buffer.length === 0 && !lane.held) this.wantClaim(lane);
    }
  }

  private tenantHasRoom(tenant: string): boolean {
    const state = this.tenant(tenant);
    return state.limit === undefined || state.inFlight < state.limit;
  }

  // ── one delivery ────────────────────────────────────────────

  private send(domain: DomainState, lane: Lane, message: StoredMessage, now: number, permit?: Permit): void {
    const queue = this.app.queues.get(lane.queue);
    if (!queue) return this.guard.end(domain, permit, undefined, now);
    const tenant = this.tenant(lane.tenant);
    domain.inFlight += 1;
    lane.inFlight += 1;
    tenant.inFlight += 1;
    this.globalInFlight += 1;
    this.started += 1;
    const attempt = message.attempts + 1;
    const task = this.transmit(message, queue, attempt, now)
      .then((result) => this.finish(domain, lane, message, attempt, now, result, permit))
      .catch((error: unknown) => this.app.logger.error('delivery bookkeeping failed', { id: message.id, error: String(error) }));
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  /**
   * Send one attempt. Secrets go in now, in the message's tenant (send-secrets.ts), and come out of
   * what the target answered; `message` itself keeps its placeholders (a strict lane may hold it
   * for its next try). A secret that cannot be had is the attempt's result, with no request made.
   */
  private transmit(message: StoredMessage, queue: { tenant: string; config: QueueConfig }, attempt: number, now: number): Promise<DeliveryResult> {
    const prepared = prepareSend(message, queue, this.app.vault);
    if (prepared === undefined) return this.client.send(buildRequest(message, queue.config, attempt, now));
    if (!prepared.ok) return Promise.resolve(prepared.result);
    return this.client.send(buildRequest(prepared.message, prepared.config, attempt, now)).then((result) => scrubResult(result, prepared.values));
  }

  private finish(domain: DomainState, lane: Lane, message: StoredMessage, attempt: number, startedAt: number, result: DeliveryResult, permit?: Permit): Promise<void> | undefined {
    const now = this.app.clock.now();
    const tenant = this.tenant(lane.tenant);
    domain.inFlight -= 1;
    lane.inFlight -= 1;
    tenant.inFlight -= 1;
    this.globalInFlight -= 1;
    // Aborted by stop(): not the target's fault, so no attempt is counted; it goes out again after a restart.
    if (this.abandoned) {
      this.guard.end(domain, permit, undefined, now);
      this.releaseMessages([message]);
      return undefined;
    }
    const queue = this.app.queues.get(lane.queue);
    const config = queue?.config;
    const verdict = config ? judge(result, policyOf(message, config), attempt, now) : ({ kind: 'dead', reason: 'queue deleted', circuitFailure: false } as Verdict);
    const record = attemptRecord(attempt, startedAt, result);
    this.updateDomainHealth(domain, verdict, result, now);
    this.guard.end(domain, permit, verdict, now);
    const recorded = this.recordOutcome(lane, message, record, verdict, result);
    this.afterCompletion(domain, tenant, lane);
    return recorded;
  }

  private updateDomainHealth(domain: DomainState, verdict: Verdict, result: DeliveryResult, now: number): void {
    const wasClosed = domain.circuit.state(now) === 'closed';
    if (verdict.circuitFailure) {
      domain.circuit.onFailure(now);
      if (domain.circuit.state(now) === 'open') {
        const until = domain.circuit.openUntil() ?? now;
        this.app.events.emit('circuit-open', { domain: domain.key, until, failures: domain.circuit.failureThreshold });
        this.wakeAt(domain, until);
      }
    } else {
      domain.circuit.onSuccess(now);
      if (!wasClosed) this.app.events.emit('circuit-closed', { domain: domain.key });
    }
    if (verdict.kind === 'delivered') {
      domain.aimd.onSuccess(now);
      if (domain.aimd.effective >= domain.limit.concurrency && domain.pausedUntil <= now) domain.throttledSince = undefined;
      return;
    }
    if (verdict.kind === 'retry' && verdict.throttle) {
      domain.aimd.onThrottle(now);
      domain.throttledSince ??= now;
      if (verdict.pauseUntil !== undefined) domain.pausedUntil = Math.max(domain.pausedUntil, verdict.pauseUntil);
      const event: { domain: string; status?: number; until?: number; effectiveConcurrency: number } = {
        domain: domain.key,
        effectiveConcurrency: domain.aimd.effective,
      };
      if (result.status !== undefined) event.status = result.status;
      if (verdict.pauseUntil !== undefined) event.until = verdict.pauseUntil;
      this.app.events.emit('throttled', event);
    }
  }

  /** Queue the outcome of an attempt; a workflow step's last one first works out how its run moves on (the promise). */
  private recordOutcome(lane: Lane, message: StoredMessage, record: AttemptRecord, verdict: Verdict, result: DeliveryResult): Promise<void> | undefined {
    // The claim makes the outcome apply only while this node's claim is the message's current one.
    const claimed = { id: message.id, claim: message.claim };
    const base = { queue: lane.queue, tenant: lane.tenant, domain: lane.domain, latencyMs: record.latencyMs };
    if (verdict.kind === 'delivered') {
      this.app.events.emit('delivered', { ...base, status: result.status ?? 0 });
      const outcome: DeliveryOutcome = { ...claimed, kind: 'delivered', attempt: record };
      if (this.isStep(message)) return this.queueStepOutcome(outcome, message, result);
      this.queueOutcome(outcome);
      return undefined;
    }
    const failed = { ...base, willRetry: verdict.kind === 'retry', ...(result.status === undefined ? {} : { status: result.status }) };
    this.app.events.emit('failed', result.error ? { ...failed, error: result.error.code } : failed);
    if (verdict.kind === 'dead') {
      this.app.events.emit('dead', { id: message.id, queue: lane.queue, reason: verdict.reason, ...lastAttemptOf(result) });
      const outcome: DeliveryOutcome = { ...claimed, kind: 'dead', attempt: record, reason: verdict.reason };
      if (this.isStep(message)) return this.queueStepOutcome(outcome, message, result);
      this.queueOutcome(outcome);
      return undefined;
    }
    record.error ??= verdict.reason;
    if (lane.strict) {
      const held = { ...message, attempts: verdict.counts ? record.attempt : message.attempts };
      lane.held = { message: held, notBefore: verdict.at };
      this.wakeAt(this.domain(lane.domain), verdict.at);
      const leaseUntil = verdict.at + CLAIM_LEASE_MARGIN_MS;
      this.queueOutcome({ ...claimed, kind: 'hold', attempt: record, leaseUntil });
      return undefined;
    }
    this.queueOutcome({ ...claimed, kind: 'retry', attempt: record, deliverAt: verdict.at, countsAsAttempt: verdict.counts });
    return undefined;
  }

  /** Runs that moved with these outcomes: the runner tells of each move (events, its next step's lane). */
  private noteRunsMoved(batch: DeliveryOutcome[], moved: readonly string[]): void {
    if (moved.length === 0 || !this.app.workflows) return;
    const ids = new Set(moved);
    for (const outcome of batch) if (outcome.run && ids.has(outcome.run.runId)) this.app.workflows.changeStored(outcome.run);
  }

  private isStep(message: StoredMessage): boolean {
    return this.app.workflows !== undefined && message.origin.startsWith('workflow:');
  }

  /**
   * A workflow step's message is done: its run's next move goes with the outcome, in the same
   * transaction. When it cannot be worked out (the store unreachable), the outcome is not written:
   * the claim runs out and the step is sent again, as after a crash.
   */
  private async queueStepOutcome(outcome: DeliveryOutcome & { kind: 'delivered' | 'dead' }, message: StoredMessage, result: DeliveryResult): Promise<void> {
    try {
      const end = { kind: outcome.kind, attempts: outcome.attempt?.attempt ?? message.attempts + 1, result, ...(outcome.kind === 'dead' ? { reason: outcome.reason } : {}) };
      const run = await this.app.workflows!.stepEnded(message, end);
      this.queueOutcome(run ? { ...outcome, run } : outcome);
    } catch (error) {
      this.app.logger.error('moving a workflow run on failed; the step goes out again when its claim expires', { id: message.id, error: String(error) });
    }
  }

  private afterCompletion(domain: DomainState, tenant: TenantState, lane: Lane): void {
    this.runnable.add(domain);
    this.unblockTenant(tenant);
    if (lane.isIdle()) this.forget(lane);
    this.schedulePump();
  }

  private unblockTenant(tenant: TenantState): void {
    for (const domain of tenant.blocked) this.runnable.add(domain);
    tenant.blocked.clear();
  }

  // ── claiming lane heads from the store ──────────────────────

  private refillIfLow(lane: Lane, domain: DomainState): void {
    if (lane.claimed <= claimSize(domain) / 2) this.wantClaim(lane);
    else if (this.claimWanted.size > 0) this.scheduleClaims();
  }

  private wantClaim(lane: Lane): void {
    if (lane.exhausted || lane.loading || this.stopped) {
      if (lane.isIdle()) this.forget(lane);
      return;
    }
    const domain = this.domain(lane.domain);
    if (domain.pausedUntil - this.app.clock.now() > RELEASE_WHEN_PAUSED_MS) return;
    lane.refilling = true;
    this.claimWanted.set(lane.key, lane);
    this.scheduleClaims();
  }

  private scheduleClaims(): void {
    if (this.claimScheduled || this.claiming || this.stopped) return;
    this.claimScheduled = true;
    setImmediate(() => {
      this.claimScheduled = false;
      void this.runClaims();
    });
  }

  /** One store transaction claims the heads of many lanes, within the global buffer budget. */
  private async runClaims(): Promise<void> {
    const batch: { lane: Lane; max: number }[] = [];
    let budget = MAX_BUFFERED - this.buffered;
    for (const [key, lane] of this.claimWanted) {
      if (batch.length >= CLAIM_LANES_PER_TX || budget <= 0) break;
      const max = Math.min(claimSize(this.domain(lane.domain)), budget);
      this.claimWanted.delete(key);
      if (lane.exhausted || lane.loading) {
        lane.refilling = lane.loading;
        continue;
      }
      lane.loading = true;
      budget -= max;
      batch.push({ lane, max });
    }
    // Lanes left for a later claim (no buffer budget now) are not waited for: the buffers whose
    // draining frees the budget may be the very ones a wait would hold back.
    if (budget <= 0) for (const lane of this.claimWanted.values()) lane.refilling = false;
    if (batch.length === 0) return;
    this.claiming = true;
    const now = this.app.clock.now();
    try {
      const claimed = await this.app.store.claimLanes(
        batch.map(({ lane, max }) => ({ lane: { queue: lane.queue, domain: lane.domain }, max, strict: lane.strict })),
        now + CLAIM_LEASE_MARGIN_MS,
        now,
      );
      batch.forEach(({ lane, max }, index) => this.fillLane(lane, claimed[index] ?? [], max));
    } catch (error) {
      this.app.logger.error('claiming lane heads failed', { error: String(error) });
      for (const { lane } of batch) {
        lane.loading = false;
        lane.refilling = false;
        lane.exhausted = false;
      }
    } finally {
      this.claiming = false;
    }
    if (this.claimWanted.size > 0 && this.buffered < MAX_BUFFERED) this.scheduleClaims();
    this.schedulePump();
  }

  private fillLane(lane: Lane, messages: StoredMessage[], max: number): void {
    lane.loading = false;
    lane.refilling = false;
    lane.exhausted = messages.length < max && !lane.wokenWhileLoading;
    if (lane.wokenWhileLoading) {
      lane.wokenWhileLoading = false;
      lane.refilling = true;
      this.claimWanted.set(lane.key, lane);
    }
    if (this.stopped || this.lanes.get(lane.key) !== lane) {
      this.releaseMessages(messages);
      return;
    }
    const now = this.app.clock.now();
    const early: StoredMessage[] = [];
    const ready: StoredMessage[] = [];
    for (const message of messages) (message.deliverAt > now ? early : ready).push(message);
    lane.addClaimed(ready);
    lane.addEarly(early);
    this.buffered += messages.length;
    if (lane.isIdle()) return this.forget(lane);
    this.runnable.add(this.domain(lane.domain));
  }

  // ── bookkeeping ─────────────────────────────────────────────

  private queueOutcome(outcome: DeliveryOutcome): void {
    this.outcomes.push(outcome);
    if (this.outcomes.length >= OUTCOME_BATCH) {
      void this.flushOutcomes();
    } else if (this.outcomeTimer === undefined) {
      this.outcomeTimer = setTimeout(() => void this.flushOutcomes(), OUTCOME_FLUSH_MS);
    }
  }

  /**
   * Outcomes are written in batches: one transaction per OUTCOME_FLUSH_MS or per OUTCOME_BATCH
   * outcomes, whichever comes first. Nothing waits for them (a lost outcome means a redelivery,
   * which at-least-once allows), and each commit writes whole 4 KiB pages to the WAL (state rows,
   * index leaves, attempts): a commit per event-loop turn with a few outcomes each multiplied the WAL
   * written, and with it the checkpoints, each of which stalls the event loop for ~8–15 ms here.
   */
  private flushOutcomes(): Promise<void> {
    if (this.outcomeTimer !== undefined) clearTimeout(this.outcomeTimer);
    this.outcomeTimer = undefined;
    if (this.outcomes.length === 0) return this.outcomeFlush ?? Promise.resolve();
    const batch = this.outcomes;
    this.outcomes = [];
    const previous = this.outcomeFlush ?? Promise.resolve();
    const flush = previous
      .then(() => this.app.store.completeDeliveries(batch, this.app.clock.now()))
      .then((moved) => {
        this.hintRetries(batch);
        this.noteRunsMoved(batch, moved);
      })
      .catch((error: unknown) => this.retryOutcomes(batch, error));
    this.outcomeFlush = flush;
    return flush;
  }

  /**
   * Outcomes that could not be written (the database is unreachable) are written again later, before
   * newer ones: a delivered message left inflight would otherwise wait under this node's claim, which
   * a live node keeps renewing. Once stopped, they are given up (the claims expire, and at-least-once
   * delivers those messages again).
   */
  private retryOutcomes(batch: DeliveryOutcome[], error: unknown): void {
    this.app.logger.error('recording delivery outcomes failed', { error: String(error), count: batch.length });
    if (this.stopped) return;
    this.outcomes = batch.concat(this.outcomes);
    if (this.outcomeTimer !== undefined) clearTimeout(this.outcomeTimer);
    this.outcomeTimer = setTimeout(() => void this.flushOutcomes(), OUTCOME_RETRY_MS);
  }

  /** Only once a retry's new due time is stored may the timer wake for it: earlier, it would find nothing. */
  private hintRetries(batch: DeliveryOutcome[]): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const outcome of batch) if (outcome.kind === 'retry' && outcome.deliverAt < earliest) earliest = outcome.deliverAt;
    if (Number.isFinite(earliest)) this.app.hintDue(earliest, true);
  }

  private releaseBuffers(domain: DomainState): void {
    for (const lane of domain.lanes()) {
      this.handBack(lane);
      lane.exhausted = false;
    }
  }

  /** Everything a lane claimed and has not sent goes back to the store as ready. */
  private handBack(lane: Lane): void {
    const messages = lane.takeAllBuffered();
    this.buffered -= messages.length;
    this.releaseMessages(messages);
  }

  private releaseMessages(messages: StoredMessage[]): void {
    for (const message of messages) this.queueOutcome({ id: message.id, claim: message.claim, kind: 'release' });
  }

  private onQueueChange(name: string, change: 'upsert' | 'delete'): void {
    const queue = this.app.queues.get(name);
    for (const lane of [...this.lanes.values()]) {
      if (lane.queue !== name) continue;
      if (change === 'delete' || !queue || queue.config.paused || queue.config.mode !== 'push') {
        this.handBack(lane);
        lane.exhausted = true;
        if (lane.isIdle()) this.forget(lane);
      } else lane.strict = queue.config.ordering === 'strict';
    }
    if (queue && !queue.config.paused) void this.wakeQueues([name]);
  }

  private forget(lane: Lane): void {
    if (this.lanes.get(lane.key) !== lane) return;
    this.lanes.delete(lane.key);
    this.claimWanted.delete(lane.key);
    const domain = this.domains.get(lane.domain);
    domain?.removeLane(lane);
    if (domain && domain.laneCount() === 0 && domain.inFlight === 0 && isQuiet(domain, this.app.clock.now())) {
      this.domains.delete(domain.key);
    }
  }

  private backpressure(domain: DomainState, reason: 'concurrency' | 'rate' | 'tenant' | 'global' | 'retry-after' | 'circuit', now: number, tenant?: string): void {
    const key = `${domain.key}\u0000${reason}`;
    if ((this.lastBackpressure.get(key) ?? 0) + BACKPRESSURE_EVENT_EVERY_MS > now) return;
    const waiting = this.bufferedFor(domain);
    // A limit that holds nothing back is not backpressure.
    if (waiting === 0 && !domain.lanes().some((lane) => lane.held || !lane.exhausted)) return;
    if (this.lastBackpressure.size > 10_000) this.lastBackpressure.clear();
    this.lastBackpressure.set(key, now);
    this.app.events.emit('backpressure', tenant === undefined ? { domain: domain.key, reason, waiting } : { domain: domain.key, reason, waiting, tenant });
  }

  /** The node-wide cap holds work back: one event for the node, not one per waiting domain. */
  private globalBackpressure(now: number): void {
    if ((this.lastBackpressure.get('*') ?? 0) + BACKPRESSURE_EVENT_EVERY_MS > now) return;
    this.lastBackpressure.set('*', now);
    this.app.events.emit('backpressure', { domain: '*', reason: 'global', waiting: this.buffered });
  }

  private wakeAt(domain: DomainState, at: number): void {
    this.wakeups.push(at, domain);
    if (at >= this.wakeTimerAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimerAt = at;
    this.wakeTimer = setTimeout(() => this.onWakeTimer(), Math.max(0, at - this.app.clock.now()));
  }

  private onWakeTimer(): void {
    this.wakeTimer = undefined;
    this.wakeTimerAt = Number.POSITIVE_INFINITY;
    const now = this.app.clock.now();
    while (this.wakeups.size > 0 && this.wakeups.peekKey()! <= now) this.runnable.add(this.wakeups.pop()!);
    const next = this.wakeups.peekKey();
    if (next !== undefined) {
      const domain = this.wakeups.pop()!;
      this.wakeAt(domain, next);
    }
    this.pump();
  }

  private lane(queue: string, domain: string, tenant: string, strict: boolean): Lane {
    const key = laneKey(queue, domain);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = new Lane(queue, domain, tenant, strict);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  domain(key: string): DomainState {
    let domain = this.domains.get(key);
    if (!domain) {
      domain = new DomainState(key, this.limits.resolve(key), { failureThreshold: 20, coolDownMs: 30_000 }, this.guard.localRate);
      this.domains.set(key, domain);
    }
    return domain;
  }

  private tenant(name: string): TenantState {
    let tenant = this.tenants.get(name);
    if (!tenant) {
      tenant = { inFlight: 0, limit: undefined, blocked: new Set() };
      this.tenants.set(name, tenant);
    }
    return tenant;
  }

  /**
   * Stop: no new deliveries; wait for those in flight (up to `timeoutMs`), then abort those still
   * running and hand them back as ready, with buffered and held messages, so that they go out first
   * after a restart. A target that never answers cannot hold the stop past the deadline.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    const inFlight = Promise.allSettled([...this.inFlight]);
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => (deadline = setTimeout(() => resolve('expired'), timeoutMs)));
    const outcome = await Promise.race([inFlight, expired]);
    clearTimeout(deadline);
    if (outcome === 'expired' && this.inFlight.size > 0) {
      this.app.logger.warn('shutdown deadline passed; aborting deliveries in flight', { count: this.inFlight.size, timeoutMs });
      this.abandoned = true;
      await this.client.destroy();
      await inFlight;
    }
    for (const lane of this.lanes.values()) {
      this.releaseMessages(lane.takeAllBuffered());
      if (lane.held) this.releaseMessages([lane.held.message]);
      lane.held = undefined;
    }
    await this.flushOutcomes();
    await this.client.close();
  }
}

/** Claim enough to keep the domain busy without hoarding: twice its concurrency, capped. */
function claimSize(domain: DomainState): number {
  const { ratePerSecond, burst } = domain.limit;
  // A paced lane drains at its rate, whatever its concurrency: half a second of it is in hand, so
  // that a claim (a store round trip) comes every few dozen deliveries, not every few.
  const wanted = ratePerSecond === undefined ? domain.aimd.effective * 2 : Math.ceil(ratePerSecond / 2) + burst;
  return Math.max(2, Math.min(CLAIM_MAX, wanted));
}

/** A domain with no lanes can be forgotten unless it carries state worth keeping (throttle, circuit). */
function isQuiet(domain: DomainState, now: number): boolean {
  return domain.pausedUntil <= now && domain.circuit.state(now) === 'closed' && domain.aimd.effective >= domain.limit.concurrency;
}

/** The status or error code of a message's last attempt, as its dead event reports them. */
function lastAttemptOf(result: DeliveryResult): { status?: number; error?: string } {
  const last: { status?: number; error?: string } = {};
  if (result.status !== undefined) last.status = result.status;
  if (result.error) last.error = result.error.code;
  return last;
}

function attemptRecord(attempt: number, startedAt: number, result: DeliveryResult): AttemptRecord {
  const record: AttemptRecord = { attempt, startedAt, latencyMs: result.latencyMs };
  if (result.status !== undefined) record.status = result.status;
  if (result.error) record.error = `${result.error.code}: ${result.error.message}`;
  if (result.body !== undefined) record.response = attemptResponse(result.body);
  return record;
}
