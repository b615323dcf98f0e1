import type { Server } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from './clock.js';
import type { LoadedConfig } from './config/loader.js';
import { ConfigError } from './config/loader.js';
import { domainLimitSchema, nameSchema, tenantLimitSchema, type DomainLimit, type SluiceConfig, type TenantLimit } from './config/schema.js';
import { FileSettings, settingsOf } from './config/file-settings.js';
import { readStoredRow } from './config/stored-row.js';
import { domainKeyOf } from './delivery/domain-key.js';
import { classifyAddress, SsrfGuard } from './delivery/ssrf.js';
import { Authenticator } from './http/auth.js';
import type { ApiDeps } from './http/deps.js';
import { IncompleteBodies } from './http/incomplete-bodies.js';
import { SluiceError } from './http/errors.js';
import { Router } from './http/router.js';
import { createHttpServer } from './http/server.js';
import { registerApiRoutes, plainRoutes } from './http/routes/index.js';
import { GroupCommitWriter } from './ingest/group-commit-writer.js';
import { resolveAdminKey } from './admin-key.js';
import { EventBus } from './observe/events.js';
import { createLogger, type Logger } from './observe/logger.js';
import { LogSink } from './observe/log-sink.js';
import { PullWaiters } from './queues/pull-waiters.js';
import { QueueRegistry } from './queues/registry.js';
import { SourceRegistry } from './routing/source-registry.js';
import { SourceCatalog } from './routing/source-catalog.js';
import { sourceTargetProblem } from './routing/source-targets.js';
import { ensureDefaultQueue, MAX_TENANT_NAME } from './queues/tenant-queues.js';
import { DueTimer } from './scheduler/due-timer.js';
import type { ClusterLink } from './store/cluster.js';
import { Membership } from './cluster/membership.js';
import type { ClusterView } from './observe/stats.js';
import { openBackend, type Backend } from './store/open-store.js';
import type { Store, WakeReport } from './store/store.js';
import { VERSION } from './version.js';
import type { AppendResult, LaneRef, NewMessage } from './store/types.js';
import type { DomainView, RedisLimits } from './delivery/limiter/redis-limits.js';
import { openRedisLimits, SharedLimits } from './delivery/shared-limits.js';
import { Dispatcher, PUSH_LEAD_MS, PUSH_WAKE_LEAD_MS, type DispatcherDeps } from './delivery/dispatcher.js';
import { ScheduleRunner, type SchedulerDeps } from './scheduler/schedule-runner.js';
import { Telemetry, type TelemetryDeps } from './observe/telemetry.js';
import { Keyring } from './secrets/keyring.js';
import { SecretVault } from './secrets/vault.js';
import { secretReference } from './templates/placeholders.js';
import { templateCatalog, type TemplateCatalog } from './templates/template-catalog.js';
import { WorkflowRunner } from './workflows/runner.js';

/** How often the last use of tenant keys is written (a request only notes it in memory). */
const KEY_USAGE_WRITE_MS = 60_000;

/** How often depth counts are refreshed and finished messages purged. */
const HOUSEKEEPING_MS = 1_000;
/**
 * Retention sweeps in small steps, yielding to the event loop between them: a 5,000-row step once a
 * second showed as a 5-10 ms stall in scheduling lateness. A step that finds work is followed by
 * another, so deletion keeps up with heavy traffic.
 */
const PURGE_STEP = 500;
/** On a shared database, ingest commits in flight at once from one node (GroupCommitWriter). */
const SHARED_COMMITS_IN_FLIGHT = 2;
/** Counting stored messages may take at most 1/COUNTS_COST_FACTOR of the time; see refreshCounts. */
const COUNTS_COST_FACTOR = 20;
const COUNTS_MAX_EVERY_MS = 30_000;
const PURGE_STEPS_PER_TICK = 20;

/** Each field of a domain or tenant limit is one setting of sluice.yaml (see FileSettings). */
const DOMAIN_LIMIT_SETTINGS = settingsOf(Object.keys(domainLimitSchema.shape));
const TENANT_LIMIT_SETTINGS = settingsOf(Object.keys(tenantLimitSchema.shape));

