/**
 * Shapes shared by every storage backend. The Store interface (store.ts) speaks only in these.
 */

/**
 * Life of a message:
 * scheduled (deliverAt in the future) → ready → leased (pull) | inflight (push)
 * → acked (pull) | delivered (push) · dead (retries or receives exhausted) · cancelled.
 */
export type MessageState = 'scheduled' | 'ready' | 'leased' | 'inflight' | 'delivered' | 'acked' | 'dead' | 'cancelled';

export const MESSAGE_STATES: readonly MessageState[] = [
  'scheduled',
  'ready',
  'leased',
  'inflight',
  'delivered',
  'acked',
  'dead',
  'cancelled',
];

/** A message's priority when none is given: 0 is the least urgent, 9 the most. */
export const DEFAULT_PRIORITY = 5;

/** Receives a pull message may have before it goes to dead, for a queue whose limit is not known. */
export const DEFAULT_MAX_RECEIVES = 10;

/** States in which a message still counts toward its queue's depth. */
export const PENDING_STATES: readonly MessageState[] = ['scheduled', 'ready', 'leased', 'inflight'];

/** One header as received: order and repeats are kept. */
export type HeaderPair = [name: string, value: string];

/** What every message carries, new or stored: the request and where it goes. */
export interface MessageFields {
  queue: string;
  tenant: string;
  method: string;
  /** Sub-path after /in/{source} for ingest, or the path of the target for outbound messages. */
  path: string;
  /** Raw query string without '?'. */
  query: string;
  headers: HeaderPair[];
  body: Buffer;
  /** Push: the target URL (absent = the queue's url). */
  url?: string;
  /** Push: the limit key of the target (host or host:port); '' for pull queues. */
  domain: string;
  receivedAt: number;
  deliverAt: number;
  /** Which source or API call created it. */
  origin: string;
  /** Per-message retry override, JSON of a RetryPolicy. */
  retry?: string;
  /**
   * 0 (least urgent) to 9 (most); DEFAULT_PRIORITY when absent. Ready messages of a lane or pull
   * queue go out highest priority first, FIFO within a priority.
   */
  priority?: number;
}

/** A message as the writer hands it to the store. */
export interface NewMessage extends MessageFields {
  /** Dedupe or idempotency: an existing live key returns the first message's id and stores nothing. */
  dedupe?: { scope: string; key: string; expiresAt: number };
  /**
   * Routing: the messages one request was routed to share one stored payload (headers and body).
   * The first of them is the `lead`: it carries the dedupe key and its payload is stored. Each other
   * one `follows` the lead that stands that many places before it in the same append: its own
   * headers and body (the same ones) are not stored again, and when the lead is a duplicate, so is it
   * (with the lead's id). A follower differs from its lead only in queue, tenant, url, domain and
   * priority: a store may take every other field from the lead. Stores keep a routed request's
   * messages together, in one transaction.
   */
  payload?: 'lead' | { follows: number };
}

/** What a commit did with one NewMessage. */
export type AppendResult = { id: string; duplicate: boolean; deliverAt: number };

/** A message as read back. */
export interface StoredMessage extends MessageFields {
  id: string;
  state: MessageState;
  priority: number;
  /** Pull: times received; push: delivery attempts made. */
  attempts: number;
  leaseUntil?: number;
  updatedAt: number;
  lastError?: string;
  /**
   * Push, on the messages claimLanes returns: names this one claim of the message. Passed back in its
   * DeliveryOutcome, it makes a late outcome harmless: once the claim expired and the message was
   * claimed again (by any node), an outcome of the old claim changes nothing.
   */
  claim?: string;
}

/** A leased pull message: the receipt is needed to ack, nack or extend it. */
export interface LeasedMessage extends StoredMessage {
  receipt: string;
}

/** One delivery attempt of a push message. */
export interface AttemptRecord {
  /** Counted attempt number (a Retry-After wait does not count, so two records may share a number). */
  attempt: number;
  startedAt: number;
  status?: number;
  latencyMs: number;
  error?: string;
  /** First KiB of the response body. */
  response?: string;
}

