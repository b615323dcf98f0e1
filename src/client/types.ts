import type { DomainStats, QueueStats, TenantStats } from '../observe/stats.js';
import type { Condition } from '../routing/conditions.js';
import type { RoutingExplanation } from '../routing/routes.js';
import type { SourceCounts } from '../routing/source-registry.js';
import type { RunState, StepState } from '../store/types.js';
import type { RunStreamEvent, RunStreamEventType } from '../observe/run-events.js';

/**
 * The JSON shapes of the Sluice HTTP API, as the client sends and receives them. Where the server
 * has the same shape as a plain type it is imported from there, type-only, so that importing the
 * client still loads nothing of the server; the client tests check every route's answer against
 * these shapes.
 */

export type MessageState = 'scheduled' | 'ready' | 'leased' | 'inflight' | 'delivered' | 'acked' | 'dead' | 'cancelled';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

// ── messages ──────────────────────────────────────────────────

/** A retry policy as written: every field optional, the defaults fill the rest. */
export interface RetryPolicyInput {
  /** Attempts in all, the first included (default 12). */
  maxAttempts?: number;
  backoff?: { initialMs?: number; maxMs?: number; multiplier?: number };
  /** Statuses to retry, replacing 408, 425, 429 and 5xx. */
  retryOn?: number[];
}

/** A retry policy as Sluice reports it, defaults filled in. */
export interface RetryPolicy {
  maxAttempts: number;
  initialMs: number;
  maxMs: number;
  multiplier: number;
  retryOn?: number[];
}

/** One outbound webhook for `POST /v1/messages`. */
export interface OutboundMessageInput {
  /** Absent: the queue's url. */
  url?: string;
  method?: HttpMethod;
  headers?: Record<string, string>;
  /** A string is sent as is; any other JSON value is serialised and sent as application/json. */
  body?: unknown;
  /** Raw bytes, instead of `body`. */
  bodyBase64?: string;
  /** RFC 3339 with a zone, or epoch milliseconds. */
  deliverAt?: string | number;
  delayMs?: number;
  /** A push queue; absent: the key's tenant's default queue (`outbound` for the default tenant). */
  queue?: string;
  /** The same key within 24 hours answers the first message (200) and stores nothing. */
  idempotencyKey?: string;
  retry?: RetryPolicyInput;
  /** 0 (least urgent) to 9 (most urgent); absent: the queue's priority (5 unless set). */
  priority?: number;
}

/**
 * A message made from a template for `POST /v1/messages`: the template's url, method, headers, body,
 * queue and retry, with `vars` filled in now and its secrets when it is sent.
 */
export interface TemplateMessageInput {
  /** A template of the caller's tenant (the admin's `tenant` option, else `default`). */
  template: string;
  /** Values for `{{ vars.… }}`: any JSON; each one the template uses must be given. */
  vars?: Record<string, unknown>;
  deliverAt?: string | number;
  delayMs?: number;
  idempotencyKey?: string;
  /** Absent: the template's priority, else the queue's. */
  priority?: number;
}

export interface CreatedMessage {
  id: string;
  deliverAt: string;
  state: MessageState;
}

export interface BatchCreatedMessage extends CreatedMessage {
  /** An idempotency key matched an earlier message: `id` is that message's. */
  duplicate: boolean;
}

/** One delivery attempt of a push message. */
export interface Attempt {
  attempt: number;
  at: string;
  status: number | null;
  latencyMs: number;
  error: string | null;
  /** The first KiB of the response body. */
  response: string | null;
}

/** A stored message. The body is `body` (valid UTF-8) or `bodyBase64` (anything else). */
export interface Message {
  id: string;
  queue: string;
  tenant: string;
  state: MessageState;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  contentType?: string;
  body?: string;
  bodyBase64?: string;
  receivedAt: string;
  deliverAt: string;
  attemptCount: number;
  /** 0 (least urgent) to 9 (most urgent). */
  priority: number;
  /** `api`, or `source:<name>` for ingested requests. */
  origin: string;
  /** Push messages: the target and its limit key. */
  url?: string;
  domain?: string;
  lastError?: string;
  /** Made from a template: the vault secrets filled in when it is sent (they stand as `{{ secrets.name }}` here). */
  secrets?: string[];
}