export interface SluiceOptions {
  loaded: LoadedConfig;
  clock?: Clock;
  logger?: Logger;
  /** Print the generated admin key here (once, when it is created). */
  announce?: (line: string) => void;
  /** Storage failed for good; the node stops itself, and this hears why (the CLI exits 1). */
  onFatal?: (error: Error) => void;
}

/**
 * The composition root: one running Sluice node. Owns the store, the group-commit writer, the
 * queues, the one due timer, the dispatcher, the schedule runner and the HTTP server, and wires
 * them so that whatever makes a message ready wakes whoever waits for it. Each part is handed this
 * node typed as the narrow set of dependencies it declares (ApiDeps, DispatcherDeps, …), so no
 * part imports the root, and the storage backend is chosen here alone.
 */
export class Sluice implements ApiDeps, DispatcherDeps, SchedulerDeps, TelemetryDeps {
  readonly config: SluiceConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events = new EventBus();
  readonly waiters = new PullWaiters();
  readonly store: Store;
  /** On a shared database: this node's membership of the cluster (undefined on embedded SQLite). */
  readonly cluster: ClusterLink | undefined;
  /** With Redis: this node's side of the limits the cluster shares (undefined: limits in memory). */
  readonly sharedLimits: SharedLimits | undefined;
  readonly writer: GroupCommitWriter;
  readonly queues: QueueRegistry;
  readonly sources = new SourceRegistry();
  /** Sources made through the API: stored, and put in `sources`. */
  readonly sourceCatalog: SourceCatalog;
  /** Templates of sluice.yaml and of the API. */
  readonly templates: TemplateCatalog;
  /** Workflows of sluice.yaml and of the API, and their runs. */
  readonly workflows: WorkflowRunner;
  /** Each tenant's secrets, sealed with the vault key (made once the data dir is locked). */
  vault!: SecretVault;
  readonly dueTimer: DueTimer;
  readonly telemetry: Telemetry;
  readonly ssrf: SsrfGuard;
  /** Request bodies still arriving: their time, and the room of those not authenticated yet. */
  readonly bodies: IncompleteBodies;
  auth!: Authenticator;
  dispatcher: Dispatcher | undefined;
  schedules!: ScheduleRunner;
  /** Largest JSON body the API accepts (a batch of 10,000 messages is bigger than one webhook). */
  readonly apiBodyLimit: number;
  stopping = false;
  private server: Server | undefined;
  private readonly onFatal: ((error: Error) => void) | undefined;
  private housekeeping: NodeJS.Timeout | undefined;
  private readonly logSink: LogSink;
  private keyUsageTimer: NodeJS.Timeout | undefined;
  /** performance.now() before which housekeeping does not count stored messages again. */
  private countsDueAt = 0;
  /** On a cluster: what the other nodes say, and what this node tells them. */
  private membership: Membership | undefined;

  private constructor(
    readonly loaded: LoadedConfig,
    options: SluiceOptions & { logger: Logger },
    private readonly backend: Backend,
    redis: RedisLimits | undefined,
  ) {
    this.config = loaded.config;
    this.store = backend.store;
    this.cluster = backend.cluster;
    this.clock = options.clock ?? (this.cluster ? databaseClock(this.cluster) : systemClock);
    this.onFatal = options.onFatal;
    this.logger = options.logger;
    this.logSink = new LogSink(this.events, this.logger, this.clock);
    this.logSink.start();
    this.writer = new GroupCommitWriter(this.store, this.clock, loaded.config.storage.maxBatch, this.cluster ? SHARED_COMMITS_IN_FLIGHT : undefined);
    this.queues = new QueueRegistry(this.store);
    this.sourceCatalog = new SourceCatalog(this.store, this.sources);
    this.templates = templateCatalog(this.store);
    this.workflows = new WorkflowRunner(this);
    this.apiBodyLimit = Math.max(loaded.config.server.maxBodyBytes, 32 * 1024 * 1024);
    this.dueTimer = new DueTimer(
      this.clock,
      (now) => this.wake(now),
      () => this.nextDueAt(),
      (error) => this.logger.error('due timer failed', { error: String(error) }),
    );
    this.ssrf = new SsrfGuard(loaded.config.network.allowPrivate);
    this.bodies = new IncompleteBodies(loaded.config.server);
    this.telemetry = new Telemetry(this);
    this.sharedLimits = redis && this.cluster ? this.shareLimits(redis, this.cluster.nodeId) : undefined;
  }