/**
 * How one finished delivery changes its message. `claim` is the message's `claim` as claimLanes gave
 * it: with it, the outcome applies only while that claim is still the message's current one; without
 * it, to whichever claim is current. The PostgreSQL store checks it; the SQLite store does not yet.
 */
export type DeliveryOutcome = { claim?: string } & (
  | { id: string; kind: 'delivered'; attempt: AttemptRecord }
  | { id: string; kind: 'retry'; attempt?: AttemptRecord; deliverAt: number; countsAsAttempt: boolean }
  | { id: string; kind: 'dead'; attempt?: AttemptRecord; reason: string }
  /** Strict ordering: the attempt is recorded but the message stays claimed (inflight) for its next try. */
  | { id: string; kind: 'hold'; attempt: AttemptRecord; leaseUntil: number }
  /** Handed back without an attempt (domain paused, shutdown): ready again at once, same place in line. */
  | { id: string; kind: 'release' }
) & {
  /**
   * A workflow step's message: how its run moves on, applied in the same transaction as the outcome
   * (and not at all when the outcome no longer applies, or the run is no longer at the change's version).
   */
  run?: RunChange;
};

export interface ListMessagesFilter {
  tenant?: string;
  queue?: string;
  state?: MessageState;
  /** Most messages in the page. */
  limit: number;
  /** Exclusive upper bound on the id (newest first): a previous page's nextCursor. */
  before?: string;
}

/**
 * One page of a newest-first listing. A store bounds the work of one page, so a page may hold fewer
 * than `limit` messages (none, even) and still have a nextCursor: the next page goes on from there.
 */
export interface MessagePage {
  messages: StoredMessage[];
  /** Pass as `before` for the next page; absent when nothing older matches. */
  nextCursor?: string;
}

/** A queue's definition as stored. `config` is a QueueConfig. */
export interface QueueRecord {
  name: string;
  tenant: string;
  config: unknown;
  createdAt: number;
}

/**
 * A source made through the API (PUT /v1/sources/{name}), owned by its tenant; sluice.yaml's sources
 * are never stored. `config` is a SourceConfig as parsed, read back through the schema at start.
 */
export interface SourceRecord {
  name: string;
  tenant: string;
  config: unknown;
  createdAt: number;
}

export interface ScheduleRecord {
  name: string;
  tenant: string;
  /** JSON of a ScheduleConfig. */
  spec: unknown;
  paused: boolean;
  /** Absent once the schedule is completed (no run left). */
  nextRunAt?: number;
  /** When a tick last sent something. */
  lastRunAt?: number;
  createdAt: number;
  /**
   * Runs so far (skipped ticks do not count), as the store counted them: fireSchedule adds each
   * tick's messages; upsertSchedule never writes it (a new row starts at 0). Always set when read.
   */
  runs?: number;
}

/** A schedule as the node that fires it read it: its next run and its run count (Store.fireSchedule checks both). */
export interface ScheduleMark {
  runAt: number;
  runs: number;
}

export interface TenantRecord {
  name: string;
  concurrency?: number;
  /** Most messages waiting in all the tenant's queues together (a quota); none when absent. */
  maxDepth?: number;
  /** Most bytes (storedSize) of all the tenant's stored messages together (a quota); none when absent. */
  maxStoredBytes?: number;
  createdAt: number;
}

export interface DomainLimitRecord {
  key: string;
  concurrency?: number;
  ratePerSecond?: number;
  burst?: number;
}

/** Which kind of sluice.yaml entry a remembered file setting belongs to (config/file-settings.ts). */
export type FileSettingKind = 'queue' | 'schedule' | 'domainLimit' | 'tenantLimit';

/** One setting of one sluice.yaml entry, with the JSON of the value last applied from the file. */
export interface FileSettingRecord {
  kind: FileSettingKind;
  name: string;
  setting: string;
  value: string;
}

/** Counts per state for one queue, plus the arrival time of its oldest ready message. */
export interface QueueCounts {
  states: Record<MessageState, number>;
  /** Bytes of the queue's stored messages (storedSize), in any state, until retention deletes them. */
  storedBytes: number;
  oldestReadyAt?: number;
}