export interface MessageWithAttempts extends Message {
  attempts: Attempt[];
}

/** A newest-first page; pass `nextCursor` back as `cursor` for the next one (null: the last page). */
export interface MessagePage {
  messages: Message[];
  nextCursor: string | null;
}

export interface PageOptions {
  /** 1 to 1000 (default 100). */
  limit?: number;
  cursor?: string;
}

export interface ListMessagesOptions extends PageOptions {
  queue?: string;
  state?: MessageState;
}

// ── pull ──────────────────────────────────────────────────────

export interface PullOptions {
  /** 1 to 1000 (default 10). */
  max?: number;
  /** Lease length (default: the queue's visibilityTimeoutMs). */
  visibilityTimeoutMs?: number;
  /** Long-poll up to this long (0 to 20000) until a message is ready. */
  waitMs?: number;
  /** Abort the wait (e.g. on SIGTERM): the pull then answers no messages, and none stay leased. */
  signal?: AbortSignal;
}

/** One message as pull returns it: ack, nack or extend it by its `receipt`. */
export interface PulledMessage {
  id: string;
  receipt: string;
  attempt: number;
  receivedAt: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  contentType: string | null;
  /** 0 (least urgent) to 9 (most urgent): a pull takes the most urgent first. */
  priority: number;
  body?: string;
  bodyBase64?: string;
}

export interface AckResult {
  acked: number;
  /** Receipts that no longer held a lease (expired, or already acked). */
  stale: string[];
}

export interface NackResult {
  requeued: number;
  /** Messages that went to dead instead: they were received `maxReceives` times. */
  dead: string[];
  stale: string[];
}

export interface ExtendResult {
  extended: number;
  stale: string[];
}

// ── queues ────────────────────────────────────────────────────

/** A queue definition for `PUT /v1/queues/{name}`: it replaces the whole definition. */
export interface QueueInput {
  mode?: 'pull' | 'push';
  /** Owner tenant (admin key only; a tenant key always makes its own). */
  tenant?: string;
  /** Push: the target of messages that name none. */
  url?: string;
  ordering?: 'relaxed' | 'strict';
  maxDepth?: number;
  maxReceives?: number;
  visibilityTimeoutMs?: number;
  retry?: RetryPolicyInput;
  timeouts?: { connectMs?: number; responseMs?: number };
  /** Push: sign deliveries with Standard Webhooks headers; `whsec_<base64>`, or a vault secret of the queue's tenant as `{{ secrets.name }}`. */
  signingSecret?: string;
  paused?: boolean;
  /** Stamped on messages created in the queue that name none: 0 (least urgent) to 9 (default 5). */
  priority?: number;
}

/** A queue with its depth. The signing secret is never shown: `signing` says whether one is set. */
export interface Queue {
  name: string;
  mode: 'pull' | 'push';
  tenant: string;
  url: string | null;
  ordering: 'relaxed' | 'strict';
  maxDepth: number;
  maxReceives: number;
  visibilityTimeoutMs: number;
  retry: RetryPolicy;
  timeouts: { connectMs: number; responseMs: number };
  paused: boolean;
  priority: number;
  signing: boolean;
  /** Messages by state; null before the first count after a change. */
  depth: Record<MessageState, number> | null;
  inFlight: number;
  dead: number;
  oldestReadyAgeMs: number | null;
}

export interface DeletedQueue {
  name: string;
  deleted: true;
  /** Messages deleted with it. */
  messages: number;
}

export interface ReplayResult {
  replayed: number;
  ids: string[];
  /** A replay of all: workflow steps left dead, their runs not having failed at them. */
  leftDead?: { id: string; run: string; reason: string }[];
}

// ── sources ───────────────────────────────────────────────────

/**
 * A route's `when`: `{ path, op, value? }` with a path under `body.`, `headers.`, `query.`, or
 * `path` / `method`, or `{ all: [...] }`, `{ any: [...] }`, `{ not: {...} }` of such conditions.
 */
export type RouteCondition = Condition;

