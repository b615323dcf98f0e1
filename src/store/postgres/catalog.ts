import {
  queueNameTaken,
  type ApiKeyRecord,
  type DomainLimitRecord,
  type FileSettingRecord,
  type NewMessage,
  type QueueRecord,
  type ResealedSecret,
  type ScheduleMark,
  type ScheduleRecord,
  type SecretRecord,
  type SourceRecord,
  type TenantRecord,
} from '../types.js';
import { toNamedConfig, toSecret, type NamedConfigRow, type SecretRow } from '../rows.js';
import { appendMessages } from './sql/append-messages.js';
import type { Queryable } from './sql/queryable.js';

/**
 * The small, rarely written tables: queue definitions, tenants, API keys, domain limits, schedules,
 * sources made through the API, file settings, the vault's sealed secrets (templates and workflows: tenant-rows.ts). Plain statements; none of this is on a hot path. JSON documents (queue config,
 * schedule spec) are stored as text, exactly as given, like the SQLite store does. What must run in
 * one transaction is a function of the transaction (`…In(tx, …)`) below the class.
 */
export class PostgresCatalog {
  constructor(private readonly db: Queryable) {}

  async listQueues(): Promise<QueueRecord[]> {
    return (await this.db.query<NamedConfigRow>({ text: 'SELECT name, tenant, config, created_at FROM queues ORDER BY name COLLATE "C"' })).rows.map(toNamedConfig);
  }