/**
 * Bytes a message takes in storage, as a tenant's maxStoredBytes counts them: its body and its
 * headers as stored (a JSON array of [name, value]). Every store counts the same way.
 */
export function storedSize(message: Pick<MessageFields, 'headers' | 'body'>): number {
  return message.body.byteLength + Buffer.byteLength(JSON.stringify(message.headers));
}

/** A (queue, domain) lane with ready push messages. */
export interface LaneRef {
  queue: string;
  domain: string;
}

/** One string per (queue, domain) lane, for maps keyed by lane (NUL cannot occur in either part). */
export function laneKey(queue: string, domain: string): string {
  return `${queue}\u0000${domain}`;
}

/** Push messages waiting for one destination domain. */
export interface DomainBacklog {
  ready: number;
  scheduled: number;
}

/** An API key as stored: only its hash, plus what may be shown (id, a short prefix of the key). */
export interface ApiKeyRecord {
  /** Public handle to list and revoke the key by; unique within its tenant. */
  id: string;
  /** SHA-256 of the key, hex. */
  hash: string;
  /** The first characters of the key (`sk_AbCd`), to recognise it; absent for keys made before prefixes were kept. */
  prefix?: string;
  tenant: string;
  createdAt: number;
  lastUsedAt?: number;
}

/** What deleting a queue did: nothing while messages still wait (unless forced), else how many messages went with it. */
export interface QueueDeletion {
  deleted: boolean;
  /** Messages not yet delivered, acked or dead (scheduled, ready, leased, in flight) when asked. */
  pending: number;
  /** Messages deleted with the queue (any state). */
  messages: number;
}

/**
 * Thrown by Store.upsertQueue when the name belongs to another tenant that still has messages stored
 * under it. Crosses the store thread as an Error with this `code`.
 */
export const QUEUE_NAME_TAKEN = 'SLUICE_STORE_QUEUE_NAME_TAKEN';

export function queueNameTaken(name: string): Error {
  return Object.assign(new Error(`queue name ${name} is taken`), { code: QUEUE_NAME_TAKEN });
}

/**
 * Thrown by Store.upsertSource when a source of that name belongs to another tenant (nothing is
 * changed). Crosses the store thread as an Error with this `code`.
 */
export const SOURCE_NAME_TAKEN = 'SLUICE_STORE_SOURCE_NAME_TAKEN';

export function sourceNameTaken(name: string): Error {
  return Object.assign(new Error(`source name ${name} is taken`), { code: SOURCE_NAME_TAKEN });
}

/**
 * A secret of the vault (PUT /v1/secrets/{name}) as stored: sealed, never its value. `tenant` and
 * `name` are the associated data of the seal, so a sealed value copied to another row does not open.
 */
export interface SecretRecord {
  tenant: string;
  name: string;
  /** The sealed value (secrets/seal.ts): base64 of nonce, ciphertext and tag. */
  sealed: string;
  /** The version of the vault key that sealed it: the key's fingerprint (secrets/vault-key.ts). */
  keyId: string;
  createdAt: number;
  updatedAt: number;
}

/** One secret re-sealed under another key: written only while its row still holds `from`. */
export interface ResealedSecret {
  tenant: string;
  name: string;
  /** The sealed value the re-seal was made from; a row changed since (a PUT) is left as it is. */
  from: string;
  sealed: string;
  keyId: string;
}

/**
 * A template made through the API (PUT /v1/templates/{name}), owned by its tenant and named within
 * it. `config` is a TemplateConfig as parsed; sluice.yaml's templates are never stored.
 */
export interface TemplateRecord {
  tenant: string;
  name: string;
  config: unknown;
  createdAt: number;
  updatedAt: number;
}

/**
 * A workflow made through the API (PUT /v1/workflows/{name}), owned by its tenant and named within
 * it. `config` is a WorkflowConfig as parsed; sluice.yaml's workflows are never stored.
 */
export interface WorkflowRecord {
  tenant: string;
  name: string;
  config: unknown;
  createdAt: number;
  updatedAt: number;
}