/** One route of a source: a queue of the source's tenant, taken when `when` holds (always without one). */
export interface SourceRoute {
  /** Names the route in counts, metrics and the dry run; its index when absent. */
  name?: string;
  queue: string;
  when?: RouteCondition;
}

/** A source for `PUT /v1/sources/{name}`, the same shape as in sluice.yaml: one `queue`, or `routes`. */
export interface SourceInput {
  queue?: string;
  routes?: SourceRoute[];
  /** With routes: only the first matching route takes a request (a switch); default: every one (fan-out). */
  first?: boolean;
  /** With routes: the queue that takes what no route matched (without it: answered, not stored). */
  fallback?: string;
  /** Signature check: `{ type: 'stripe' | 'github' | 'shopify' | 'standard-webhooks' | 'hmac-sha256' | 'token', secret, ... }`. */
  verify?: { type: string; secret: string; [option: string]: unknown };
  dedupe?: string | { kind: string; windowSec?: number } | { header: string; windowSec?: number };
  response?: { status?: number; headers?: Record<string, string>; body?: string };
  handshake?: { type: 'meta'; verifyToken: string };
  maxBodyBytes?: number;
}

export type { SourceCounts };

/** A source as the API shows it. Verify secrets and handshake tokens are never shown. */
export interface Source {
  name: string;
  tenant: string;
  /** Defined in sluice.yaml: change it there (PUT and DELETE answer 409 SLUICE_ERR_SOURCE_IN_FILE). */
  fromFile: boolean;
  config: Omit<SourceInput, 'verify' | 'handshake'> & { verify?: { type: string; [option: string]: unknown }; handshake?: { type: 'meta' } };
  /** This node's counts since it started. */
  counts: SourceCounts;
}

/** A request for the dry run (`POST /v1/sources/{name}/test`): what ingest would have received. */
export interface SourceTestRequest {
  /** Default POST. */
  method?: string;
  headers?: Record<string, string>;
  /** The query string (without "?"), or parameters. */
  query?: string | Record<string, string | string[]>;
  /** The sub-path after /in/{name}; default "/". */
  path?: string;
  /** A string is the raw body text; any other JSON value is sent as its JSON text. */
  body?: unknown;
}

/** The dry run's answer: every route, whether it matched and why, and where messages would go. */
export type SourceTestResult = RoutingExplanation;

// ── schedules ─────────────────────────────────────────────────

/** The message a schedule sends at each tick. */
export interface ScheduleMessageInput {
  url?: string;
  method?: HttpMethod;
  headers?: Record<string, string>;
  body?: unknown;
  /** A push queue of the schedule's tenant; default: the tenant's default queue (with a template: when it names none). */
  queue?: string;
  /** 0 (least urgent) to 9 (most urgent); absent: the queue's priority. */
  priority?: number;
  /** A template of the schedule's tenant to make each message from, instead of url, headers and body. */
  template?: string;
  /** With `template`: its variables. */
  vars?: Record<string, unknown>;
}

/** When a schedule does not run, read on the clock of its time zone. */
export interface ScheduleExclusions {
  /** Local dates, `YYYY-MM-DD`. */
  dates?: string[];
  weekdays?: ('mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun')[];
  /** Local windows `[from, to)`, `HH:MM`; `to` before `from` wraps past midnight. */
  times?: { from: string; to: string }[];
}

export type SolarEvent = 'sunrise' | 'sunset' | 'solarNoon' | 'dawn' | 'dusk';

/** Once a day at a solar event at a place (dawn and dusk: civil twilight), plus an offset. */
export interface SolarTiming {
  event: SolarEvent;
  /** Degrees, north positive. */
  latitude: number;
  /** Degrees, east positive. */
  longitude: number;
  /** -720 to 720 minutes after the event (default 0). */
  offsetMinutes?: number;
}

interface ScheduleFields {
  /** IANA time zone of a cron, of a solar schedule's dates and of the exclusions (default UTC). */
  timezone?: string;
  /** Ticks missed while Sluice was down: `skip`, `once` (default) or `all`. */
  missed?: 'skip' | 'once' | 'all';
  paused?: boolean;
  tenant?: string;
  message: ScheduleMessageInput;
  exclude?: ScheduleExclusions;
  /** RFC 3339; the first run is not before it (with `every`, runs count from it). */
  startAt?: string;
  /** RFC 3339; no run after it. */
  endAt?: string;
  /** Most runs; skipped ticks do not count. */
  maxRuns?: number;
}