  private shareLimits(redis: RedisLimits, node: string): SharedLimits {
    return new SharedLimits({
      limits: redis,
      node,
      clock: this.clock,
      onAvailability: (available, error) => {
        if (available) this.logger.info('Redis reachable again: deliveries under shared limits resume');
        else this.logger.warn('Redis unreachable: deliveries under shared limits wait until it answers', { error: String(error) });
        this.events.emit('shared-limits', available ? { available } : { available, error: error instanceof Error ? error.message : String(error) });
      },
      onLost: (count) => this.logger.warn('Redis no longer held permits of deliveries in flight (flushed or expired)', { count }),
      watched: () => (this.dispatcher?.domainStates() ?? []).map((domain) => domain.key),
      concurrencyOf: (domain) => this.dispatcher?.limits.resolve(domain).concurrency ?? 1,
    });
  }

  /** Open storage, apply configuration, start every part, and listen. */
  static async start(options: SluiceOptions): Promise<Sluice> {
    const logger = options.logger ?? createLogger(options.loaded.config.log.level);
    let app: Sluice | undefined;
    const { host, port } = options.loaded.config.server;
    const onProblem = (what: string, error: unknown) => logger.warn(what, { error: error instanceof Error ? error.message : String(error) });
    const { redis: redisUrl } = options.loaded.config.limits;
    // Redis first: a node must not join a cluster as one that shares its limits without them.
    const redis = redisUrl ? await openRedisLimits(redisUrl, options.loaded.config.storage.postgresSchema, onProblem) : undefined;
    let backend: Backend;
    try {
      backend = await openBackend(options.loaded, { url: `http://${host}:${port}`, version: VERSION, onFatal: (error) => app?.storageFailed(error), onProblem });
    } catch (error) {
      await redis?.close().catch(() => {});
      throw error;
    }
    app = new Sluice(options.loaded, { ...options, logger }, backend, redis);
    try {
      await app.boot(options.announce ?? ((line) => process.stdout.write(`${line}\n`)));
    } catch (error) {
      app.stopping = true;
      app.stopTimers();
      await backend.close().catch(() => {});
      await redis?.close().catch(() => {});
      throw error;
    }
    return app;
  }

  private async boot(announce: (line: string) => void): Promise<void> {
    const now = this.clock.now();
    const adminKey = resolveAdminKey(this.loaded, announce);
    this.auth = new Authenticator(adminKey, () => this.clock.now());
    this.vault = new SecretVault(this.store, Keyring.resolve(this.loaded, announce), this.clock);
    await this.loadVault();
    this.checkQueueTargets();
    const file = await FileSettings.load(this.store);
    await this.queues.load(this.config.queues, now, file, this.logger);
    await this.loadTemplates(now);
    await this.loadWorkflows(now);
    // After the workflows: a source may start runs of its tenant's workflows.
    this.checkSources();
    await this.loadStoredSources();
    this.checkVaultReferences();
    await this.loadTenants(now, file);
    await this.loadDomainLimits(file);
    await this.ensureTenantQueues(now);
    await this.store.releaseClaims(now);
    this.dispatcher = await Dispatcher.create(this);
    this.schedules = new ScheduleRunner(this);
    await this.schedules.load(this.config.schedules, file);
    await file.save(this.store);
    this.writer.onCommit((messages, results) => this.afterCommit(messages, results));
    this.dueTimer.start();
    this.dispatcher.start();
    this.schedules.start();
    this.housekeeping = setInterval(() => void this.housekeep(), HOUSEKEEPING_MS);
    this.housekeeping.unref();
    this.keyUsageTimer = setInterval(() => void this.writeKeyUsage(), KEY_USAGE_WRITE_MS);
    this.keyUsageTimer.unref();
    if (this.cluster) this.membership = new Membership(this.cluster, this);
    await this.listen();
  }