  async upsertTenant(tenant: TenantRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO tenants (name, concurrency, max_depth, max_stored_bytes, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, max_depth = excluded.max_depth,
               max_stored_bytes = excluded.max_stored_bytes`,
      values: [tenant.name, tenant.concurrency ?? null, tenant.maxDepth ?? null, tenant.maxStoredBytes ?? null, tenant.createdAt],
    });
  }

  async listTenants(): Promise<TenantRecord[]> {
    type Row = { name: string; concurrency: number | null; max_depth: number | null; max_stored_bytes: number | null; created_at: number };
    const text = 'SELECT name, concurrency, max_depth, max_stored_bytes, created_at FROM tenants ORDER BY name COLLATE "C"';
    return (await this.db.query<Row>({ text })).rows.map((row) => {
      const tenant: TenantRecord = { name: row.name, createdAt: row.created_at };
      if (row.concurrency !== null) tenant.concurrency = row.concurrency;
      if (row.max_depth !== null) tenant.maxDepth = row.max_depth;
      if (row.max_stored_bytes !== null) tenant.maxStoredBytes = row.max_stored_bytes;
      return tenant;
    });
  }

  async addApiKey(key: ApiKeyRecord): Promise<void> {
    await this.db.query({
      text: 'INSERT INTO api_keys (id, hash, prefix, tenant, created_at) VALUES ($1, $2, $3, $4, $5)',
      values: [key.id, key.hash, key.prefix ?? null, key.tenant, key.createdAt],
    });
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    type Row = { id: string; hash: string; prefix: string | null; tenant: string; created_at: number; last_used_at: number | null };
    const text = 'SELECT id, hash, prefix, tenant, created_at, last_used_at FROM api_keys ORDER BY tenant COLLATE "C", created_at, id COLLATE "C"';
    return (await this.db.query<Row>({ text })).rows.map((row) => {
      const key: ApiKeyRecord = { id: row.id, hash: row.hash, tenant: row.tenant, createdAt: row.created_at };
      if (row.prefix !== null) key.prefix = row.prefix;
      if (row.last_used_at !== null) key.lastUsedAt = row.last_used_at;
      return key;
    });
  }

  async revokeApiKey(tenant: string, id: string): Promise<string | undefined> {
    const text = 'DELETE FROM api_keys WHERE tenant = $1 AND id = $2 RETURNING hash';
    return (await this.db.query<{ hash: string }>({ text, values: [tenant, id] })).rows[0]?.hash;
  }

  /**
   * One statement for the batch. A hash named twice counts its latest use (UPDATE … FROM would apply
   * one of the two unpredictably), and a use never moves lastUsedAt back: another node may have
   * recorded a later one.
   */
  async touchApiKeys(used: { hash: string; at: number }[]): Promise<void> {
    if (used.length === 0) return;
    await this.db.query({
      text: `UPDATE api_keys k SET last_used_at = GREATEST(k.last_used_at, u.at)
             FROM (SELECT hash, max(at) AS at FROM unnest($1::text[], $2::bigint[]) AS t(hash, at) GROUP BY hash) AS u
             WHERE k.hash = u.hash`,
      values: [used.map((use) => use.hash), used.map((use) => use.at)],
    });
  }

  async upsertDomainLimit(limit: DomainLimitRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO domain_limits (key, concurrency, rate_per_second, burst) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET concurrency = excluded.concurrency, rate_per_second = excluded.rate_per_second,
               burst = excluded.burst`,
      values: [limit.key, limit.concurrency ?? null, limit.ratePerSecond ?? null, limit.burst ?? null],
    });
  }

  async deleteDomainLimit(key: string): Promise<boolean> {
    return ((await this.db.query({ text: 'DELETE FROM domain_limits WHERE key = $1', values: [key] })).rowCount ?? 0) > 0;
  }

  async listDomainLimits(): Promise<DomainLimitRecord[]> {
    type Row = { key: string; concurrency: number | null; rate_per_second: number | null; burst: number | null };
    const rows = (await this.db.query<Row>({ text: 'SELECT key, concurrency, rate_per_second, burst FROM domain_limits ORDER BY key COLLATE "C"' })).rows;
    return rows.map((row) => {
      const limit: DomainLimitRecord = { key: row.key };
      if (row.concurrency !== null) limit.concurrency = row.concurrency;
      if (row.rate_per_second !== null) limit.ratePerSecond = row.rate_per_second;
      if (row.burst !== null) limit.burst = row.burst;
      return limit;
    });
  }

  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO schedules (name, tenant, spec, paused, next_run_at, last_run_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, spec = excluded.spec, paused = excluded.paused,
               next_run_at = excluded.next_run_at, last_run_at = excluded.last_run_at`,
      values: [
        schedule.name,
        schedule.tenant,
        JSON.stringify(schedule.spec),
        schedule.paused,
        schedule.nextRunAt ?? null,
        schedule.lastRunAt ?? null,
        schedule.createdAt,
      ],
    });
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    type Row = { name: string; tenant: string; spec: string; paused: boolean; next_run_at: number | null; last_run_at: number | null; created_at: number; runs: number };
    const rows = (await this.db.query<Row>({ text: 'SELECT * FROM schedules ORDER BY name COLLATE "C"' })).rows;
    return rows.map((row) => {
      const schedule: ScheduleRecord = { name: row.name, tenant: row.tenant, spec: JSON.parse(row.spec) as unknown, paused: row.paused, createdAt: row.created_at, runs: row.runs };
      if (row.next_run_at !== null) schedule.nextRunAt = row.next_run_at;
      if (row.last_run_at !== null) schedule.lastRunAt = row.last_run_at;
      return schedule;
    });
  }

  async deleteSchedule(name: string): Promise<boolean> {
    return ((await this.db.query({ text: 'DELETE FROM schedules WHERE name = $1', values: [name] })).rowCount ?? 0) > 0;
  }

  /**
   * False, changing nothing, when the name is another tenant's source. One statement: of two tenants
   * taking a free name at once, the second's insert meets the first's row and updates nothing.
   */
  async upsertSource(source: SourceRecord): Promise<boolean> {
    const written = await this.db.query({
      text: `INSERT INTO sources (name, tenant, config, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET config = excluded.config WHERE sources.tenant = excluded.tenant`,
      values: [source.name, source.tenant, JSON.stringify(source.config), source.createdAt],
    });
    return (written.rowCount ?? 0) > 0;
  }

  async listSources(): Promise<SourceRecord[]> {
    return (await this.db.query<NamedConfigRow>({ text: 'SELECT name, tenant, config, created_at FROM sources ORDER BY name COLLATE "C"' })).rows.map(toNamedConfig);
  }

  async deleteSource(name: string): Promise<boolean> {
    return ((await this.db.query({ text: 'DELETE FROM sources WHERE name = $1', values: [name] })).rowCount ?? 0) > 0;
  }

  async listFileSettings(): Promise<FileSettingRecord[]> {
    return (await this.db.query<FileSettingRecord>({ text: 'SELECT kind, name, setting, value FROM file_settings' })).rows;
  }

  async upsertSecret(secret: SecretRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO secrets (tenant, name, sealed, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id, updated_at = excluded.updated_at`,
      values: [secret.tenant, secret.name, secret.sealed, secret.keyId, secret.createdAt, secret.updatedAt],
    });
  }

  async listSecrets(): Promise<SecretRecord[]> {
    const text = 'SELECT tenant, name, sealed, key_id, created_at, updated_at FROM secrets ORDER BY tenant COLLATE "C", name COLLATE "C"';
    return (await this.db.query<SecretRow>({ text })).rows.map(toSecret);
  }

  async deleteSecret(tenant: string, name: string): Promise<boolean> {
    return ((await this.db.query({ text: 'DELETE FROM secrets WHERE tenant = $1 AND name = $2', values: [tenant, name] })).rowCount ?? 0) > 0;
  }

  /**
   * One statement for the whole rotation (one transaction): each row is written only while it still
   * holds the seal its new one was made from, so a PUT on another node meanwhile is never undone.
   */
  async resealSecrets(changes: ResealedSecret[]): Promise<number> {
    if (changes.length === 0) return 0;
    const column = (pick: (change: ResealedSecret) => string) => changes.map(pick);
    const written = await this.db.query({
      text: `UPDATE secrets s SET sealed = c.sealed, key_id = c.key_id
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS c(tenant, name, from_sealed, sealed, key_id)
             WHERE s.tenant = c.tenant AND s.name = c.name AND s.sealed = c.from_sealed`,
      values: [column((c) => c.tenant), column((c) => c.name), column((c) => c.from), column((c) => c.sealed), column((c) => c.keyId)],
    });
    return written.rowCount ?? 0;
  }

}

