import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { AckResult, ClaimRequest, Store, WakeReport } from '../store.js';
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
  ListRunsFilter,
  MessagePage,
  MessageState,
  NewMessage,
  NewRun,
  QueueCounts,
  QueueDeletion,
  QueueRecord,
  ResealedSecret,
  RunChange,
  RunPage,
  RunStart,
  RunStep,
  RunWithSteps,
  ScheduleMark,
  ScheduleRecord,
  SecretRecord,
  SourceRecord,
  StoredMessage,
  TemplateRecord,
  TenantRecord,
  WorkflowRecord,
} from '../types.js';
import { DEFAULT_MAX_RECEIVES, laneKey, sourceNameTaken, stepOrigin } from '../types.js';
import { fireScheduleIn, PostgresCatalog, replaceFileSettingsIn, upsertQueueIn } from './catalog.js';
import { migrate } from './migrations.js';
import { checkNodeId, NODE_ID_LENGTH, openPool, redactUrl, type PostgresOptions } from './pool.js';
import type { CatalogKind } from '../cluster.js';
import { MESSAGE_COLUMNS, parseId, splitReceipts, toAttempt, toStoredMessage, type AttemptRow, type MessageRow } from './rows.js';
import { appendMessages } from './sql/append-messages.js';
import { claimLanes, lockStrictLanes, readyLanes } from './sql/claim-lanes.js';
import { completeDeliveries, inRounds } from './sql/complete-deliveries.js';
import { domainBacklog, queueCounts } from './sql/counts.js';
import { deleteQueueIn } from './sql/delete-queue.js';
import { leaseBatch } from './sql/lease-batch.js';
import { listMessages } from './sql/list-messages.js';
import { purge } from './sql/purge.js';
import type { Queryable } from './sql/queryable.js';
import { ackReceipts, extendReceipts, nackReceipts, returnUnsentReceipts, type Settled } from './sql/settle-receipts.js';
import { nextWakeAt, wakeOnce } from './sql/wake.js';
import { PostgresTenantRows } from './tenant-rows.js';
import { insertRunIn, lockApplyingIn, moveRunIn, PostgresWorkflowRuns, putStepsIn } from './workflow-runs.js';

export type { PostgresOptions } from './pool.js';

/** Most rows each part of one wake() statement moves; wake loops until a pass comes back short. */
const WAKE_CHUNK = 5_000;

/**
 * The Store contract on PostgreSQL, for one node or several on one database.
 *
 * Everything a message is lives in its rows: a pull lease or a push claim is the row's state, token
 * and deadline. No lease, count or cursor is held in memory, so another node (or this one after a
 * restart) sees exactly what the database holds, and any node's `wake` reclaims what a dead node held
 * once its deadline passes. Every method that writes is one statement (one transaction), except
 * fireSchedule, upsertQueue, deleteQueue, replaceFileSettings, appendWithRuns, changeRun, and an outcome
 * batch that names a message twice or carries a run's change, which each run in one explicit
 * transaction. Each method resolves after its commit: acks, leases and outcomes are durable when
 * they resolve (with the server's default synchronous_commit). Times are the `now` the caller
 * passes (the contract's clock); README.md lists this and the other places where the contract still
 * assumes one node.
 */
export class PostgresStore implements Store {
  private readonly catalog: PostgresCatalog;
  private readonly runs: PostgresWorkflowRuns;
  private readonly templates: PostgresTenantRows;
  private readonly workflows: PostgresTenantRows;
  /** Hears every change of the catalog this store commits (the cluster tells the other nodes). */
  catalogChanged: (kind: CatalogKind) => void = () => {};