  // ── on a cluster ────────────────────────────────────────────

  /** Only the leader runs the cluster's timed work; with no cluster this node is the leader. */
  get leads(): boolean {
    return this.membership?.leader ?? true;
  }

  clusterView(): ClusterView | undefined {
    const view = this.membership?.view();
    const inFlight = this.sharedLimits?.clusterInFlight;
    return view && inFlight !== undefined ? { ...view, inFlight } : view;
  }

  sharedDomainView(domain: string): DomainView | undefined {
    return this.sharedLimits?.view(domain);
  }

  sharedDomains(): string[] {
    return this.sharedLimits?.viewedDomains() ?? [];
  }

  /** True while this node must start no delivery: its heartbeat is not getting through. */
  deliveryPaused(): boolean {
    return this.cluster !== undefined && !this.cluster.healthy();
  }

  relayLanes(lanes: LaneRef[]): void {
    this.membership?.relayLanes(lanes);
  }

  /** The due timer wakes by `at` (on a cluster, only the leader's runs). */
  wakeBy(at: number): void {
    this.dueTimer.hint(at);
  }

  /** A queue's url that is a literal private address is refused at start, as the API refuses it. */
  private checkQueueTargets(): void {
    for (const [name, queue] of Object.entries(this.config.queues)) {
      if (queue.url === undefined) continue;
      try {
        this.refuseForbiddenTarget(queue.url, this.domainOf(queue.url), `queues.${name}.url`);
      } catch (error) {
        throw error instanceof SluiceError ? new ConfigError(error.message) : error;
      }
    }
  }

  /**
   * Every source must feed an existing queue (a push queue behind a source needs a url) or start a
   * workflow of the tenant default, which owns sluice.yaml's sources.
   */
  private checkSources(): void {
    for (const [name, source] of Object.entries(this.config.sources)) {
      const problem = sourceTargetProblem(source, undefined, (queue) => this.queues.get(queue), (workflow) => this.workflows.catalog.get('default', workflow) !== undefined);
      if (problem) throw new ConfigError(`sources.${name}.${problem.path.join('.')}: ${problem.message}`);
      this.sources.set({ name, tenant: 'default', config: source, fromFile: true });
    }
  }

  /**
   * Sources made through the API, as stored (each must read back, or the start stops naming it). A
   * name sluice.yaml defines keeps the file's source on this node; a stored source whose queue or
   * workflow has gone since is kept, and said (its requests are refused until that is back or the
   * source is changed).
   */
  private async loadStoredSources(): Promise<void> {
    for (const name of await this.sourceCatalog.load()) {
      this.logger.warn('a source made through the API has the name of a sluice.yaml source: the file\'s is used on this node', { source: name });
    }
    for (const entry of this.sources.list()) {
      if (entry.fromFile) continue;
      const problem = sourceTargetProblem(entry.config, entry.tenant, (queue) => this.queues.get(queue), (workflow) => this.workflows.catalog.get(entry.tenant, workflow) !== undefined);
      if (problem) this.logger.warn('a stored source cannot send where it routes', { source: entry.name, field: problem.path.join('.'), problem: problem.message });
    }
  }

  /** The vault's sealed secrets; those sealed under a key this node does not hold are named in a warning. */
  private async loadVault(): Promise<void> {
    const unopenable = await this.vault.load();
    if (unopenable.length === 0) return;
    const versions = [...new Set(unopenable.map((secret) => secret.keyVersion))];
    this.logger.warn('secrets are sealed under a vault key this node does not hold: give it in SLUICE_SECRET_KEY_PREVIOUS, or their messages wait and retry', {
      count: unopenable.length,
      keyVersions: versions,
    });
  }

  /**
   * sluice.yaml's templates (the tenant default's; each must send to one of its push queues), then
   * the stored ones; a stored template with the name of a file template is left aside, and said.
   */
  private async loadTemplates(now: number): Promise<void> {
    this.checkFileQueues('templates', this.config.templates);
    this.templates.setFileEntries(this.config.templates, now);
    for (const name of await this.templates.load()) {
      this.logger.warn("a template made through the API has the name of a sluice.yaml template: the file's is used on this node", { template: name });
    }
  }

