import { parseRetryAfter, SluiceApiError, type ProblemDetails } from './errors.js';
import { readServerSentEvents } from './sse.js';
import type {
  AckResult,
  ApiKeyInfo,
  BatchCreatedMessage,
  CreatedKey,
  CreatedMessage,
  CreatedTenant,
  DeletedQueue,
  DomainLimit,
  DomainLimitDetail,
  DomainLimitEntry,
  DomainLimits,
  ExtendResult,
  Health,
  IngestOptions,
  IngestResult,
  KeyRotation,
  ListMessagesOptions,
  ListRunsOptions,
  MessagePage,
  MessageState,
  MessageWithAttempts,
  NackResult,
  OutboundMessageInput,
  PageOptions,
  PulledMessage,
  PullOptions,
  Queue,
  QueueInput,
  ReplayResult,
  Run,
  RunInput,
  RunPage,
  RunState,
  Schedule,
  ScheduleInput,
  SchedulePatch,
  ScheduleWithRuns,
  SecretInfo,
  Source,
  SourceInput,
  SourceTestRequest,
  SourceTestResult,
  StartedRun,
  StatsSnapshot,
  StatsStreamEvent,
  Template,
  TemplateInput,
  TemplateMessageInput,
  Tenant,
  TenantLimitInput,
  TenantLimitState,
  Workflow,
  WorkflowInput,
} from './types.js';

export interface ClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** The admin key or a tenant key (a tenant key sees only its tenant). */
  key?: string;
  /** A fetch of your own (a proxy agent, a test double); default: the global fetch. */
  fetch?: typeof fetch;
}

/**
 * A typed client of the Sluice HTTP API: one method per route. Every method resolves with the
 * route's JSON answer and rejects with a {@link SluiceApiError} on any non-2xx answer.
 *
 * @example
 * import { SluiceClient } from 'sluice';
 *
 * const sluice = new SluiceClient({ url: 'http://127.0.0.1:7070', key: process.env.SLUICE_KEY });
 * const { messages } = await sluice.pull('default', { max: 100, waitMs: 5000 });
 * await sluice.ack('default', messages.map((m) => m.receipt));
 */