/**
 * Inside a transaction: store a queue definition and make its tenant the owner of the name. The owner
 * row is locked first, so two tenants claiming one name at once take turns, and the second sees the
 * first's ownership. The name passes to another tenant only once no message of the queue is stored:
 * that check may scan `messages` (no index covers every state by queue, on purpose: it would cost
 * every append), and it runs only when a tenant asks for a name another one owns.
 */
export async function upsertQueueIn(tx: Queryable, queue: QueueRecord): Promise<void> {
  await tx.query({ text: 'INSERT INTO queue_owners (queue, tenant) VALUES ($1, $2) ON CONFLICT (queue) DO NOTHING', values: [queue.name, queue.tenant] });
  const owner = (await tx.query<{ tenant: string }>({ text: 'SELECT tenant FROM queue_owners WHERE queue = $1 FOR UPDATE', values: [queue.name] })).rows[0];
  if (owner && owner.tenant !== queue.tenant) {
    const stored = await tx.query({ text: 'SELECT 1 FROM messages WHERE queue = $1 LIMIT 1', values: [queue.name] });
    if (stored.rows.length > 0) throw queueNameTaken(queue.name);
    await tx.query({ text: 'UPDATE queue_owners SET tenant = $2 WHERE queue = $1', values: [queue.name, queue.tenant] });
  }
  await tx.query({
    text: `INSERT INTO queues (name, tenant, config, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, config = excluded.config`,
    values: [queue.name, queue.tenant, JSON.stringify(queue.config), queue.createdAt],
  });
}

/** Inside a transaction: every remembered file setting is replaced by these. */
export async function replaceFileSettingsIn(tx: Queryable, settings: FileSettingRecord[]): Promise<void> {
  // Nodes starting together each replace the whole set: one at a time, or both inserts would collide.
  await tx.query({ text: `SELECT pg_advisory_xact_lock(hashtext('sluice.file_settings.' || current_schema()))` });
  await tx.query({ text: 'DELETE FROM file_settings' });
  if (settings.length === 0) return;
  await tx.query({
    text: 'INSERT INTO file_settings (kind, name, setting, value) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])',
    values: (['kind', 'name', 'setting', 'value'] as const).map((field) => settings.map((setting) => setting[field])),
  });
}

/**
 * Inside a transaction (`tx`): fire one schedule tick. The compare-and-set on next_run_at and runs is
 * the UPDATE's WHERE: of two nodes firing the same tick, the second waits for the first's row lock,
 * then re-reads the row (READ COMMITTED), finds it moved and changes nothing. The tick's messages
 * are appended and counted in the same transaction, so a tick is neither lost, nor fired twice, nor
 * counted twice. `runs` counts what the tick does (its messages, unless the caller starts workflow
 * runs in the same transaction and counts those too).
 */
export async function fireScheduleIn(
  tx: Queryable,
  name: string,
  expected: ScheduleMark,
  nextRunAt: number | undefined,
  messages: NewMessage[],
  now: number,
  runs = messages.length,
): Promise<boolean> {
  const moved = await tx.query({
    text: `UPDATE schedules SET next_run_at = $4, runs = runs + $6::integer,
             last_run_at = CASE WHEN $6::integer > 0 THEN $5 ELSE last_run_at END
           WHERE name = $1 AND next_run_at = $2 AND runs = $3`,
    values: [name, expected.runAt, expected.runs, nextRunAt ?? null, now, runs],
  });
  if ((moved.rowCount ?? 0) === 0) return false;
  await appendMessages(tx, messages, now);
  return true;
}