  /** sluice.yaml's workflows (the tenant default's, sending to its push queues), then the stored ones, as templates. */
  private async loadWorkflows(now: number): Promise<void> {
    this.checkFileQueues('workflows', this.config.workflows);
    this.workflows.catalog.setFileEntries(this.config.workflows, now);
    for (const name of await this.workflows.catalog.load()) {
      this.logger.warn("a workflow made through the API has the name of a sluice.yaml workflow: the file's is used on this node", { workflow: name });
    }
  }

  /** A template or workflow of sluice.yaml that names a queue must name a push queue of the tenant default. */
  private checkFileQueues(kind: 'templates' | 'workflows', entries: Record<string, { queue?: string | undefined }>): void {
    for (const [name, entry] of Object.entries(entries)) {
      if (entry.queue === undefined) continue;
      const queue = this.queues.get(entry.queue);
      if (!queue || queue.tenant !== 'default') throw new ConfigError(`${kind}.${name}.queue: no queue named ${entry.queue} of the tenant default`);
      if (queue.config.mode !== 'push') throw new ConfigError(`${kind}.${name}.queue: ${entry.queue} is a pull queue; ${kind} send to push queues`);
    }
  }

  /** Queues that sign and sources that verify with a vault secret of their tenant that is not there (yet): said, not refused. */
  private checkVaultReferences(): void {
    const missing = (tenant: string, secret: string | undefined) => secret !== undefined && !this.vault.has(tenant, secret);
    for (const queue of this.queues.all()) {
      const secret = queue.config.signingSecret === undefined ? undefined : secretReference(queue.config.signingSecret);
      if (missing(queue.tenant, secret)) this.logger.warn('a queue signs with a vault secret that is not in the vault: its deliveries go to dead until it is', { queue: queue.name, secretName: secret });
    }
    for (const source of this.sources.list()) {
      const text = (source.config.verify as { secret?: unknown } | undefined)?.secret;
      const secret = typeof text === 'string' ? secretReference(text) : undefined;
      if (missing(source.tenant, secret)) this.logger.warn('a source verifies with a vault secret that is not in the vault: it answers 503 until it is', { source: source.name, secretName: secret });
    }
  }

  /** Stored tenants (each must read back), then the file's tenant limits where the file changed them. */
  private async loadTenants(now: number, file: FileSettings): Promise<void> {
    const known = new Map<string, TenantLimit>();
    for (const { name, createdAt: _, ...limit } of await this.store.listTenants()) {
      const what = `stored tenant "${name}"`;
      readStoredRow(nameSchema, name, what);
      const set = definedOnly(limit);
      known.set(name, Object.keys(set).length === 0 ? {} : readStoredRow(tenantLimitSchema, set, what));
    }
    if (!known.has('default')) await this.store.upsertTenant({ name: 'default', createdAt: now });
    for (const [name, fromFile] of Object.entries(this.config.limits.tenants)) {
      const stored = known.get(name);
      const { value, changed } = file.merge('tenantLimit', name, fromFile, stored, TENANT_LIMIT_SETTINGS);
      if (changed.length > 0) this.logger.info('sluice.yaml changed a tenant limit', { tenant: name, settings: changed });
      if (stored === undefined || JSON.stringify(definedOnly(stored)) !== JSON.stringify(definedOnly(value))) {
        const { concurrency, maxDepth, maxStoredBytes } = value;
        await this.store.upsertTenant({ name, concurrency, maxDepth, maxStoredBytes, createdAt: now });
      }
    }
    for (const tenant of await this.store.listTenants()) this.queues.setTenantQuota(tenant.name, tenant);
    for (const key of await this.store.listApiKeys()) this.auth.addTenantKey(key.hash, key.tenant);
  }