  private constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
    readonly options: PostgresOptions,
    readonly nodeId: string,
  ) {
    this.catalog = new PostgresCatalog(pool as unknown as Queryable);
    this.runs = new PostgresWorkflowRuns(pool as unknown as Queryable);
    this.templates = new PostgresTenantRows(pool as unknown as Queryable, 'templates');
    this.workflows = new PostgresTenantRows(pool as unknown as Queryable, 'workflows');
  }

  /** Connect, migrate the schema (once across nodes starting together), and return the store. */
  static async open(options: PostgresOptions): Promise<PostgresStore> {
    const nodeId = checkNodeId(options.nodeId ?? randomNodeId());
    const { pool, schema } = openPool(options);
    try {
      const client = await pool.connect();
      try {
        await migrate(client, schema);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`PostgreSQL at ${redactUrl(options.connectionString)}: ${reason}`, { cause: error });
    }
    return new PostgresStore(pool, schema, options, nodeId);
  }

  /** Where the store is, for logs: the URL with its password hidden, and the schema. */
  describe(): string {
    return `${redactUrl(this.options.connectionString)} (schema ${this.schema})`;
  }

  private get db(): Queryable {
    return this.pool as unknown as Queryable;
  }

  // ── messages in ─────────────────────────────────────────────

  async appendMessages(messages: NewMessage[], now: number): Promise<AppendResult[]> {
    return appendMessages(this.db, messages, now);
  }

  // ── pull ────────────────────────────────────────────────────

  async leaseBatch(queue: string, max: number, visibilityMs: number, now: number): Promise<LeasedMessage[]> {
    if (max <= 0) return [];
    const token = randomBytes(8).toString('hex');
    const rows = await leaseBatch(this.db, queue, max, token, now + visibilityMs, now);
    return rows.map((row) => ({ ...toStoredMessage(row), receipt: `${row.id}.${token}` }));
  }

  async ack(queue: string, receipts: string[], now: number): Promise<AckResult> {
    const { ids, tokens, stale } = splitReceipts(receipts);
    const settled = ids.length === 0 ? [] : await ackReceipts(this.db, queue, ids, tokens, now);
    return { acked: settled.length, stale: [...stale, ...unmatched(ids, tokens, settled)] };
  }

  async nack(queue: string, receipts: string[], delayMs: number, now: number, maxReceives: number) {
    const { ids, tokens, stale } = splitReceipts(receipts);
    const settled = ids.length === 0 ? [] : await nackReceipts(this.db, queue, ids, tokens, now, maxReceives, delayMs);
    const dead = settled.filter((row) => row.state === 'dead').map((row) => row.id).sort((a, b) => a - b).map(String);
    return { requeued: settled.length - dead.length, dead, stale: [...stale, ...unmatched(ids, tokens, settled)] };
  }

  async extend(queue: string, receipts: string[], visibilityMs: number, now: number) {
    const { ids, tokens, stale } = splitReceipts(receipts);
    const settled = ids.length === 0 ? [] : await extendReceipts(this.db, queue, ids, tokens, now + visibilityMs);
    return { extended: settled.length, stale: [...stale, ...unmatched(ids, tokens, settled)] };
  }

  async returnUnsent(queue: string, receipts: string[], now: number): Promise<number> {
    const { ids, tokens } = splitReceipts(receipts);
    return ids.length === 0 ? 0 : (await returnUnsentReceipts(this.db, queue, ids, tokens, now)).length;
  }

  // ── time ────────────────────────────────────────────────────

  async wake(now: number, maxReceives: ReadonlyMap<string, number>, pushLeadMs = 0): Promise<WakeReport> {
    const report: WakeReport = { queues: new Set(), lanes: [], dead: [] };
    const lanes = new Set<string>();
    for (;;) {
      const rows = await wakeOnce(this.db, now, now + pushLeadMs, maxReceives, DEFAULT_MAX_RECEIVES, WAKE_CHUNK);
      for (const row of rows.sort((a, b) => a.id - b.id)) {
        if (row.state === 'dead') {
          report.dead.push({ id: String(row.id), queue: row.queue });
          continue;
        }
        report.queues.add(row.queue);
        if (row.domain !== '' && !lanes.has(laneKey(row.queue, row.domain))) {
          lanes.add(laneKey(row.queue, row.domain));
          report.lanes.push({ queue: row.queue, domain: row.domain });
        }
      }
      const full = (part: string) => rows.filter((row) => row.part === part).length >= WAKE_CHUNK;
      if (!full('push') && !full('pull') && !full('expired')) return report;
    }
  }

  async nextWakeAt(pushLeadMs = 0): Promise<number | undefined> {
    return nextWakeAt(this.db, pushLeadMs);
  }

  // ── push ────────────────────────────────────────────────────

  async readyLanes(queues: string[]): Promise<LaneRef[]> {
    return readyLanes(this.db, queues);
  }

  /**
   * Each message comes back with its `claim`: the outcome shows it, so a late one changes nothing.
   * One statement; with strict lanes in it, a transaction that first takes their locks.
   */
  async claimLanes(requests: ClaimRequest[], leaseUntil: number, now: number): Promise<StoredMessage[][]> {
    const claim = `${this.nodeId}${randomBytes(8).toString('hex')}`;
    const strict = requests.filter((request) => request.strict && request.max > 0).map((request) => request.lane);
    const rows =
      strict.length === 0
        ? await claimLanes(this.db, requests, claim, this.nodeId, leaseUntil, now)
        : await this.transaction(async (tx) => {
            const locked = await lockStrictLanes(tx, strict);
            const allowed = requests.filter((request) => !request.strict || locked.has(laneKey(request.lane.queue, request.lane.domain)));
            return claimLanes(tx, allowed, claim, this.nodeId, leaseUntil, now);
          });
    const byLane = new Map<string, StoredMessage[]>(requests.map(({ lane }) => [laneKey(lane.queue, lane.domain), []]));
    for (const row of rows) byLane.get(laneKey(row.queue, row.domain))?.push({ ...toStoredMessage(row), claim });
    return requests.map(({ lane }) => byLane.get(laneKey(lane.queue, lane.domain))!);
  }

  /**
   * One statement, or one transaction of several when a message has more than one outcome or an
   * outcome carries its run's change (applied with the outcome, or not at all).
   */
  async completeDeliveries(outcomes: DeliveryOutcome[], now: number): Promise<string[]> {
    const rounds = inRounds(outcomes.filter((outcome) => parseId(outcome.id) !== undefined));
    const moveRuns = outcomes.some((outcome) => outcome.run !== undefined);
    if (rounds.length <= 1 && !moveRuns) {
      await completeDeliveries(this.db, rounds[0] ?? [], now);
      return [];
    }
    return this.transaction(async (tx) => {
      const moved: string[] = [];
      for (const round of rounds) moved.push(...(await this.completeRoundIn(tx, round, now)));
      return moved;
    });
  }

  /**
   * Inside a transaction: one round of outcomes, then the run changes of those that applied. The
   * messages of outcomes with a run change are locked first, which tells which of them apply; the
   * others are left out of the round (they would change nothing), so no run moves on an outcome that
   * did not apply, and none stays behind one that did.
   */
  private async completeRoundIn(tx: Queryable, round: DeliveryOutcome[], now: number): Promise<string[]> {
    const withRun = round.filter((outcome) => outcome.run !== undefined);
    const applying = await lockApplyingIn(tx, withRun);
    await completeDeliveries(tx, round.filter((outcome) => outcome.run === undefined || applying.has(outcome.id)), now);
    const moved: string[] = [];
    for (const outcome of withRun) if (applying.has(outcome.id) && (await this.changeRunIn(tx, outcome.run!, now))) moved.push(outcome.run!.runId);
    return moved;
  }

  /**
   * The claims of this node's id (held before it restarted): a claim token starts with the node id.
   * Other nodes' claims are theirs; the leader hands back those of dead nodes (cluster.ts).
   */
  async releaseClaims(now: number): Promise<number> {
    const result = await this.db.query({
      text: `UPDATE messages SET state = 'ready', lease_token = NULL, lease_until = NULL, updated_at = $1
             WHERE state = 'inflight' AND left(lease_token, ${NODE_ID_LENGTH}) = $2`,
      values: [now, this.nodeId],
    });
    return result.rowCount ?? 0;
  }

  // ── reading and managing messages ───────────────────────────

  async getMessage(id: string): Promise<StoredMessage | undefined> {
    if (parseId(id) === undefined) return undefined;
    const result = await this.db.query<MessageRow>({
      name: 'sluice_get_message',
      text: `SELECT ${MESSAGE_COLUMNS}, p.headers, p.body FROM messages m JOIN payloads p ON p.id = coalesce(m.payload_id, m.id) WHERE m.id = $1`,
      values: [id],
    });
    const row = result.rows[0];
    return row && toStoredMessage(row);
  }

  async getAttempts(id: string): Promise<AttemptRecord[]> {
    if (parseId(id) === undefined) return [];
    const result = await this.db.query<AttemptRow>({
      text: 'SELECT attempt, started_at, status, latency_ms, error, response FROM attempts WHERE message_id = $1 ORDER BY seq',
      values: [id],
    });
    return result.rows.map(toAttempt);
  }

  async listMessages(filter: ListMessagesFilter): Promise<MessagePage> {
    return listMessages(this.db, filter);
  }

  async cancel(id: string, now: number, withdrawn = false): Promise<MessageState | undefined> {
    if (parseId(id) === undefined) return undefined;
    if (await cancelIn(this.db, id, now, withdrawn)) return 'cancelled';
    const found = await this.db.query<{ state: MessageState }>({ text: 'SELECT state FROM messages WHERE id = $1', values: [id] });
    return found.rows[0]?.state;
  }

  /** The oldest first through `messages_dead_queue`; with ids, those of them that are the tenant's dead letters. */
  async replayDead(queue: string, tenant: string, ids: string[] | undefined, now: number, limit?: number) {
    const wanted = ids?.filter((id) => parseId(id) !== undefined);
    const result = await this.db.query<{ id: number; domain: string }>({
      text: `UPDATE messages SET state = 'ready', attempts = 0, deliver_at = $3, last_error = NULL, lease_token = NULL,
               lease_until = NULL, updated_at = $3
             WHERE id IN (SELECT id FROM messages WHERE queue = $1 AND tenant = $2 AND state = 'dead'
                            AND ($4::bigint[] IS NULL OR id = ANY($4::bigint[]))
                          ORDER BY seq LIMIT $5 FOR UPDATE)
             RETURNING id, domain`,
      values: [queue, tenant, now, wanted ?? null, wanted === undefined ? (limit ?? null) : null],
    });
    const rows = result.rows.sort((a, b) => a.id - b.id);
    const domains = new Set(rows.map((row) => row.domain).filter((domain) => domain !== ''));
    return { replayed: rows.map((row) => String(row.id)), lanes: [...domains].map((domain) => ({ queue, domain })) };
  }

  async purge(before: number, now: number, limit: number): Promise<number> {
    return purge(this.db, before, now, limit);
  }

  // ── queues, tenants, keys, limits, schedules ────────────────

  async queueCounts(): Promise<Map<string, QueueCounts>> {
    return queueCounts(this.db);
  }
  async domainBacklog(): Promise<Map<string, DomainBacklog>> {
    return domainBacklog(this.db);
  }
  async upsertQueue(queue: QueueRecord): Promise<void> {
    await this.transaction((tx) => upsertQueueIn(tx, queue));
    this.catalogChanged('queues');
  }
  async listQueues(): Promise<QueueRecord[]> {
    return this.catalog.listQueues();
  }
  async deleteQueue(name: string, force = false): Promise<QueueDeletion> {
    const deletion = await this.transaction((tx) => deleteQueueIn(tx, name, force));
    if (deletion.deleted) this.catalogChanged('queues');
    return deletion;
  }
  async upsertTenant(tenant: TenantRecord): Promise<void> {
    await this.catalog.upsertTenant(tenant);
    this.catalogChanged('tenants');
  }
  async listTenants(): Promise<TenantRecord[]> {
    return this.catalog.listTenants();
  }
  async addApiKey(key: ApiKeyRecord): Promise<void> {
    await this.catalog.addApiKey(key);
    this.catalogChanged('keys');
  }
  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.catalog.listApiKeys();
  }
  async revokeApiKey(tenant: string, id: string): Promise<string | undefined> {
    const hash = await this.catalog.revokeApiKey(tenant, id);
    if (hash !== undefined) this.catalogChanged('keys');
    return hash;
  }
  async touchApiKeys(used: { hash: string; at: number }[]): Promise<void> {
    await this.catalog.touchApiKeys(used);
  }
  async upsertDomainLimit(limit: DomainLimitRecord): Promise<void> {
    await this.catalog.upsertDomainLimit(limit);
    this.catalogChanged('limits');
  }
  async deleteDomainLimit(key: string): Promise<boolean> {
    const deleted = await this.catalog.deleteDomainLimit(key);
    if (deleted) this.catalogChanged('limits');
    return deleted;
  }
  async listDomainLimits(): Promise<DomainLimitRecord[]> {
    return this.catalog.listDomainLimits();
  }
  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    await this.catalog.upsertSchedule(schedule);
    this.catalogChanged('schedules');
  }
  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.catalog.listSchedules();
  }
  async deleteSchedule(name: string): Promise<boolean> {
    const deleted = await this.catalog.deleteSchedule(name);
    if (deleted) this.catalogChanged('schedules');
    return deleted;
  }

  fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number): Promise<boolean>;
  fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number, runs: NewRun[]): Promise<RunStart[] | false>;
  /** One transaction: the schedule's move and count (fireScheduleIn), its messages, and its runs as appendWithRuns starts each. */
  async fireSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, messages: NewMessage[], now: number, runs?: NewRun[]): Promise<boolean | RunStart[]> {
    const fired = await this.transaction(async (tx): Promise<boolean | RunStart[]> => {
      if (!(await fireScheduleIn(tx, name, expected, nextRunAt, messages, now, messages.length + (runs?.length ?? 0)))) return false;
      if (runs === undefined) return true;
      const started: RunStart[] = [];
      for (const run of runs) started.push(await this.startRunIn(tx, run, now));
      return started;
    });
    if (fired !== false) this.catalogChanged('schedules');
    return fired;
  }

  async upsertSource(source: SourceRecord): Promise<void> {
    if (!(await this.catalog.upsertSource(source))) throw sourceNameTaken(source.name);
    this.catalogChanged('sources');
  }
  async listSources(): Promise<SourceRecord[]> {
    return this.catalog.listSources();
  }
  async deleteSource(name: string): Promise<boolean> {
    const deleted = await this.catalog.deleteSource(name);
    if (deleted) this.catalogChanged('sources');
    return deleted;
  }

  async upsertSecret(secret: SecretRecord): Promise<void> {
    await this.catalog.upsertSecret(secret);
    this.catalogChanged('secrets');
  }
  async listSecrets(): Promise<SecretRecord[]> {
    return this.catalog.listSecrets();
  }
  async deleteSecret(tenant: string, name: string): Promise<boolean> {
    const deleted = await this.catalog.deleteSecret(tenant, name);
    if (deleted) this.catalogChanged('secrets');
    return deleted;
  }
  async resealSecrets(changes: ResealedSecret[]): Promise<number> {
    const written = await this.catalog.resealSecrets(changes);
    if (written > 0) this.catalogChanged('secrets');
    return written;
  }
  async upsertTemplate(template: TemplateRecord): Promise<void> {
    await this.templates.upsert(template);
    this.catalogChanged('templates');
  }
  async listTemplates(): Promise<TemplateRecord[]> {
    return this.templates.list();
  }
  async deleteTemplate(tenant: string, name: string): Promise<boolean> {
    const deleted = await this.templates.delete(tenant, name);
    if (deleted) this.catalogChanged('templates');
    return deleted;
  }

  async upsertWorkflow(workflow: WorkflowRecord): Promise<void> {
    await this.workflows.upsert(workflow);
    this.catalogChanged('workflows');
  }
  async listWorkflows(): Promise<WorkflowRecord[]> {
    return this.workflows.list();
  }
  async deleteWorkflow(tenant: string, name: string): Promise<boolean> {
    const deleted = await this.workflows.delete(tenant, name);
    if (deleted) this.catalogChanged('workflows');
    return deleted;
  }

  /** One transaction: the run's row, its steps and the step's message; a repeated key writes nothing (insertRunIn). */
  async appendWithRuns(messages: NewMessage[], runs: NewRun[], now: number): Promise<{ results: AppendResult[]; runs: RunStart[] }> {
    return this.transaction(async (tx) => {
      const results = await appendMessages(tx, messages, now);
      const started: RunStart[] = [];
      for (const run of runs) started.push(await this.startRunIn(tx, run, now));
      return { results, runs: started };
    });
  }

  /** Inside a transaction: the run's row, its steps and the step's message; a repeated key writes nothing (insertRunIn). */
  private async startRunIn(tx: Queryable, run: NewRun, now: number): Promise<RunStart> {
    const start = await insertRunIn(tx, run, now);
    if (start.created) await this.writeStepsIn(tx, start.id, run.steps, run.message, now);
    return start;
  }

  async getRun(id: string): Promise<RunWithSteps | undefined> {
    return this.runs.getRun(id);
  }

  async listRuns(filter: ListRunsFilter): Promise<RunPage> {
    return this.runs.listRuns(filter);
  }

  async changeRun(change: RunChange, now: number): Promise<boolean> {
    return this.transaction((tx) => this.changeRunIn(tx, change, now));
  }

  /**
   * Inside a transaction: apply a run change if the run is still at its version: the run's row, then
   * the run's scheduled and ready messages it cancels (cancel's statement; in flight ones go on), then
   * its step rows and next message. False, having changed nothing, when the version moved.
   */
  private async changeRunIn(tx: Queryable, change: RunChange, now: number): Promise<boolean> {
    if (!(await moveRunIn(tx, change, now))) return false;
    for (const id of change.cancelMessages ?? []) if (parseId(id) !== undefined) await cancelIn(tx, id, now, change.withdrawn ?? false);
    await this.writeStepsIn(tx, change.runId, change.steps, change.message, now);
    return true;
  }

  /**
   * Inside a transaction: append `message` (if any) as the message of the last of `steps`, its origin
   * naming the run and that step, then write the step rows with its id in that last one.
   */
  private async writeStepsIn(tx: Queryable, runId: string, steps: RunStep[], message: NewMessage | undefined, now: number): Promise<void> {
    const last = steps.at(-1);
    if (message === undefined || last === undefined) return putStepsIn(tx, runId, steps);
    const [appended] = await appendMessages(tx, [{ ...message, origin: stepOrigin(runId, last.seq) }], now);
    await putStepsIn(tx, runId, [...steps.slice(0, -1), { ...last, messageId: appended!.id }]);
  }

  async listFileSettings(): Promise<FileSettingRecord[]> {
    return this.catalog.listFileSettings();
  }
  async replaceFileSettings(settings: FileSettingRecord[]): Promise<void> {
    await this.transaction((tx) => replaceFileSettingsIn(tx, settings));
  }

  /** Run `work` on one connection inside BEGIN … COMMIT (ROLLBACK if it throws). */
  private async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client as unknown as Queryable);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.pool.ended) return;
    await this.pool.end();
  }
}

