import type Database from 'better-sqlite3';
import { toNamedConfig, toSecret, type NamedConfigRow, type SecretRow } from '../rows.js';
import type {
  ApiKeyRecord,
  DomainLimitRecord,
  FileSettingRecord,
  QueueRecord,
  ResealedSecret,
  ScheduleMark,
  ScheduleRecord,
  SecretRecord,
  SourceRecord,
  TenantRecord,
} from '../types.js';

/**
 * The small, rarely written tables: queue definitions, tenants, API keys, domain limits, schedules,
 * sources made through the API, the vault's sealed secrets (templates and workflows: tenant-rows.ts). Plain prepared statements;
 * none of this is on a hot path.
 */
export class SqliteCatalog {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      upsertQueue: db.prepare(
        `INSERT INTO queues (name, tenant, config, created_at) VALUES (@name, @tenant, @config, @createdAt)
         ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, config = excluded.config`,
      ),
      listQueues: db.prepare('SELECT name, tenant, config, created_at FROM queues ORDER BY name'),
      deleteQueue: db.prepare('DELETE FROM queues WHERE name = ?'),
      ownerOf: db.prepare('SELECT tenant FROM queue_owners WHERE queue = ?'),
      setOwner: db.prepare('INSERT INTO queue_owners (queue, tenant) VALUES (?, ?) ON CONFLICT (queue) DO UPDATE SET tenant = excluded.tenant'),
      deleteOwner: db.prepare('DELETE FROM queue_owners WHERE queue = ?'),
      upsertTenant: db.prepare(
        `INSERT INTO tenants (name, concurrency, max_depth, max_stored_bytes, created_at)
         VALUES (@name, @concurrency, @maxDepth, @maxStoredBytes, @createdAt)
         ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, max_depth = excluded.max_depth,
                                          max_stored_bytes = excluded.max_stored_bytes`,
      ),
      listTenants: db.prepare('SELECT name, concurrency, max_depth, max_stored_bytes, created_at FROM tenants ORDER BY name'),
      addKey: db.prepare('INSERT INTO api_keys (hash, tenant, created_at, id, prefix) VALUES (@hash, @tenant, @createdAt, @id, @prefix)'),
      listKeys: db.prepare('SELECT id, hash, prefix, tenant, created_at, last_used_at FROM api_keys ORDER BY tenant, created_at, id'),
      revokeKey: db.prepare('DELETE FROM api_keys WHERE tenant = ? AND id = ? RETURNING hash'),
      touchKey: db.prepare('UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE hash = ?'),
      upsertLimit: db.prepare(
        `INSERT INTO domain_limits (key, concurrency, rate_per_second, burst) VALUES (@key, @concurrency, @ratePerSecond, @burst)
         ON CONFLICT (key) DO UPDATE SET concurrency = excluded.concurrency, rate_per_second = excluded.rate_per_second, burst = excluded.burst`,
      ),
      deleteLimit: db.prepare('DELETE FROM domain_limits WHERE key = ?'),
      listLimits: db.prepare('SELECT key, concurrency, rate_per_second, burst FROM domain_limits ORDER BY key'),
      upsertSchedule: db.prepare(
        `INSERT INTO schedules (name, tenant, spec, paused, next_run_at, last_run_at, created_at)
         VALUES (@name, @tenant, @spec, @paused, @nextRunAt, @lastRunAt, @createdAt)
         ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, spec = excluded.spec, paused = excluded.paused,
           next_run_at = excluded.next_run_at, last_run_at = excluded.last_run_at`,
      ),
      listSchedules: db.prepare('SELECT * FROM schedules ORDER BY name'),
      deleteSchedule: db.prepare('DELETE FROM schedules WHERE name = ?'),
      scheduleNextRun: db.prepare('SELECT next_run_at, runs FROM schedules WHERE name = ?'),
      // last_run_at moves only when the tick sent something (a skipped catch-up runs nothing).
      moveSchedule: db.prepare(
        `UPDATE schedules SET next_run_at = @nextRunAt, runs = runs + @count,
           last_run_at = CASE WHEN @count > 0 THEN @now ELSE last_run_at END WHERE name = @name`,
      ),
      // The owner's row only: another tenant's source of that name is left as it is (0 changes).
      upsertSource: db.prepare(
        `INSERT INTO sources (name, tenant, config, created_at) VALUES (@name, @tenant, @config, @createdAt)
         ON CONFLICT (name) DO UPDATE SET config = excluded.config WHERE sources.tenant = excluded.tenant`,
      ),
      listSources: db.prepare('SELECT name, tenant, config, created_at FROM sources ORDER BY name'),
      deleteSource: db.prepare('DELETE FROM sources WHERE name = ?'),
      upsertSecret: db.prepare(
        `INSERT INTO secrets (tenant, name, sealed, key_id, created_at, updated_at) VALUES (@tenant, @name, @sealed, @keyId, @createdAt, @updatedAt)
         ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id, updated_at = excluded.updated_at`,
      ),
      listSecrets: db.prepare('SELECT tenant, name, sealed, key_id, created_at, updated_at FROM secrets ORDER BY tenant, name'),
      deleteSecret: db.prepare('DELETE FROM secrets WHERE tenant = ? AND name = ?'),
      resealSecret: db.prepare('UPDATE secrets SET sealed = @sealed, key_id = @keyId WHERE tenant = @tenant AND name = @name AND sealed = @from'),
      listFileSettings: db.prepare('SELECT kind, name, setting, value FROM file_settings'),
      clearFileSettings: db.prepare('DELETE FROM file_settings'),
      addFileSetting: db.prepare('INSERT INTO file_settings (kind, name, setting, value) VALUES (@kind, @name, @setting, @value)'),
    };
  }

  upsertQueue(queue: QueueRecord): void {
    this.statements.upsertQueue.run({ ...queue, config: JSON.stringify(queue.config) });
  }

  listQueues(): QueueRecord[] {
    return (this.statements.listQueues.all() as NamedConfigRow[]).map(toNamedConfig);
  }

  /** Inside a transaction: the definition and the ownership of a queue go. */
  deleteQueue(name: string): boolean {
    this.statements.deleteOwner.run(name);
    return this.statements.deleteQueue.run(name).changes > 0;
  }

  /** The tenant that owns a queue name (its definition's, or that of messages stored under it). */
  ownerOf(name: string): string | undefined {
    return (this.statements.ownerOf.get(name) as { tenant: string } | undefined)?.tenant;
  }

  setOwner(name: string, tenant: string): void {
    this.statements.setOwner.run(name, tenant);
  }

  upsertTenant(tenant: TenantRecord): void {
    this.statements.upsertTenant.run({
      name: tenant.name,
      concurrency: tenant.concurrency ?? null,
      maxDepth: tenant.maxDepth ?? null,
      maxStoredBytes: tenant.maxStoredBytes ?? null,
      createdAt: tenant.createdAt,
    });
  }

  listTenants(): TenantRecord[] {
    type Row = { name: string; concurrency: number | null; max_depth: number | null; max_stored_bytes: number | null; created_at: number };
    return (this.statements.listTenants.all() as Row[]).map((row) => {
      const tenant: TenantRecord = { name: row.name, createdAt: row.created_at };
      if (row.concurrency !== null) tenant.concurrency = row.concurrency;
      if (row.max_depth !== null) tenant.maxDepth = row.max_depth;
      if (row.max_stored_bytes !== null) tenant.maxStoredBytes = row.max_stored_bytes;
      return tenant;
    });
  }

  addApiKey(key: ApiKeyRecord): void {
    this.statements.addKey.run({ hash: key.hash, tenant: key.tenant, createdAt: key.createdAt, id: key.id, prefix: key.prefix ?? null });
  }

  listApiKeys(): ApiKeyRecord[] {
    type Row = { id: string; hash: string; prefix: string | null; tenant: string; created_at: number; last_used_at: number | null };
    return (this.statements.listKeys.all() as Row[]).map((row) => {
      const key: ApiKeyRecord = { id: row.id, hash: row.hash, tenant: row.tenant, createdAt: row.created_at };
      if (row.prefix !== null) key.prefix = row.prefix;
      if (row.last_used_at !== null) key.lastUsedAt = row.last_used_at;
      return key;
    });
  }

  revokeApiKey(tenant: string, id: string): string | undefined {
    return (this.statements.revokeKey.get(tenant, id) as { hash: string } | undefined)?.hash;
  }

  touchApiKeys(used: { hash: string; at: number }[]): void {
    for (const { hash, at } of used) this.statements.touchKey.run(at, hash);
  }

  upsertDomainLimit(limit: DomainLimitRecord): void {
    this.statements.upsertLimit.run({
      key: limit.key,
      concurrency: limit.concurrency ?? null,
      ratePerSecond: limit.ratePerSecond ?? null,
      burst: limit.burst ?? null,
    });
  }

  deleteDomainLimit(key: string): boolean {
    return this.statements.deleteLimit.run(key).changes > 0;
  }

  listDomainLimits(): DomainLimitRecord[] {
    type Row = { key: string; concurrency: number | null; rate_per_second: number | null; burst: number | null };
    return (this.statements.listLimits.all() as Row[]).map((row) => {
      const limit: DomainLimitRecord = { key: row.key };
      if (row.concurrency !== null) limit.concurrency = row.concurrency;
      if (row.rate_per_second !== null) limit.ratePerSecond = row.rate_per_second;
      if (row.burst !== null) limit.burst = row.burst;
      return limit;
    });
  }

  upsertSchedule(schedule: ScheduleRecord): void {
    this.statements.upsertSchedule.run({
      name: schedule.name,
      tenant: schedule.tenant,
      spec: JSON.stringify(schedule.spec),
      paused: schedule.paused ? 1 : 0,
      nextRunAt: schedule.nextRunAt ?? null,
      lastRunAt: schedule.lastRunAt ?? null,
      createdAt: schedule.createdAt,
    });
  }

  listSchedules(): ScheduleRecord[] {
    type Row = { name: string; tenant: string; spec: string; paused: number; next_run_at: number | null; last_run_at: number | null; created_at: number; runs: number };
    return (this.statements.listSchedules.all() as Row[]).map((row) => {
      const schedule: ScheduleRecord = {
        name: row.name,
        tenant: row.tenant,
        spec: JSON.parse(row.spec) as unknown,
        paused: row.paused === 1,
        createdAt: row.created_at,
        runs: row.runs,
      };
      if (row.next_run_at !== null) schedule.nextRunAt = row.next_run_at;
      if (row.last_run_at !== null) schedule.lastRunAt = row.last_run_at;
      return schedule;
    });
  }

  deleteSchedule(name: string): boolean {
    return this.statements.deleteSchedule.run(name).changes > 0;
  }

  /** False, changing nothing, when the name is another tenant's source. */
  upsertSource(source: SourceRecord): boolean {
    return this.statements.upsertSource.run({ ...source, config: JSON.stringify(source.config) }).changes > 0;
  }

  listSources(): SourceRecord[] {
    return (this.statements.listSources.all() as NamedConfigRow[]).map(toNamedConfig);
  }

  deleteSource(name: string): boolean {
    return this.statements.deleteSource.run(name).changes > 0;
  }

  upsertSecret(secret: SecretRecord): void {
    this.statements.upsertSecret.run(secret);
  }

  listSecrets(): SecretRecord[] {
    return (this.statements.listSecrets.all() as SecretRow[]).map(toSecret);
  }

  deleteSecret(tenant: string, name: string): boolean {
    return this.statements.deleteSecret.run(tenant, name).changes > 0;
  }

  /** In one transaction: each new seal where the row still holds the one it was made from. */
  resealSecrets(changes: ResealedSecret[]): number {
    return this.db.transaction(() => changes.reduce((written, change) => written + this.statements.resealSecret.run(change).changes, 0))();
  }

  listFileSettings(): FileSettingRecord[] {
    return this.statements.listFileSettings.all() as FileSettingRecord[];
  }

  replaceFileSettings(settings: FileSettingRecord[]): void {
    this.db.transaction(() => {
      this.statements.clearFileSettings.run();
      for (const setting of settings) this.statements.addFileSetting.run(setting);
    })();
  }

  /**
   * Inside a transaction: move a schedule on and count `count` runs, if it is still as the caller
   * read it (its next run and its count).
   */
  advanceSchedule(name: string, expected: ScheduleMark, nextRunAt: number | undefined, count: number, now: number): boolean {
    const row = this.statements.scheduleNextRun.get(name) as { next_run_at: number | null; runs: number } | undefined;
    if (!row || row.next_run_at !== expected.runAt || row.runs !== expected.runs) return false;
    this.statements.moveSchedule.run({ nextRunAt: nextRunAt ?? null, count, now, name });
    return true;
  }
}