  /** Every tenant has its default outbound queue (tenant-queues.ts); made here for tenants that predate it. */
  private async ensureTenantQueues(now: number): Promise<void> {
    for (const tenant of await this.store.listTenants()) {
      if (tenant.name.length > MAX_TENANT_NAME) {
        this.logger.warn('tenant name too long for a default queue; it must name a queue to send', { tenant: tenant.name });
        continue;
      }
      try {
        await ensureDefaultQueue(this.queues, tenant.name, now);
      } catch (error) {
        this.logger.warn('tenant has no default queue', { tenant: tenant.name, error: (error as Error).message });
      }
    }
  }

  /** Write when tenant keys were last used, all in one store call. */
  private async writeKeyUsage(): Promise<void> {
    const used = this.auth.takeUsage();
    if (used.length === 0) return;
    try {
      await this.store.touchApiKeys(used);
    } catch (error) {
      this.logger.warn('could not record key usage', { error: String(error) });
    }
  }

  /** Stored domain limits (each must read back), then the file's where the file changed them. */
  private async loadDomainLimits(file: FileSettings): Promise<void> {
    const stored = new Map<string, DomainLimit>();
    for (const { key, ...limit } of await this.store.listDomainLimits()) {
      stored.set(key, readStoredRow(domainLimitSchema, limit, `stored domain limit "${key}"`));
    }
    for (const [key, fromFile] of Object.entries(this.config.limits.domains)) {
      const existing = stored.get(key);
      const { value, changed } = file.merge('domainLimit', key, fromFile, existing, DOMAIN_LIMIT_SETTINGS);
      if (changed.length > 0) this.logger.info('sluice.yaml changed a domain limit', { domain: key, settings: changed });
      if (JSON.stringify(value) !== JSON.stringify(existing)) await this.store.upsertDomainLimit({ key, ...value });
    }
  }

  private async listen(): Promise<void> {
    const router = new Router();
    registerApiRoutes(router, this);
    const plain = plainRoutes(router);
    this.server = createHttpServer(this, router, plain);
    const server = this.server;
    this.bodies.start();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.server.port, this.config.server.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await this.cluster?.setUrl(this.url);
    this.logger.info('sluice listening', { url: this.url, storage: this.backend.describe, node: this.cluster?.nodeId });
  }