export class SluiceClient {
  private readonly base: string;
  private readonly key: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(options: ClientOptions) {
    if (!/^https?:\/\//.test(options.url)) throw new Error(`url must start with http:// or https://, got ${options.url}`);
    this.base = options.url.replace(/\/+$/, '');
    this.key = options.key;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Any API call by method and path (with its query); throws SluiceApiError on a non-2xx answer. */
  async request<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.call(method, path, body, signal);
    const text = await response.text();
    if (!response.ok) throw apiError(response, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  // ── outbound messages ───────────────────────────────────────

  /**
   * Send an outbound webhook now, at `deliverAt`, or after `delayMs`. Resolves once it is stored.
   *
   * @example
   * const { id } = await sluice.send({
   *   url: 'https://api.example.com/hook',
   *   body: { kind: 'reminder' },
   *   deliverAt: '2026-12-01T09:00:00+01:00',
   *   idempotencyKey: 'reminder-42',
   * });
   */
  send(message: OutboundMessageInput | TemplateMessageInput, options: { tenant?: string } = {}): Promise<CreatedMessage> {
    return this.request('POST', `/v1/messages${queryString(options)}`, message);
  }

  /**
   * Up to 10,000 messages in one commit: all are stored, or none (a 400 names the bad item). Messages
   * made from a template use the caller's tenant's (the admin's `tenant` option, else `default`).
   */
  sendBatch(messages: (OutboundMessageInput | TemplateMessageInput)[], options: { tenant?: string } = {}): Promise<{ messages: BatchCreatedMessage[] }> {
    return this.request('POST', `/v1/messages/batch${queryString(options)}`, { messages });
  }

  /** One message with its delivery attempts (status, latency, error, first KiB of the response). */
  getMessage(id: string): Promise<MessageWithAttempts> {
    return this.request('GET', `/v1/messages/${segment(id)}`);
  }

  /**
   * Messages newest first, one page at a time.
   *
   * @example
   * let cursor: string | undefined;
   * do {
   *   const page = await sluice.listMessages({ queue: 'outbound', state: 'dead', cursor });
   *   for (const message of page.messages) console.log(message.id, message.lastError);
   *   cursor = page.nextCursor ?? undefined;
   * } while (cursor);
   */
  listMessages(options: ListMessagesOptions = {}): Promise<MessagePage> {
    return this.request('GET', `/v1/messages${queryString(options)}`);
  }

  /** Cancel a message not yet delivered; a 409 (`SLUICE_ERR_CONFLICT`) says it is past that. */
  /** Cancel a waiting message; a workflow step's cancels its run too (`run`). */
  cancelMessage(id: string): Promise<{ id: string; state: MessageState; run?: string }> {
    return this.request('DELETE', `/v1/messages/${segment(id)}`);
  }

  // ── pull ────────────────────────────────────────────────────

  /**
   * Lease a batch from a pull queue, oldest first. With `waitMs`, waits until at least one
   * message is ready. Ack what you handled before `visibilityTimeoutMs` runs out; the rest comes back.
   *
   * @example
   * for (;;) {
   *   const { messages } = await sluice.pull('github-events', { max: 50, waitMs: 20_000 });
   *   const done = [];
   *   for (const message of messages) {
   *     await handle(JSON.parse(message.body ?? 'null'));
   *     done.push(message.receipt);
   *   }
   *   if (done.length > 0) await sluice.ack('github-events', done);
   * }
   */
  async pull(queue: string, options: PullOptions = {}): Promise<{ messages: PulledMessage[] }> {
    const { signal, ...body } = options;
    try {
      return await this.request('POST', `/v1/queues/${segment(queue)}/pull`, body, signal);
    } catch (error) {
      // Aborted while waiting: nothing was handed over (the node gives back a lease it made for a
      // consumer that hung up), so this is an empty answer, not a failure.
      if (signal?.aborted) return { messages: [] };
      throw error;
    }
  }

  /** Done with these messages: they are not offered again. */
  ack(queue: string, receipts: string[]): Promise<AckResult> {
    return this.request('POST', `/v1/queues/${segment(queue)}/ack`, { receipts });
  }

  /** Give messages back, ready again now or after `delayMs`. */
  nack(queue: string, receipts: string[], delayMs = 0): Promise<NackResult> {
    return this.request('POST', `/v1/queues/${segment(queue)}/nack`, { receipts, delayMs });
  }

  /** Keep working on messages: their leases end `visibilityTimeoutMs` from now. */
  extend(queue: string, receipts: string[], visibilityTimeoutMs: number): Promise<ExtendResult> {
    return this.request('POST', `/v1/queues/${segment(queue)}/extend`, { receipts, visibilityTimeoutMs });
  }

  // ── queues and dead letters ─────────────────────────────────

  /** Every queue the key may see, with its depth by state. */
  queues(): Promise<{ queues: Queue[] }> {
    return this.request('GET', '/v1/queues');
  }

  getQueue(name: string): Promise<Queue> {
    return this.request('GET', `/v1/queues/${segment(name)}`);
  }

  /**
   * Create a queue, or replace its whole definition (fields left out take their defaults).
   *
   * @example
   * await sluice.putQueue('n8n', { mode: 'push', url: 'http://n8n:5678/webhook/orders', ordering: 'strict' });
   */
  putQueue(name: string, queue: QueueInput): Promise<Queue> {
    return this.request('PUT', `/v1/queues/${segment(name)}`, queue);
  }

  /**
   * Delete a queue with its dead letters and finished messages. Refused (409) while it holds
   * messages not yet delivered, acked or dead, unless `force`.
   */
  deleteQueue(name: string, force = false): Promise<DeletedQueue> {
    return this.request('DELETE', `/v1/queues/${segment(name)}${force ? '?force=true' : ''}`);
  }

  /** Stop delivering (push) or leasing (pull); ingest still stores. */
  pauseQueue(name: string): Promise<Queue> {
    return this.request('POST', `/v1/queues/${segment(name)}/pause`);
  }

  resumeQueue(name: string): Promise<Queue> {
    return this.request('POST', `/v1/queues/${segment(name)}/resume`);
  }

  /** A queue's dead letters, newest first. */
  listDead(queue: string, options: PageOptions = {}): Promise<MessagePage> {
    return this.request('GET', `/v1/queues/${segment(queue)}/dead${queryString(options)}`);
  }

  /** Make dead letters ready again: these `ids`, or all of the queue's when absent. */
  replayDead(queue: string, ids?: string[]): Promise<ReplayResult> {
    return this.request('POST', `/v1/queues/${segment(queue)}/dead/replay`, ids ? { ids } : {});
  }

  // ── sources ─────────────────────────────────────────────────

  /** The key's tenant's sources (every tenant's for the admin key, or one tenant's with `tenant`), with this node's counts. */
  listSources(options: { tenant?: string } = {}): Promise<{ sources: Source[] }> {
    return this.request('GET', `/v1/sources${queryString(options)}`);
  }

  getSource(name: string): Promise<Source> {
    return this.request('GET', `/v1/sources/${segment(name)}`);
  }

  /**
   * Create a source, or replace it whole; it answers at /in/{name} at once. `tenant`: admin key only.
   *
   * @example
   * await sluice.putSource('stripe', {
   *   routes: [{ name: 'invoices', queue: 'billing', when: { path: 'body.type', op: 'prefix', value: 'invoice.' } }],
   *   fallback: 'stripe-events',
   *   verify: { type: 'stripe', secret: process.env.STRIPE_WEBHOOK_SECRET! },
   * });
   */
  putSource(name: string, source: SourceInput, options: { tenant?: string } = {}): Promise<Source> {
    return this.request('PUT', `/v1/sources/${segment(name)}${queryString(options)}`, source);
  }

  async deleteSource(name: string): Promise<void> {
    await this.request('DELETE', `/v1/sources/${segment(name)}`);
  }

  /**
   * Dry run: which routes `request` would take through the source, and why. Stores nothing.
   *
   * @example
   * const result = await sluice.testSource('stripe', { body: { type: 'invoice.paid' } });
   * result.targets; // [{ route: 'invoices', queue: 'billing' }]
   */
  testSource(name: string, request: SourceTestRequest = {}): Promise<SourceTestResult> {
    return this.request('POST', `/v1/sources/${segment(name)}/test`, request);
  }

  // ── the vault and templates ─────────────────────────────────

  /**
   * Store a secret (or replace it: messages already waiting are sent with the new value). The value
   * is never shown again. `tenant`: admin key only (a tenant key always acts for its own).
   *
   * @example
   * await sluice.putSecret('crm_token', process.env.CRM_TOKEN!);
   * await sluice.putTemplate('remind', { url: 'https://crm.example.com/v1/tasks', headers: { authorization: 'Bearer {{ secrets.crm_token }}' }, body: { user: '{{ vars.user }}' } });
   * await sluice.send({ template: 'remind', vars: { user: 42 } });
   */
  async putSecret(name: string, value: string, options: { tenant?: string } = {}): Promise<void> {
    await this.request('PUT', `/v1/secrets/${segment(name)}${queryString(options)}`, { value });
  }

  /** Secrets' names and times, never values: the caller's (every tenant's for the admin without `tenant`). */
  listSecrets(options: { tenant?: string } = {}): Promise<{ secrets: SecretInfo[] }> {
    return this.request('GET', `/v1/secrets${queryString(options)}`);
  }

  getSecret(name: string, options: { tenant?: string } = {}): Promise<SecretInfo> {
    return this.request('GET', `/v1/secrets/${segment(name)}${queryString(options)}`);
  }

  /** Messages waiting to be sent with it go to dead when their time comes. */
  async deleteSecret(name: string, options: { tenant?: string } = {}): Promise<void> {
    await this.request('DELETE', `/v1/secrets/${segment(name)}${queryString(options)}`);
  }

  /** Re-seal every secret under the current vault key (admin key; see the README's "Templates and secrets"). */
  rotateSecretKey(): Promise<KeyRotation> {
    return this.request('POST', '/v1/secrets/rotate-key');
  }

  putTemplate(name: string, template: TemplateInput, options: { tenant?: string } = {}): Promise<Template> {
    return this.request('PUT', `/v1/templates/${segment(name)}${queryString(options)}`, template);
  }

  listTemplates(options: { tenant?: string } = {}): Promise<{ templates: Template[] }> {
    return this.request('GET', `/v1/templates${queryString(options)}`);
  }

  getTemplate(name: string, options: { tenant?: string } = {}): Promise<Template> {
    return this.request('GET', `/v1/templates/${segment(name)}${queryString(options)}`);
  }

  async deleteTemplate(name: string, options: { tenant?: string } = {}): Promise<void> {
    await this.request('DELETE', `/v1/templates/${segment(name)}${queryString(options)}`);
  }

  // ── workflows ───────────────────────────────────────────────

  /**
   * Create a workflow, or replace it whole (201: created, 200: replaced); runs already going keep
   * the version they started with. A bad graph is a 400 naming the step. `tenant`: admin key only.
   *
   * @example
   * await sluice.putWorkflow('onboard', {
   *   steps: [
   *     { name: 'create', request: { url: 'https://crm.example.com/users', body: { email: '{{ vars.email }}' } } },
   *     { name: 'welcome', delayMs: 60_000, request: { url: 'https://mail.example.com/send', body: { user: '{{ steps.create.response.body.id }}' } } },
   *   ],
   * });
   * const { id } = await sluice.startRun('onboard', { vars: { email: 'a@example.com' } });
   */
  putWorkflow(name: string, workflow: WorkflowInput, options: { tenant?: string } = {}): Promise<Workflow> {
    return this.request('PUT', `/v1/workflows/${segment(name)}${queryString(options)}`, workflow);
  }

  /** The caller's workflows (every tenant's for the admin key without `tenant`), sluice.yaml's included. */
  listWorkflows(options: { tenant?: string } = {}): Promise<{ workflows: Workflow[] }> {
    return this.request('GET', `/v1/workflows${queryString(options)}`);
  }

  getWorkflow(name: string, options: { tenant?: string } = {}): Promise<Workflow> {
    return this.request('GET', `/v1/workflows/${segment(name)}${queryString(options)}`);
  }

  /** Runs already going finish on the version they started with; sluice.yaml's answer 409. */
  async deleteWorkflow(name: string, options: { tenant?: string } = {}): Promise<void> {
    await this.request('DELETE', `/v1/workflows/${segment(name)}${queryString(options)}`);
  }

  /**
   * Start a run now, at `deliverAt`, or after `delayMs`; its first step is stored with it. A
   * repeated `idempotencyKey` resolves with the first run and starts none.
   */
  startRun(workflow: string, run: RunInput = {}, options: { tenant?: string } = {}): Promise<StartedRun> {
    return this.request('POST', `/v1/workflows/${segment(workflow)}/runs${queryString(options)}`, run);
  }

  /**
   * One run with its steps: their states, attempts, and what each target answered.
   *
   * @example
   * const run = await sluice.getRun(id);
   * if (run.state === 'succeeded') console.log(JSON.parse(run.steps.at(-1)!.response!.body));
   */
  getRun(id: string): Promise<Run> {
    return this.request('GET', `/v1/workflows/runs/${segment(id)}`);
  }

  /**
   * A workflow's runs, newest first, one page at a time (`nextCursor` absent: the last page).
   *
   * @example
   * let cursor: string | undefined;
   * do {
   *   const page = await sluice.listRuns('onboard', { state: 'failed', cursor });
   *   for (const run of page.runs) console.log(run.id, run.error);
   *   cursor = page.nextCursor;
   * } while (cursor);
   */
  listRuns(workflow: string, options: ListRunsOptions = {}): Promise<RunPage> {
    return this.request('GET', `/v1/workflows/${segment(workflow)}/runs${queryString(options)}`);
  }

  /** Cancel a running run: its waiting step is cancelled with it. A 409 (`SLUICE_ERR_CONFLICT`) says it has ended. */
  cancelRun(id: string): Promise<{ id: string; state: RunState }> {
    return this.request('DELETE', `/v1/workflows/runs/${segment(id)}`);
  }

  // ── schedules ───────────────────────────────────────────────

  /**
   * Create a cron or interval schedule; the answer holds its next 5 run times.
   *
   * @example
   * await sluice.addSchedule({
   *   name: 'weekday-digest',
   *   cron: '0 9 * * 1-5',
   *   timezone: 'Europe/Berlin',
   *   message: { url: 'https://api.example.com/digest', body: { kind: 'digest' } },
   * });
   */
  addSchedule(schedule: ScheduleInput): Promise<ScheduleWithRuns> {
    return this.request('POST', '/v1/schedules', schedule);
  }

  listSchedules(): Promise<{ schedules: Schedule[] }> {
    return this.request('GET', '/v1/schedules');
  }

  /** One schedule with `nextRuns`, its next 5 run times. */
  getSchedule(name: string): Promise<ScheduleWithRuns> {
    return this.request('GET', `/v1/schedules/${segment(name)}`);
  }

  /** Change some fields; the others keep their values. */
  updateSchedule(name: string, patch: SchedulePatch): Promise<ScheduleWithRuns> {
    return this.request('PATCH', `/v1/schedules/${segment(name)}`, patch);
  }

  pauseSchedule(name: string): Promise<ScheduleWithRuns> {
    return this.updateSchedule(name, { paused: true });
  }

  /** Resume a paused schedule: its next run is computed from now (missed ticks follow `missed`). */
  resumeSchedule(name: string): Promise<ScheduleWithRuns> {
    return this.updateSchedule(name, { paused: false });
  }

  async deleteSchedule(name: string): Promise<void> {
    await this.request('DELETE', `/v1/schedules/${segment(name)}`);
  }

  // ── limits ──────────────────────────────────────────────────

  /**
   * Set a domain's limits live (admin key). The host is a limit key: `api.example.com` (any port)
   * or `127.0.0.1:5678` (that port only).
   *
   * @example
   * await sluice.setDomainLimit('n8n.example.com', { concurrency: 5, ratePerSecond: 10, burst: 5 });
   */
  setDomainLimit(host: string, limit: DomainLimit): Promise<DomainLimitEntry> {
    return this.request('PUT', `/v1/limits/domains/${segment(host)}`, limit);
  }

  /** Limits set per domain, and the default for the others. */
  listDomainLimits(): Promise<DomainLimits> {
    return this.request('GET', '/v1/limits/domains');
  }

  /** A domain's own limit and the `effective` one (the defaults merged in). */
  getDomainLimit(host: string): Promise<DomainLimitDetail> {
    return this.request('GET', `/v1/limits/domains/${segment(host)}`);
  }

  /** Remove a domain's limit: the default applies again. */
  async deleteDomainLimit(host: string): Promise<void> {
    await this.request('DELETE', `/v1/limits/domains/${segment(host)}`);
  }

  /** Tenants' concurrency and what they have in flight (a tenant key sees its own). */
  listTenantLimits(): Promise<{ tenants: TenantLimitState[] }> {
    return this.request('GET', '/v1/limits/tenants');
  }

  /** A tenant's concurrency across all domains (admin key). */
  setTenantLimit(tenant: string, limit: TenantLimitInput): Promise<{ tenant: string } & TenantLimitInput> {
    return this.request('PUT', `/v1/limits/tenants/${segment(tenant)}`, limit);
  }

  // ── tenants and keys (admin key) ────────────────────────────

  /** A new tenant, with its default push queue. */
  createTenant(name: string, options: { concurrency?: number } = {}): Promise<CreatedTenant> {
    return this.request('POST', '/v1/tenants', { name, ...options });
  }

  listTenants(): Promise<{ tenants: Tenant[] }> {
    return this.request('GET', '/v1/tenants');
  }

  /**
   * Create a tenant API key: the key is in the answer, and only there.
   *
   * @example
   * const { key } = await admin.createKey('acme');
   * const acme = new SluiceClient({ url, key }); // sees only acme's queues, messages and schedules
   */
  createKey(tenant: string): Promise<CreatedKey> {
    return this.request('POST', `/v1/tenants/${segment(tenant)}/keys`);
  }

  /** A tenant's keys: id, prefix, createdAt, lastUsedAt (never the key). */
  listKeys(tenant: string): Promise<{ keys: ApiKeyInfo[] }> {
    return this.request('GET', `/v1/tenants/${segment(tenant)}/keys`);
  }

  /** Revoke a tenant key at once. */
  async revokeKey(tenant: string, id: string): Promise<void> {
    await this.request('DELETE', `/v1/tenants/${segment(tenant)}/keys/${segment(id)}`);
  }

  // ── monitoring ──────────────────────────────────────────────

  /** Per domain, queue and tenant numbers, totals, and the recent events. */
  stats(): Promise<StatsSnapshot> {
    return this.request('GET', '/v1/stats');
  }

  /**
   * The live stats stream: a snapshot once a second, and events (`backpressure`, `throttled`,
   * `circuit-open`, `circuit-closed`, `dead`, `shared-limits`) as they happen. Leaving the loop closes the
   * connection; so does aborting `signal`.
   *
   * @example
   * for await (const frame of sluice.streamStats()) {
   *   if (frame.type === 'snapshot') console.log(frame.data.totals.inFlight);
   *   else console.log(frame.type, frame.data);
   * }
   */
  async *streamStats(options: { signal?: AbortSignal } = {}): AsyncGenerator<StatsStreamEvent> {
    const controller = new AbortController();
    const abort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      const response = await this.call('GET', '/v1/stats/stream', undefined, controller.signal);
      if (!response.ok || !response.body) throw apiError(response, await response.text());
      for await (const event of readServerSentEvents(response.body)) {
        const data = JSON.parse(event.data);
        yield (event.event === 'snapshot' ? { type: 'snapshot', data } : { type: event.event, id: event.id, data }) as StatsStreamEvent;
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      options.signal?.removeEventListener('abort', abort);
      controller.abort();
    }
  }

  /** Prometheus text (admin key). */
  async metrics(): Promise<string> {
    const response = await this.call('GET', '/metrics');
    const text = await response.text();
    if (!response.ok) throw apiError(response, text);
    return text;
  }

  /** `GET /healthz`: the process is alive. */
  health(): Promise<Health> {
    return this.request('GET', '/healthz');
  }

  /** `GET /readyz`: storage answers; a 503 SluiceApiError while it does not or while stopping. */
  ready(): Promise<{ status: 'ready' }> {
    return this.request('GET', '/readyz');
  }

  // ── ingest ──────────────────────────────────────────────────

  /**
   * Post to a source as a provider would (no key: sources are public). Useful in tests of a
   * consumer; a refused request (401 signature, 413, 503) rejects with SluiceApiError.
   *
   * @example
   * const { id } = await sluice.ingest('orders', JSON.stringify({ order: 42 }), {
   *   headers: { 'content-type': 'application/json' },
   * });
   */
  async ingest(source: string, body: string | Uint8Array, options: IngestOptions = {}): Promise<IngestResult> {
    const subPath = options.path ? `/${options.path.replace(/^\/+/, '')}` : '';
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    const response = await this.fetch(`${this.base}/in/${segment(source)}${subPath}${query}`, {
      method: options.method ?? 'POST',
      headers: options.headers,
      // Any Uint8Array is a valid body; the DOM typings accept only those over a plain ArrayBuffer.
      body: body as string | Uint8Array<ArrayBuffer>,
    });
    const text = await response.text();
    if (!response.ok) throw apiError(response, text);
    return { status: response.status, id: idIn(text), body: text };
  }

  private call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  }
}

/** A path segment: names with `/`, `?` or `#` must not change the route. */
function segment(value: string): string {
  return encodeURIComponent(value);
}

function queryString(options: object): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(options)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function apiError(response: Response, text: string): SluiceApiError {
  let problem: ProblemDetails | undefined;
  try {
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) problem = parsed as ProblemDetails;
  } catch {
    // Not JSON (a proxy's error page): keep the text as the detail.
  }
  problem ??= text === '' ? undefined : { detail: text };
  return new SluiceApiError(response.status, problem, parseRetryAfter(response.headers.get('retry-after'), Date.now()));
}

function idIn(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    const id = (parsed as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