/**
 * Cancel one message (id already parsed) if it is scheduled or ready, or in flight and `withdrawn`;
 * whether it was. On the pool, or inside a transaction that cancels a run's messages.
 */
async function cancelIn(db: Queryable, id: string, now: number, withdrawn: boolean): Promise<boolean> {
  const cancelled = await db.query({
    text: `UPDATE messages SET state = 'cancelled', lease_token = NULL, lease_until = NULL, updated_at = $2
           WHERE id = $1 AND (state IN ('scheduled', 'ready') OR ($3 AND state = 'inflight'))`,
    values: [id, now, withdrawn],
  });
  return (cancelled.rowCount ?? 0) > 0;
}

/** The receipts (as "<id>.<token>") that settled nothing. */
function unmatched(ids: string[], tokens: string[], settled: Settled[]): string[] {
  const matched = new Set(settled.map((row) => `${row.id}.${row.token}`));
  return ids.map((id, i) => `${id}.${tokens[i]}`).filter((receipt) => !matched.has(receipt));
}

/** A node id for a store opened without one (tests, tools): 12 random characters [a-z0-9]. */
export function randomNodeId(): string {
  let id = '';
  for (const byte of randomBytes(NODE_ID_LENGTH)) id += (byte % 36).toString(36);
  return id;
}