  /** The address the server listens on, as a base URL. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) return '';
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** The limit key of a target URL; a 400 when it is not an http(s) URL. */
  domainOf(url: string): string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new SluiceError('SLUICE_ERR_VALIDATION', `url: not a valid URL: ${url}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new SluiceError('SLUICE_ERR_VALIDATION', 'url: only http and https targets are allowed');
    }
    return domainKeyOf(parsed);
  }

  /** After every commit: wake long-pollers and lanes; make sure the timer knows of future messages. */
  afterCommit(messages: NewMessage[], results: AppendResult[]): void {
    const now = this.clock.now();
    const readyQueues = new Set<string>();
    const lanes: LaneRef[] = [];
    messages.forEach((message, index) => {
      const result = results[index]!;
      if (result.duplicate) return;
      this.queues.noteAppended(message);
      // Stored as scheduled when due after the store's now, which lies between receivedAt and this now.
      if (message.deliverAt > message.receivedAt) this.hintDue(message.deliverAt, message.domain !== '');
      if (message.deliverAt > now) return;
      if (message.domain === '') readyQueues.add(message.queue);
      else lanes.push({ queue: message.queue, domain: message.domain });
    });
    for (const queue of readyQueues) this.waiters.notify(queue);
    if (lanes.length > 0) this.dispatcher?.wakeLanes(lanes);
  }

  /** The store thread is gone: nothing can be accepted or delivered any more, so stop (exit code 1). */
  private storageFailed(error: Error): void {
    if (this.stopping) return;
    this.logger.error('storage failed; stopping', { error: error.message });
    this.onFatal?.(error);
    this.stop().catch(() => {});
  }

  /**
   * A message is stored as due at `deliverAt`: make sure the due timer wakes in time — for a push
   * message, early enough to claim it ahead (PUSH_WAKE_LEAD_MS).
   */
  hintDue(deliverAt: number, push: boolean): void {
    const at = push ? deliverAt - PUSH_WAKE_LEAD_MS : deliverAt;
    if (this.leads) this.dueTimer.hint(at);
    else this.membership?.relayDue(at);
  }

  /** What is due now becomes ready (expired leases too), and due schedules fire: on the leader only. */
  private async wake(now: number): Promise<void> {
    if (!this.leads) return;
    const report: WakeReport = await this.store.wake(now, this.queues.maxReceives(), PUSH_LEAD_MS);
    for (const queue of report.queues) this.waiters.notify(queue);
    if (report.lanes.length > 0) this.dispatcher?.wakeLanes(report.lanes);
    for (const dead of report.dead) this.events.emit('dead', { ...dead, reason: 'receives exhausted' });
    await this.schedules?.fireDue(now);
  }

  /** The earliest moment the due timer must wake: a stored due time or a schedule's next run. */
  async nextDueAt(): Promise<number | undefined> {
    if (!this.leads) return undefined;
    const stored = await this.store.nextWakeAt(PUSH_WAKE_LEAD_MS);
    const schedule = this.schedules?.nextRunAt();
    if (stored === undefined) return schedule;
    return schedule === undefined ? stored : Math.min(stored, schedule);
  }

  /**
   * Refuse at once a target that is a literal IP address the SSRF guard would refuse anyway
   * (169.254.169.254, 10.0.0.1, [::1] …), so the caller learns now rather than from a dead letter.
   * Names are checked at connect time, on the address actually resolved.
   */
  refuseForbiddenTarget(url: string, domain: string, field: string): void {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) === 0) return;
    if (this.ssrf.isAllowed(domain, host)) return;
    throw new SluiceError('SLUICE_ERR_VALIDATION', `${field}: ${host} is a ${classifyAddress(host)} address; list the host in network.allowPrivate to allow it`);
  }

  /**
   * Depth counts are refreshed each housekeeping tick when that is cheap (SQLite keeps them in
   * memory), and less often when it is not: on PostgreSQL they are a GROUP BY over every stored row,
   * so a refresh that took t waits COUNTS_COST_FACTOR × t for the next (at most COUNTS_MAX_EVERY_MS).
   */
  private async refreshCounts(): Promise<void> {
    const started = performance.now();
    if (started < this.countsDueAt) return;
    await this.queues.refreshCounts();
    const took = performance.now() - started;
    this.countsDueAt = started + Math.min(COUNTS_MAX_EVERY_MS, took * COUNTS_COST_FACTOR);
  }

  private async housekeep(): Promise<void> {
    try {
      await this.refreshCounts();
      const now = this.clock.now();
      for (let step = 0; step < PURGE_STEPS_PER_TICK && !this.stopping && this.leads; step += 1) {
        const deleted = await this.store.purge(now - this.config.storage.retentionMs, now, PURGE_STEP);
        if (deleted === 0 && step > 0) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.logger.warn('housekeeping failed', { error: String(error) });
    }
  }

  /**
   * Graceful stop: refuse new work, let the commit in progress finish and answer its requests,
   * hand undelivered claims back, then close storage cleanly.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopTimers();
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeIdleConnections();
    this.waiters.wakeAll();
    this.schedules?.stop();
    this.dueTimer.stop();
    await this.writer.drain();
    await this.dispatcher?.stop(this.config.server.shutdownTimeoutMs);
    await this.sharedLimits?.stop();
    this.server?.closeAllConnections();
    await closed;
    this.telemetry.stop();
    this.logSink.stop();
    this.bodies.stop();
    await this.writeKeyUsage();
    await this.backend.close();
    await this.sharedLimits?.limits.close().catch(() => {});
  }

  private stopTimers(): void {
    clearInterval(this.housekeeping);
    clearInterval(this.keyUsageTimer);
    this.membership?.stop();
    this.dueTimer.stop();
  }
}

/** This machine's clock moved by the cluster's measured offset: "due" and deadlines follow the database. */
function databaseClock(cluster: ClusterLink): Clock {
  return { now: () => Date.now() + cluster.clockOffsetMs };
}

/** The fields of a stored row that are set: a column left NULL is read as absent, not as undefined. */
function definedOnly<T extends object>(row: T): Partial<T> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined && value !== null)) as Partial<T>;
}