/** When a schedule runs: a cron expression, a fixed interval (`30s`, `5m`, `1h`), or a solar event. */
export type ScheduleTiming =
  | { cron: string; every?: never; solar?: never }
  | { every: string; cron?: never; solar?: never }
  | { solar: SolarTiming; cron?: never; every?: never };

export type ScheduleInput = { name: string } & ScheduleFields & ScheduleTiming;

/**
 * Fields to change; a new `cron`, `every` or `solar` replaces the other two; `null` removes an
 * optional field (`endAt: null`: no end).
 */
export type SchedulePatch = Partial<ScheduleFields> &
  Partial<{ cron: string; every: string; solar: SolarTiming }> &
  Partial<Record<'exclude' | 'startAt' | 'endAt' | 'maxRuns', null>>;

export interface Schedule {
  name: string;
  cron?: string;
  every?: string;
  solar?: Required<SolarTiming>;
  timezone: string;
  missed: 'skip' | 'once' | 'all';
  paused: boolean;
  tenant: string;
  message: { url?: string; method: HttpMethod; headers: Record<string, string>; body?: unknown; queue: string };
  exclude?: ScheduleExclusions;
  startAt?: string;
  endAt?: string;
  maxRuns?: number;
  /** Null while paused, and once completed. */
  nextRunAt: string | null;
  /** When a tick last sent a message. */
  lastRunAt: string | null;
  /** Runs so far; skipped ticks do not count. */
  runs: number;
  /** `completed`: no run left (maxRuns reached, or none before endAt). */
  state: 'active' | 'paused' | 'completed';
}

/** One schedule as `GET /v1/schedules/{name}` shows it: with its next 5 run times. */
export interface ScheduleWithRuns extends Schedule {
  nextRuns: string[];
}

// ── limits ────────────────────────────────────────────────────

export interface DomainLimit {
  /** Most requests in flight to the host at once. */
  concurrency?: number;
  /** Steady rate; may be fractional (0.5 = one every 2 s). */
  ratePerSecond?: number;
  /** Requests allowed at once after idle time; needs ratePerSecond. */
  burst?: number;
}

export type DomainLimitEntry = { host: string } & DomainLimit;

export interface DomainLimits {
  /** `limits.defaultDomain`: what applies to hosts without a limit of their own. */
  default: DomainLimit;
  domains: DomainLimitEntry[];
}

export type DomainLimitDetail = DomainLimitEntry & {
  /** What applies to the host, the defaults merged in. */
  effective: { concurrency: number; ratePerSecond?: number; burst: number };
};

/** A tenant's concurrency and quotas, as PUT /v1/limits/tenants/{t} takes them (at least one). */
export interface TenantLimitInput {
  concurrency?: number;
  /** Most messages waiting in all its queues together; past it, 429 SLUICE_ERR_TENANT_QUOTA. */
  maxDepth?: number;
  /** Most bytes of all its stored messages together; past it, the same 429. */
  maxStoredBytes?: number;
}

export interface TenantLimitState {
  tenant: string;
  inFlight: number;
  concurrency: number | null;
  /** Quota of waiting messages; null: none. */
  maxDepth: number | null;
  /** Messages waiting in all its queues. */
  depth: number;
  /** Quota of stored bytes; null: none. */
  maxStoredBytes: number | null;
  /** Bytes of all its stored messages. */
  storedBytes: number;
}

// ── tenants and keys ──────────────────────────────────────────

export interface Tenant {
  name: string;
  concurrency?: number;
  /** Epoch milliseconds. */
  createdAt: number;
}

export interface CreatedTenant {
  name: string;
  concurrency: number | null;
  /** The push queue its messages go to when they name none. */
  defaultQueue: string;
}

export interface CreatedKey {
  tenant: string;
  id: string;
  prefix: string;
  /** Shown in this answer only; Sluice keeps its hash. */
  key: string;
  note: string;
}

