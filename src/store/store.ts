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
  RunWithSteps,
  WorkflowRecord,
} from './types.js';

export * from './types.js';

/** Result of acknowledging receipts: how many were acked, and which receipts no longer held a lease. */
export interface AckResult {
  acked: number;
  stale: string[];
}

/** One lane to claim from, at most `max` messages. */
export interface ClaimRequest {
  lane: LaneRef;
  max: number;
  strict?: boolean;
}

/** What expiring leases and promoting due messages did, so waiters and lanes can be woken. */
export interface WakeReport {
  /** Queues that gained ready messages. */
  queues: Set<string>;
  /** Push lanes that gained ready messages. */
  lanes: LaneRef[];
  /** Messages that went to dead (receives exhausted). */
  dead: { id: string; queue: string }[];
}

/**
 * The one storage contract. SQLite implements it for a single node; a PostgreSQL implementation
 * serves several nodes. Every method is async so a networked backend fits without changing callers;
 * every method that changes several rows does so in one transaction.
 */
export interface Store {
  // ── messages in ─────────────────────────────────────────────
  /** Append messages in one transaction (group commit). Resolves only once durable. */
  appendMessages(messages: NewMessage[], now: number): Promise<AppendResult[]>;

  // ── pull ────────────────────────────────────────────────────
  /** Lease up to `max` ready messages of a queue, oldest first. */
  leaseBatch(queue: string, max: number, visibilityMs: number, now: number): Promise<LeasedMessage[]>;
  ack(queue: string, receipts: string[], now: number): Promise<AckResult>;
  /**
   * Return leased messages to ready (or scheduled after delayMs); a message already received
   * `maxReceives` times goes to dead instead. Stale receipts are reported, not changed.
   */
  nack(
    queue: string,
    receipts: string[],
    delayMs: number,
    now: number,
    maxReceives: number,
  ): Promise<{ requeued: number; dead: string[]; stale: string[] }>;
  extend(queue: string, receipts: string[], visibilityMs: number, now: number): Promise<{ extended: number; stale: string[] }>;
  /**
   * Leases whose messages never reached the consumer (it hung up while they were being leased for
   * it): ready again at once, in their place in line, and the receive is not counted toward
   * maxReceives. Returns how many went back; stale receipts are skipped.
   */
  returnUnsent(queue: string, receipts: string[], now: number): Promise<number>;

  // ── time ────────────────────────────────────────────────────
  /**
   * Scheduled messages whose time has come become ready; expired leases become ready (or dead).
   * Push messages (those with a domain) due within `pushLeadMs` become ready already: the dispatcher
   * claims them a moment early and holds each until its deliverAt. Pull messages never do.
   * `maxReceives` gives each pull queue's limit (DEFAULT_MAX_RECEIVES for a queue not in it).
   */
  wake(now: number, maxReceives: ReadonlyMap<string, number>, pushLeadMs?: number): Promise<WakeReport>;
  /** The earliest future moment `wake` (with the same lead) would do something, or undefined. */
  nextWakeAt(pushLeadMs?: number): Promise<number | undefined>;

  // ── push ────────────────────────────────────────────────────
  /** Lanes (queue, domain) that have ready push messages now. */
  readyLanes(queues: string[]): Promise<LaneRef[]>;
  /**
   * Claim the oldest ready messages of several lanes in one transaction: they become inflight with a
   * lease until `leaseUntil`. Result i holds lane i's messages, oldest first. A `strict` lane (ordered
   * delivery) is claimed only while no other node holds messages of it: on a shared store one node
   * at a time delivers a strict lane, so its order holds across nodes.
   */
  claimLanes(requests: ClaimRequest[], leaseUntil: number, now: number): Promise<StoredMessage[][]>;
  /**
   * Record finished deliveries in one transaction, with the run changes they carry. Returns the ids
   * of the runs that moved (a change applies only with its outcome, and only at its version).
   */
  completeDeliveries(outcomes: DeliveryOutcome[], now: number): Promise<string[]>;
  /** On start of a single node: every inflight message whose node is gone becomes ready again. */
  releaseClaims(now: number): Promise<number>;

  // ── reading and managing messages ───────────────────────────
  getMessage(id: string): Promise<StoredMessage | undefined>;
  getAttempts(id: string): Promise<AttemptRecord[]>;
  /**
   * Messages newest first, filtered, one page at a time. A page costs a bounded amount of work
   * whatever the store holds (it may end early with a nextCursor), so a listing never holds up ingest.
   */
  listMessages(filter: ListMessagesFilter): Promise<MessagePage>;
  /**
   * Cancel a message that is scheduled or ready, or in flight when `withdrawn` (the dispatcher let go
   * of it before sending it). Returns its state after the call (undefined: no such message).
   */
  cancel(id: string, now: number, withdrawn?: boolean): Promise<MessageState | undefined>;
  /**
   * Dead messages of a queue that belong to `tenant` become ready again with attempts reset. Without
   * ids, the oldest `limit` of them (all when `limit` is absent): a caller replaying a large
   * dead-letter queue takes it in steps, so that no one call holds storage for long. A message of
   * another tenant under the same name is never touched.
   */
  replayDead(queue: string, tenant: string, ids: string[] | undefined, now: number, limit?: number): Promise<{ replayed: string[]; lanes: LaneRef[] }>;
  /**
   * Delete terminal messages (delivered, acked, cancelled) updated before `before`, expired dedupe
   * keys, and workflow runs that ended before `before` with their steps. Returns the messages deleted.
   */
  purge(before: number, now: number, limit: number): Promise<number>;