/** Where a workflow run is: `running` until it ends one of the other three ways. */
export type RunState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export const RUN_STATES: readonly RunState[] = ['running', 'succeeded', 'failed', 'cancelled'];

/**
 * One step of a run as it went: `pending` while its message waits or is being sent, then
 * `succeeded` (delivered), `failed` (dead, or its request could not be made), `skipped` (its `when`
 * was false) or `cancelled` (the run was cancelled while it waited).
 */
export type StepState = 'pending' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** What a step's target answered, as kept with the run: the body's first 64 KiB, secrets scrubbed. */
export interface StepResponse {
  status?: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One step a run took, in order (`seq` 0, 1, …): a run that loops through branches takes the same
 * step again under a new seq. `steps.<name>` in a later step reads the last seq of that name.
 */
export interface RunStep {
  seq: number;
  name: string;
  state: StepState;
  /** The step's message, once it has one (skipped steps, and requests that could not be made, have none). */
  messageId?: string;
  attempts: number;
  response?: StepResponse;
  error?: string;
  updatedAt: number;
}

/** A workflow run as stored: the definition it started with (a redefinition does not reach it) and its variables. */
export interface RunRecord {
  id: string;
  tenant: string;
  workflow: string;
  /** The WorkflowConfig the run started with. */
  definition: unknown;
  vars: unknown;
  state: RunState;
  error?: string;
  idempotencyKey?: string;
  createdAt: number;
  updatedAt: number;
  /**
   * Bumped by every change of the run. A RunChange names the version it was worked out from and
   * applies only to that one: a change made from a stale read (the run was cancelled meanwhile, or
   * another node moved it) changes nothing.
   */
  version: number;
}

/** A run as read back, with the steps it took so far. */
export interface RunWithSteps {
  run: RunRecord;
  steps: RunStep[];
}

/**
 * Where a run stands after a start or a move: its state, the step rows to write, and the message of
 * the last of them when that one is pending (its id goes into that row).
 */
export interface RunMove {
  /** `running`, or over (every step skipped, a request that could not be made, the end reached). */
  state: RunState;
  error?: string;
  steps: RunStep[];
  message?: NewMessage;
}

/** A run to start: its first steps (skipped ones, then the pending one whose message is `message`). */
export interface NewRun extends RunMove {
  tenant: string;
  workflow: string;
  definition: unknown;
  vars: unknown;
  /** The same key for the same tenant and workflow gives the first run back (while it is kept). */
  idempotencyKey?: string;
}

/** What starting a run did: its id, and whether it is new or an earlier run with the same idempotency key. */
export interface RunStart {
  id: string;
  state: RunState;
  created: boolean;
}

/**
 * How a run moves on, in one transaction: its new state, the step rows to write (a row whose seq
 * exists is replaced, others are added), the next step's message (its id goes into the pending step
 * row, the last of `steps`), and messages of the run to cancel (scheduled or ready ones; cancelling
 * a run). Applies only while the run is at `version`; applied, the version goes up by one.
 */
export interface RunChange extends RunMove {
  runId: string;
  version: number;
  cancelMessages?: string[];
  /** The dispatcher let go of cancelMessages before sending them (Store.cancel's `withdrawn`): cancelled even in flight. */
  withdrawn?: boolean;
}

export interface ListRunsFilter {
  tenant?: string;
  workflow?: string;
  state?: RunState;
  limit: number;
  /** Exclusive: runs older than this id (a previous page's nextCursor). */
  before?: string;
}

export interface RunPage {
  runs: RunRecord[];
  nextCursor?: string;
}

/**
 * The message of a workflow step names its run and step in its origin, `workflow:<run id>:<seq>`,
 * so the delivery that finishes it can move the run on.
 */
export function stepOrigin(runId: string, seq: number): string {
  return `workflow:${runId}:${seq}`;
}

/** The run and step a message's origin names, or undefined for a message of no workflow. */
export function stepOf(origin: string): { runId: string; seq: number } | undefined {
  if (!origin.startsWith('workflow:')) return undefined;
  const [, runId, seq] = origin.split(':');
  const n = Number(seq);
  return runId && Number.isInteger(n) ? { runId, seq: n } : undefined;
}