export interface ApiKeyInfo {
  id: string;
  prefix: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

// ── monitoring ────────────────────────────────────────────────

// The same shapes the node builds its snapshot from (type-only: nothing of the server is loaded).
export type { DomainStats, QueueStats, TenantStats } from '../observe/stats.js';
export type { Percentiles } from '../observe/windows.js';

export type { RunStreamEvent, RunStreamEventType } from '../observe/run-events.js';

export type StatsEventType = 'backpressure' | 'throttled' | 'circuit-open' | 'circuit-closed' | 'dead' | 'shared-limits';

/** A logged event: what happened, when, and its own fields (domain, queue, reason, …). */
export interface StatsEvent {
  seq: number;
  at: string;
  type: StatsEventType;
  [field: string]: unknown;
}

export interface StatsSnapshot {
  at: string;
  scope: 'admin' | 'tenant';
  totals: { received: number; delivered: number; failed: number; retried: number; dead: number; inFlight: number; ready: number; buffered: number };
  domains: DomainStats[];
  domainsOmitted: number;
  queues: QueueStats[];
  tenants: TenantStats[];
  /** In `GET /v1/stats` only, newest first; the stream sends events as they happen instead. */
  recentEvents?: StatsEvent[];
}

/** One frame of `GET /v1/stats/stream`: a snapshot once a second, logged events and workflow-run frames as they happen. */
export type StatsStreamEvent =
  | { type: 'snapshot'; data: StatsSnapshot }
  | { type: StatsEventType; id: string | undefined; data: StatsEvent }
  | { type: RunStreamEventType; id: undefined; data: RunStreamEvent };

export interface Health {
  status: 'ok';
  version: string;
}

// ── ingest ────────────────────────────────────────────────────

export interface IngestOptions {
  method?: 'POST' | 'PUT' | 'PATCH';
  /** A sub-path after `/in/{source}`, kept with the message (`/orders/created`). */
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface IngestResult {
  status: number;
  /** The stored message's id, when the source gives Sluice's own answer (`{"id": …}`). */
  id: string | undefined;
  /** The answer's body as text (a source may configure its own). */
  body: string;
}

// ── the vault and templates ───────────────────────────────────

/** A secret as the API shows it: never its value. */
export interface SecretInfo {
  name: string;
  tenant: string;
  createdAt: string;
  updatedAt: string;
  /** The version (fingerprint) of the vault key that sealed it. */
  keyVersion: string;
}

/** What `POST /v1/secrets/rotate-key` did. */
export interface KeyRotation {
  /** The version of the key every secret is now sealed under. */
  keyVersion: string;
  /** A new key was made in the data dir; false: the key is SLUICE_SECRET_KEY. */
  generated: boolean;
  resealed: number;
  /** Secrets still under a key the node does not hold. */
  remaining: number;
}

/**
 * A template for `PUT /v1/templates/{name}`: any string of `url`, header values and `body` may hold
 * `{{ vars.a.b }}` and `{{ secrets.name }}`. In a JSON body, a string that is exactly one placeholder
 * takes the variable's JSON value.
 */
export interface TemplateInput {
  /** Absent: the queue's url. A secret may stand in its path or query, not its scheme, host or port. */
  url?: string;
  method?: HttpMethod;
  headers?: Record<string, string>;
  body?: unknown;
  /** A push queue of the template's tenant; absent: the tenant's default queue. */
  queue?: string;
  retry?: RetryPolicyInput;
  priority?: number;
}

/** A template as the API shows it. */
export interface Template {
  name: string;
  tenant: string;
  /** Defined in sluice.yaml (tenant default): change it there (PUT and DELETE answer 409 SLUICE_ERR_TEMPLATE_IN_FILE). */
  fromFile: boolean;
  config: TemplateInput & { method: HttpMethod; headers: Record<string, string> };
  /** The variables it uses (dotted paths). */
  vars: string[];
  /** The secrets it uses. */
  secrets: string[];
  createdAt: string;
  updatedAt: string;
}

// ── workflows ─────────────────────────────────────────────────

// The server's own state of a run (type-only, as the imports above).
export type { RunState };
/** Where a step of a run is: `pending`, then `succeeded`, `failed`, `skipped` or `cancelled`. */
export type RunStepState = StepState;

/**
 * A step's request: a template whose strings (url, header values, body) may hold `{{ vars.… }}`,
 * `{{ secrets.… }}` and `{{ steps.<name>.response.status | headers.<h> | body.<path> }}`.
 */
export interface WorkflowRequestInput {
  /** Absent: the workflow's queue's url. A secret may stand in its path or query, not its origin. */
  url?: string;
  method?: HttpMethod;
  headers?: Record<string, string>;
  /** A string is sent as text; any other JSON value as JSON. */
  body?: unknown;
}

/** One step of a workflow. */
export interface WorkflowStepInput {
  /** Names the step in branches, in `{{ steps.<name>… }}` and in the run's steps. */
  name: string;
  request: WorkflowRequestInput;
  /** The step runs only when this holds (paths start with `vars.` or `steps.`); else it is skipped. */
  when?: RouteCondition;
  /** Wait this long after the step before it (or after the run's start) before sending. */
  delayMs?: number;
  retry?: RetryPolicyInput;
  /** Where to go once delivered: a step's name or `end`; absent: the next step. */
  onSuccess?: string;
  /** Where to go once the step failed (dead): a step's name or `end`; absent: the run fails. */
  onFailure?: string;
}

/**
 * A workflow for `PUT /v1/workflows/{name}` (and sluice.yaml's `workflows:`): steps run in order
 * unless `onSuccess`/`onFailure` name another. Refused with a 400 naming the step: branches to
 * unknown steps, references to steps that cannot have run yet, loops with no delay.
 */
export interface WorkflowInput {
  steps: WorkflowStepInput[];
  /** A push queue of the workflow's tenant for every step; absent: the tenant's default queue. */
  queue?: string;
  priority?: number;
}

/** A workflow as the API shows it: its definition with the defaults filled in. */
export interface Workflow {
  name: string;
  tenant: string;
  /** Defined in sluice.yaml (tenant default): change it there (PUT and DELETE answer 409 SLUICE_ERR_WORKFLOW_IN_FILE). */
  fromFile: boolean;
  config: Omit<WorkflowInput, 'steps'> & { steps: (WorkflowStepInput & { request: WorkflowRequestInput & { method: HttpMethod; headers: Record<string, string> } })[] };
  createdAt: string;
  updatedAt: string;
}

/** The start of a run (`POST /v1/workflows/{name}/runs`). */
export interface RunInput {
  /** Values for `{{ vars.… }}` in every step. */
  vars?: Record<string, unknown>;
  /** Start the run at this time (RFC 3339 with a zone, or epoch ms), within a year. */
  deliverAt?: string | number;
  /** Start the run this long from now, instead of `deliverAt`. */
  delayMs?: number;
  /** The same key for the same workflow within a day answers the first run (200) and starts none. */
  idempotencyKey?: string;
}

export interface StartedRun {
  id: string;
  state: RunState;
}

/** What a step's target answered: the body's first 64 KiB, secrets the request used taken out. */
export interface RunStepResponse {
  status?: number;
  headers: Record<string, string>;
  body: string;
}

/** One step a run took, in order: a run that loops takes the same step again under a new `seq`. */
export interface RunStep {
  seq: number;
  name: string;
  state: RunStepState;
  /** The step's message (a skipped step, and a request that could not be made, have none). */
  messageId?: string;
  /** Delivery attempts so far. */
  attempts: number;
  response?: RunStepResponse;
  error?: string;
  updatedAt: string;
}

/** A run as a list shows it. */
export interface RunSummary {
  /** A decimal string. */
  id: string;
  workflow: string;
  tenant: string;
  state: RunState;
  /** Why it failed. */
  error?: string;
  createdAt: string;
  updatedAt: string;
}

/** A run with its variables and the steps it took so far. */
export interface Run extends RunSummary {
  vars: unknown;
  steps: RunStep[];
}

/** A newest-first page of runs; pass `nextCursor` back as `cursor` for the next (absent: the last page). */
export interface RunPage {
  runs: RunSummary[];
  nextCursor?: string;
}

export interface ListRunsOptions extends PageOptions {
  state?: RunState;
  /** Admin key: the tenant whose workflow (default: default). */
  tenant?: string;
}