  // ── queues, tenants, keys, limits, schedules ────────────────
  queueCounts(): Promise<Map<string, QueueCounts>>;
  /** Ready and scheduled push messages per destination domain. */
  domainBacklog(): Promise<Map<string, DomainBacklog>>;
  /**
   * Store a queue definition; its tenant becomes the owner of the name. Throws an error with code
   * QUEUE_NAME_TAKEN when another tenant owns the name and messages of the queue are still stored.
   */
  upsertQueue(queue: QueueRecord): Promise<void>;
  listQueues(): Promise<QueueRecord[]>;
  /**
   * Delete a queue with all its messages (dead and finished ones too) and its ownership. Refused
   * (deleted: false, nothing changed) while messages are pending, unless `force`.
   */
  deleteQueue(name: string, force?: boolean): Promise<QueueDeletion>;

  upsertTenant(tenant: TenantRecord): Promise<void>;
  listTenants(): Promise<TenantRecord[]>;
  addApiKey(key: ApiKeyRecord): Promise<void>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Delete a tenant's key; its hash (to forget it in memory), or undefined when there was none. */
  revokeApiKey(tenant: string, id: string): Promise<string | undefined>;
  /** Record when keys were last used (batched by the caller; a key that no longer exists is skipped). */
  touchApiKeys(used: { hash: string; at: number }[]): Promise<void>;

  upsertDomainLimit(limit: DomainLimitRecord): Promise<void>;
  deleteDomainLimit(key: string): Promise<boolean>;
  listDomainLimits(): Promise<DomainLimitRecord[]>;

  upsertSchedule(schedule: ScheduleRecord): Promise<void>;
  listSchedules(): Promise<ScheduleRecord[]>;
  deleteSchedule(name: string): Promise<boolean>;
  /**
   * Fire one schedule tick: append its messages, move the schedule's next run and add the messages to
   * its run count (lastRunAt becomes `now` when there are any), in one transaction, so a crash
   * neither fires a tick twice, nor loses it, nor counts it wrong. Fails (returns false), changing
   * nothing, if the schedule's nextRunAt or run count is no longer what `expected` says (another
   * node or a PATCH got there first): so maxRuns holds even for a node that read an old count.
   */
  fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number): Promise<boolean>;
  /**
   * The same for a schedule whose ticks start workflow runs (as WorkflowRunner.plan made them): each
   * run is started in that transaction as appendWithRuns starts one (its row, steps and first message) and
   * counted as a run of the schedule, like a message. Resolves with the runs started, in order, or
   * false when it fired nothing.
   */
  fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number, runs: NewRun[]): Promise<RunStart[] | false>;

  /**
   * Store a source made through the API, or replace its config (its tenant and createdAt stay).
   * Throws an error with code SOURCE_NAME_TAKEN, changing nothing, when the name is another tenant's.
   */
  upsertSource(source: SourceRecord): Promise<void>;
  listSources(): Promise<SourceRecord[]>;
  deleteSource(name: string): Promise<boolean>;

  // ── the vault and templates (secrets/, templates/) ──────────
  /**
   * Store a sealed secret, or replace its seal (its createdAt stays). The store never sees a value:
   * only what the vault sealed.
   */
  upsertSecret(secret: SecretRecord): Promise<void>;
  /** Every tenant's secrets, sealed, ordered by tenant and name. */
  listSecrets(): Promise<SecretRecord[]>;
  deleteSecret(tenant: string, name: string): Promise<boolean>;
  /**
   * Key rotation: write each new seal in one transaction, but only where the row still holds the
   * seal it was made from (a secret changed or deleted meanwhile is left alone). Returns how many
   * rows were written.
   */
  resealSecrets(changes: ResealedSecret[]): Promise<number>;
  /** Store a template made through the API, or replace its config (its createdAt stays). */
  upsertTemplate(template: TemplateRecord): Promise<void>;
  /** Every tenant's stored templates, ordered by tenant and name. */
  listTemplates(): Promise<TemplateRecord[]>;
  deleteTemplate(tenant: string, name: string): Promise<boolean>;

  // ── workflows and their runs (workflows/) ───────────────────
  /** Store a workflow made through the API, or replace its config (its createdAt stays). */
  upsertWorkflow(workflow: WorkflowRecord): Promise<void>;
  /** Every tenant's stored workflows, ordered by tenant and name. */
  listWorkflows(): Promise<WorkflowRecord[]>;
  deleteWorkflow(tenant: string, name: string): Promise<boolean>;
  /**
   * Append messages (a routed request's group) and start runs in one transaction: a request routed
   * to queues and to workflows is stored whole or not at all. Each run's row, its first step rows and
   * its first step's message go in together (the step row gets the message's id); a run whose
   * idempotency key a run of the same tenant and workflow already has writes nothing and answers
   * that run (`created: false`).
   */
  appendWithRuns(messages: NewMessage[], runs: NewRun[], now: number): Promise<{ results: AppendResult[]; runs: RunStart[] }>;
  getRun(id: string): Promise<RunWithSteps | undefined>;
  /** Runs newest first, filtered, one page at a time. */
  listRuns(filter: ListRunsFilter): Promise<RunPage>;
  /** Apply a change to a run (cancel, resume) on its own; false, changing nothing, when the run is not at change.version. */
  changeRun(change: RunChange, now: number): Promise<boolean>;

  // ── sluice.yaml settings as last applied (config/file-settings.ts) ──
  listFileSettings(): Promise<FileSettingRecord[]>;
  /** Replace every remembered file setting with these, in one transaction. */
  replaceFileSettings(settings: FileSettingRecord[]): Promise<void>;

  /** Storage reachable and writable? */
  ping(): Promise<void>;
  close(): Promise<void>;
}
